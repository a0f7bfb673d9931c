package swr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultMaxResponseBytes is the largest response body the client reads unless
// WithMaxResponseBytes says otherwise. A full listing of 100 policies is about 40 KiB, so 4 MiB
// leaves ample room while bounding the memory a misbehaving server can claim.
const DefaultMaxResponseBytes int64 = 4 << 20

// DefaultUserAgent is the User-Agent the client sends unless WithUserAgent says otherwise.
const DefaultUserAgent = "swr-sync-operator"

// DefaultTimeout bounds a request whose context has no deadline, so that a forgotten deadline
// cannot stall a caller forever on a server that accepts the connection and never answers.
const DefaultTimeout = 30 * time.Second

// Client talks to the SWR API. It is safe for concurrent use; create one and share it, so that
// connections are reused.
type Client struct {
	httpClient       *http.Client
	maxResponseBytes int64
	userAgent        string
	observe          func(statusCode int, err error)
	// limits paces requests per endpoint host (WithRateLimit); nil sends at once.
	limits *hostLimits
	// trusted holds the clients for targets with their own CA bundle.
	trusted trustedClients
	// maxRepositoryPages is ListRepositories' page bound; 0 means MaxRepositoryPages. Only tests
	// lower it, to check the bound without thousands of requests.
	maxRepositoryPages int
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests through hc, e.g. one whose transport trusts a
// private CA. The client works on a shallow copy whose CheckRedirect refuses every redirect,
// whatever hc says: SWR has no reason to redirect, and following one would send the
// credentials to wherever the Location header points. A nil hc is ignored.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = noRedirects(hc)
		}
	}
}

// WithMaxResponseBytes sets the largest response body the client reads; a larger 2xx body is
// a ClassBadBody error. Values below 1 are ignored.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxResponseBytes = n
		}
	}
}

// WithUserAgent sets the User-Agent header, e.g. "swr-sync-operator/v0.3.0". An empty value is
// ignored.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithRequestObserver makes the client call fn once after every HTTP request it sends to SWR,
// including the retry after a 401, e.g. to count requests by status class in metrics. statusCode
// is the response's status, or 0 when no response arrived (a network error, a timeout); err is
// nil once the whole body was read, and otherwise the *Error the attempt failed with, which names
// no credential. Requests that are never sent (invalid names, credentials that cannot be obtained)
// are not observed; IAM token requests have WithTokenRequestObserver. fn runs on the caller's
// goroutine, concurrently for concurrent calls, so it must be quick and safe for concurrent use.
// A nil fn is ignored.
func WithRequestObserver(fn func(statusCode int, err error)) Option {
	return func(c *Client) {
		if fn != nil {
			c.observe = fn
		}
	}
}

// NewClient returns a Client. Without WithHTTPClient it uses its own transport: TLS
// certificates are verified against the system roots (TLS 1.2 or later), proxies come from the
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment variables, connecting and the TLS handshake
// are bounded, and redirects are refused. How long a request may take as a whole is the
// caller's context's business.
func NewClient(opts ...Option) *Client {
	c := &Client{
		httpClient:       noRedirects(&http.Client{Transport: newTransport()}),
		maxResponseBytes: DefaultMaxResponseBytes,
		userAgent:        DefaultUserAgent,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// newTransport returns the default transport. The timeouts bound the phases a context deadline
// would otherwise have to catch one by one; the response itself is bounded by the context.
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		// One endpoint is usually all there is, polled by every worker at once: over HTTP/1.1
		// (a proxy, a gateway) fewer idle connections than workers would close and reopen
		// connections, each a TLS handshake, at every cold start.
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		ForceAttemptHTTP2:   true,
	}
}

