package swr

// WithMaxRepositoryPages lowers ListRepositories' page bound, so that a test of the bound need
// not send MaxRepositoryPages requests. It exists only in test builds.
func WithMaxRepositoryPages(n int) Option {
	return func(c *Client) { c.maxRepositoryPages = n }
}
