package swr

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
)

// repositoriesPath is the repository listing's path below the endpoint.
const repositoriesPath = "/v2/manage/repos"

// ListRepositories returns the repositories of an organization, calling
// GET {endpoint}/v2/manage/repos?namespace={organization}&limit={pageSize}&offset={k} page after
// page. pageSize is DefaultRepositoryPageSize when 0 or less and at most MaxRepositoriesPerPage.
//
// SWR's namespace parameter is a fuzzy match: asked for "org", it also lists the repositories of
// "org-2". Only those whose namespace is exactly the organization are kept, each name once even
// if SWR listed it on two pages. The offset advances by the number of entries each page held,
// not by pageSize, so that a server capping its pages below pageSize is still read in full.
// Paging stops when the offset reaches the total SWR reports (the Content-Range header, else the
// entries' total_range), on an empty page, or, when SWR reports no total, on a page shorter than
// pageSize. At MaxRepositoryPages pages it stops without an error and with Complete false; see
// RepositoryListing.Complete for the other reasons a listing may be incomplete.
//
// Every page takes the shared request path of ListSyncRepos: the rate limit, authentication, the
// one retry after a 401 with a refreshable token, the size limit (per page) and the error
// classes. Each page is bounded by ctx, or by DefaultTimeout if ctx has no deadline, so a
// caller listing a large organization should set a deadline for the whole listing. An invalid
// organization or endpoint is refused with ClassBadRequest before anything is sent. A page that
// cannot be trusted (not a JSON array, null, an entry without a non-empty string name or without
// a namespace, a known field of the wrong type) is ClassBadBody. On any error no repositories are returned: a listing
// that failed midway must not pass for a short one.
func (c *Client) ListRepositories(ctx context.Context, t OrganizationTarget, auth Authenticator, pageSize int) (RepositoryListing, error) {
	if pageSize <= 0 {
		pageSize = DefaultRepositoryPageSize
	}
	pageSize = min(pageSize, MaxRepositoriesPerPage)
	maxPages := cmp.Or(c.maxRepositoryPages, MaxRepositoryPages)
	nameErrs := []error{ValidateOrganization(t.Organization)}

	var (
		kept   = make(map[string]Repository)
		listed = make(map[namespacedName]struct{}) // every entry of every page, whatever its namespace
		offset int64
		total  int64 = -1 // the last total SWR reported
		// shifted records a total that changed between pages: the list moved under the paging.
		shifted bool
		pages   int
	)
	for pages < maxPages {
		query := url.Values{
			"namespace": {t.Organization},
			"limit":     {strconv.Itoa(pageSize)},
			"offset":    {strconv.FormatInt(offset, 10)},
		}
		ex, err := c.get(ctx, t.Endpoint, t.CABundle, auth, nameErrs, func(endpoint *url.URL) string {
			return apiURL(endpoint, repositoriesPath, query)
		})
		if err != nil {
			return RepositoryListing{}, err
		}
		page, totalRange, err := decodeRepositories(ex.body)
		if err != nil {
			return RepositoryListing{}, ex.badBody(err)
		}
		pages++

		pageTotal := contentRangeTotal(ex.resp.Header.Get("Content-Range"), len(page))
		if pageTotal < 0 {
			pageTotal = totalRange
		}
		if pageTotal >= 0 {
			shifted = shifted || total >= 0 && pageTotal != total
			total = pageTotal
		}
		for i, r := range page {
			if r.Namespace == "" {
				// The exact filter would drop it silently: a server leaving the namespace out would
				// yield an empty listing that looks complete, and the caller would delete everything.
				err := fmt.Errorf("entry %d (%q) has no namespace, so it cannot be told from another organization's",
					i, sanitize(r.Name, maxMessageRunes))
				return RepositoryListing{}, ex.badBody(err)
			}
			listed[namespacedName{r.Namespace, r.Name}] = struct{}{}
			if _, dup := kept[r.Name]; r.Namespace == t.Organization && !dup {
				kept[r.Name] = r
			}
		}
		offset += int64(len(page))
		if len(page) == 0 || total >= 0 && offset >= total || total < 0 && len(page) < pageSize {
			return RepositoryListing{
				Repositories: sortedByName(kept),
				Pages:        pages,
				// Every entry the total counts must have been read once: fewer means some slipped
				// past the paging or the server stopped early, more means the total is wrong.
				Complete: !shifted && (total < 0 || int64(len(listed)) == total),
			}, nil
		}
	}
	return RepositoryListing{Repositories: sortedByName(kept), Pages: pages, Complete: false}, nil
}

// namespacedName identifies an entry of the repository listing across organizations.
type namespacedName struct{ namespace, name string }

// sortedByName returns the repositories in name order, an empty non-nil slice for none, so that
// two listings of the same organization compare equal whatever order SWR paged them in.
func sortedByName(repos map[string]Repository) []Repository {
	out := make([]Repository, 0, len(repos))
	for _, r := range repos {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Repository) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