// noRedirects returns a shallow copy of hc that hands a 3xx response back instead of following
// it. Net/http would strip Authorization on a cross-host redirect, but not X-Auth-Token or
// signature headers.
func noRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// ListSyncRepos returns the automatic sync policies of a repository, calling
// GET {endpoint}/v2/manage/namespaces/{organization}/repos/{repository}/sync_repo with every '/'
// of the repository replaced by '$'.
//
// Every failure is an *Error. Invalid names or an invalid endpoint are refused with
// ClassBadRequest before anything is sent. A listing that cannot be trusted (not a JSON array,
// an entry without an integer id, duplicate ids, a body over the size limit) is ClassBadBody:
// on any error the caller must not conclude that a policy is gone. SWR documents returning at
// most MaxSyncReposPerList policies. The request is bounded by ctx, or by DefaultTimeout if ctx
// has no deadline; the deadline covers everything, including obtaining an IAM token and the one
// retry below.
//
// When SWR answers 401 and auth holds a cached token that can be refreshed (PasswordAuth), the
// token is dropped and the request is sent once more with a new one; a second 401 is returned as
// ClassUnauthorized. Other Authenticators are not retried.
func (c *Client) ListSyncRepos(ctx context.Context, t Target, auth Authenticator) ([]SyncRepo, error) {
	ex, err := c.getRepositoryResource(ctx, t, auth, "sync_repo", nil)
	if err != nil {
		return nil, err
	}
	repos, err := decodeSyncRepos(ex.body)
	if err != nil {
		return nil, ex.badBody(err)
	}
	return repos, nil
}

// getRepositoryResource sends GET {endpoint}/v2/manage/namespaces/{organization}/repos/{repository}/{resource}
// with query, and returns the 2xx answer whose body was read in full and within the size limit.
// See get for what every SWR call shares.
func (c *Client) getRepositoryResource(ctx context.Context, t Target, auth Authenticator, resource string, query url.Values) (*exchanged, error) {
	names := []error{ValidateOrganization(t.Organization), ValidateRepository(t.Repository)}
	return c.get(ctx, t.Endpoint, t.CABundle, auth, names, func(endpoint *url.URL) string {
		return repositoryResourceURL(endpoint, t.Organization, t.Repository, resource, query)
	})
}

// get sends one GET to the SWR API and returns the 2xx answer whose body was read in full and
// within the size limit. Everything the SWR calls share happens here, so that they validate,
// time out, authenticate, retry and classify failures alike: see ListSyncRepos for what that
// means. nameErrs are the results of validating the names the call carries; the first non-nil
// one refuses the call before anything is sent. target builds the request URL from the parsed
// endpoint.
func (c *Client) get(ctx context.Context, endpointURL string, caBundle []byte, auth Authenticator,
	nameErrs []error, target func(endpoint *url.URL) string) (*exchanged, error) {
	endpoint, err := parseEndpoint(endpointURL)
	if err != nil {
		return nil, &Error{Class: ClassBadRequest, Message: err.Error(), Err: err}
	}
	host := endpoint.Host
	for _, err := range nameErrs {
		if err != nil {
			return nil, &Error{Class: ClassBadRequest, Host: host, Message: err.Error(), Err: err}
		}
	}
	if auth == nil {
		err := errors.New("no SWR credentials configured")
		return nil, &Error{Class: ClassUnauthorized, Host: host, Message: err.Error(), Err: err}
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		// Cancelling on return is safe: exchange has read and closed the body by then.
		defer cancel()
	}
	requestURL := target(endpoint)
	hc, err := c.httpClientFor(caBundle)
	if err != nil {
		return nil, &Error{Class: ClassBadRequest, Host: host, Message: err.Error(), Err: err}
	}
	ex, err := c.exchange(ctx, hc, host, requestURL, auth)
	if err != nil {
		return nil, err
	}
	if ex.status == http.StatusUnauthorized {
		// A cached IAM token may have been revoked early (a password or permission change does
		// that within 30 minutes). Dropping exactly the token this request carried and asking
		// once more costs one IAM request; a second 401 means the credentials themselves are
		// refused, and retrying again would only hammer IAM.
		if inv, ok := auth.(tokenInvalidator); ok {
			inv.invalidate(ex.req)
			if ex, err = c.exchange(ctx, hc, host, requestURL, auth); err != nil {
				return nil, err
			}
		}
	}

	if ex.status < 200 || ex.status > 299 {
		return nil, responseError(ex.resp, host, ex.body)
	}
	if ex.tooLarge {
		return nil, &Error{Class: ClassBadBody, StatusCode: ex.status, Host: host,
			Message: "response body exceeds " + formatBytes(c.maxResponseBytes)}
	}
	return ex, nil
}

// tokenInvalidator is implemented by Authenticators whose credentials are cached tokens that the
// server may revoke before they expire. Static tokens and AK/SK signatures do not implement it:
// asking again would send the same credentials.
type tokenInvalidator interface {
	// invalidate forgets the token req carried, unless another request has already replaced it.
	invalidate(req *http.Request)
}

// exchanged is one request sent and its response read.
type exchanged struct {
	host     string
	req      *http.Request
	resp     *http.Response // its body is already read and closed
	status   int
	body     []byte
	tooLarge bool
}

// badBody is the error for a response whose body could not be decoded.
func (ex *exchanged) badBody(err error) *Error {
	return &Error{Class: ClassBadBody, StatusCode: ex.status, Host: ex.host, Message: err.Error(), Err: err}
}

// exchange builds a GET request for target, authenticates it, sends it and reads the body. Each
// call builds a new request, so that a retry never reuses headers from an earlier attempt.
func (c *Client) exchange(ctx context.Context, hc *http.Client, host, target string, auth Authenticator) (*exchanged, error) {
	// The turn comes before authenticating, so that a signature or token is fresh when sent.
	if err := c.limits.wait(ctx, host); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
	if err != nil {
		return nil, &Error{Class: ClassBadRequest, Host: host, Message: "cannot build the request", Err: err}
	}
	// SWR marks Content-Type mandatory even on a GET without a body.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if err := auth.Authenticate(req); err != nil {
		if swrErr, ok := errors.AsType[*Error](err); ok {
			return nil, swrErr
		}
		return nil, &Error{Class: ClassUnauthorized, Host: host,
			Message: "cannot authenticate the request: " + sanitize(err.Error(), maxMessageRunes), Err: err}
	}

	resp, err := hc.Do(req)
	if err != nil {
		swrErr := transportError(ctx, host, err)
		c.observed(0, swrErr)
		return nil, swrErr
	}
	defer func() { _ = resp.Body.Close() }()
	body, tooLarge, err := readBody(resp.Body, c.maxResponseBytes)
	if err != nil {
		swrErr := transportError(ctx, host, err)
		c.observed(resp.StatusCode, swrErr)
		return nil, swrErr
	}
	c.observed(resp.StatusCode, nil)
	return &exchanged{host: host, req: req, resp: resp, status: resp.StatusCode, body: body, tooLarge: tooLarge}, nil
}

// observed reports one attempt to the WithRequestObserver function, if any. It takes an *Error
// rather than an error so that a nil one reaches fn as a nil interface, not a typed nil.
func (c *Client) observed(statusCode int, err *Error) {
	switch {
	case c.observe == nil:
	case err == nil:
		c.observe(statusCode, nil)
	default:
		c.observe(statusCode, err)
	}
}

// parseEndpoint checks that endpoint is an absolute http or https URL that can serve as a base
// for SWR calls.
func parseEndpoint(endpoint string) (*url.URL, error) {
	return parseBaseURL("SWR", endpoint, "https://swr-api.ap-southeast-1.myhuaweicloud.com")
}

// parseBaseURL checks that endpoint is an absolute http or https URL that can serve as the base
// of the service's calls; service and example only word the message. User information is
// refused so that no password can travel in a URL into an error message.
func parseBaseURL(service, endpoint, example string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	switch {
	case err != nil, u.Host == "", u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("the %s endpoint must be an absolute http or https URL, e.g. %s", service, example)
	case u.User != nil:
		return nil, fmt.Errorf("the %s endpoint must not contain user information", service)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("the %s endpoint must not have a query or fragment", service)
	}
	return u, nil
}

// repositoryResourceURL builds the URL of one of a repository's collections, e.g. sync_repo. Each
// segment is escaped on its own; '$' is a legal path character, so "library$nginx" goes on the
// wire unchanged, as SWR wants it.
func repositoryResourceURL(endpoint *url.URL, organization, repository, resource string, query url.Values) string {
	return apiURL(endpoint, "/v2/manage/namespaces/"+url.PathEscape(organization)+
		"/repos/"+url.PathEscape(EncodeRepository(repository))+
		"/"+resource, query)
}

// apiURL appends escapedPath, already escaped, to the endpoint's own path and sets the query. The
// query is encoded by url.Values, which escapes every reserved character, so a filter's '|' and
// ':' travel as %7C and %3A, as the vendor SDK sends them.
func apiURL(endpoint *url.URL, escapedPath string, query url.Values) string {
	u := *endpoint
	escaped := strings.TrimRight(endpoint.EscapedPath(), "/") + escapedPath
	// RawPath keeps the prefix spelled as the user wrote it; Path is its decoded twin, which
	// URL.String checks RawPath against.
	u.RawPath = escaped
	u.Path, _ = url.PathUnescape(escaped) // cannot fail: every part is validly escaped
	u.RawQuery = query.Encode()
	return u.String()
}

// readBody reads at most limit bytes and reports whether there was more. Reading one byte past
// the limit tells a body of exactly limit bytes from a larger one.
func readBody(r io.Reader, limit int64) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], true, err
	}
	return body, false, err
}

// responseError builds the error for a non-2xx SWR response.
func responseError(resp *http.Response, host string, body []byte) *Error {
	code, message := parseErrorBody(body)
	return statusError(resp, host, classify(resp.StatusCode, code), code, message)
}

// statusError builds the error of the given class for a non-2xx response whose body said code
// and message, for SWR and IAM alike.
func statusError(resp *http.Response, host string, class Class, code, message string) *Error {
	e := &Error{
		Class:      class,
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    message,
		Host:       host,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && message == "" {
		// The Location is not quoted: it is the server's to choose and may carry anything.
		e.Message = "redirects are not followed"
	}
	return e
}

// parseRetryAfter reads a Retry-After header: a number of seconds or an HTTP date. A missing,
// malformed or past value yields 0.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(max(secs, 0), maxSecs)) * time.Second
	}
	if when, err := http.ParseTime(value); err == nil && when.After(now) {
		return when.Sub(now)
	}
	return 0
}

// transportError classifies a failure to exchange a request: a timeout, or a network problem
// described in a few words.
func transportError(ctx context.Context, host string, err error) *Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return &Error{Class: ClassTimeout, Host: host, Err: joinCause(ctxErr, err)}
		}
		// Cancellation means the caller gave up (e.g. shutdown); it is not SWR's fault, but no
		// class fits better than "could not talk to SWR".
		return &Error{Class: ClassNetwork, Host: host, Message: "request cancelled", Err: joinCause(ctxErr, err)}
	}
	if netErr, ok := errors.AsType[net.Error](err); ok && netErr.Timeout() {
		return &Error{Class: ClassTimeout, Host: host, Message: describeNetworkError(err), Err: err}
	}
	return &Error{Class: ClassNetwork, Host: host, Message: describeNetworkError(err), Err: err}
}

// joinCause wraps both the context error and the transport error, so that errors.Is finds
// context.DeadlineExceeded even when net/http reports the failure in its own words.
func joinCause(ctxErr, err error) error {
	if errors.Is(err, ctxErr) {
		return err
	}
	return fmt.Errorf("%w: %w", ctxErr, err)
}

// describeNetworkError says in a few words why no response arrived. The common causes get a
// fixed phrase; anything else falls back to the innermost message, which for net/http and
// crypto/tls errors names addresses and certificates but never request headers.
func describeNetworkError(err error) string {
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		if dnsErr.IsNotFound {
			return "DNS lookup of " + dnsErr.Name + " failed: no such host"
		}
		return "DNS lookup of " + dnsErr.Name + " failed"
	}
	if certErr, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return "TLS certificate verification failed: " + sanitize(certErr.Err.Error(), maxMessageRunes)
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return "TLS certificate verification failed: certificate signed by unknown authority"
	}
	if hostErr, ok := errors.AsType[x509.HostnameError](err); ok {
		return "TLS certificate verification failed: " + sanitize(hostErr.Error(), maxMessageRunes)
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return "TLS handshake failed: the server did not answer with TLS"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server before the response was complete"
	}
	inner := err
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		inner = urlErr.Err
	}
	return sanitize(inner.Error(), maxMessageRunes)
}

// formatBytes renders a size for a message, e.g. "4 MiB".
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
