package swrtest

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// repositoriesPath is the repository listing's path.
const repositoriesPath = "/v2/manage/repos"

// Paging of the repository listing, as SWR documents it.
const (
	defaultRepositoryLimit = 100
	maxRepositoryLimit     = 1000
)

// SetRepositories replaces the organization's repository listing with a copy of repos, kept in
// name order, and makes each repository exist for the policy and job listings as SetPolicies
// does, keeping the policies and jobs it already has. An empty Namespace is filled in with the
// organization; anything else is stored exactly as given, so a test can store the same name twice
// or a repository whose Namespace is not the organization, as a misbehaving server would list
// them. With no repos the organization lists none. Repositories made only by SetPolicies or
// SetSyncJobs are not listed: the listing holds what the test put there, details and all.
func (s *Server) SetRepositories(organization string, repos ...swr.Repository) {
	stored := make([]swr.Repository, len(repos))
	for i, r := range repos {
		r.Tags = slices.Clone(r.Tags)
		if r.Namespace == "" {
			r.Namespace = organization
		}
		stored[i] = r
	}
	slices.SortStableFunc(stored, func(a, b swr.Repository) int { return cmp.Compare(a.Name, b.Name) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repositoryLists[organization] = stored
	for _, r := range stored {
		s.updateRepositoryLocked(organization, r.Name, func(*repoState) {})
	}
}

// Repositories returns a copy of the organization's repository listing in name order, or nil if
// SetRepositories never named the organization.
func (s *Server) Repositories(organization string) []swr.Repository {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.repositoryLists[organization]
	if list == nil {
		return nil
	}
	out := make([]swr.Repository, len(list))
	for i, r := range list {
		r.Tags = slices.Clone(r.Tags)
		out[i] = r
	}
	return out
}

// SetRepositoryListFault makes repository listings that ask for the organization (their
// namespace parameter, exactly as sent) fail as f says until ClearRepositoryListFault, whatever
// the other listings' faults say. An empty organization applies to every repository listing; the
// organization's own fault wins over it. A Fault with only a Header or InflateTotal lets the
// normal answer through, changed as they say; a Content-Range in Header replaces the server's
// own.
func (s *Server) SetRepositoryListFault(organization string, f Fault) {
	setFault(s, s.repositoryListFaults, organization, f)
}

// ClearRepositoryListFault removes the fault SetRepositoryListFault set for exactly this
// organization.
func (s *Server) ClearRepositoryListFault(organization string) {
	clearFault(s, s.repositoryListFaults, organization)
}

// RepositoryListRequestCount returns how many repository listing requests (any method) asked for
// exactly this namespace.
func (s *Server) RepositoryListRequestCount(organization string) int {
	return s.countRequests(RequestKindRepositories, organization, "")
}

// wireRepository is one entry of the repository listing as SWR sends it: the fields swr.Repository
// keeps, the ones it ignores (left at their zero values, except the image paths) and the total,
// repeated in every entry.
type wireRepository struct {
	swr.Repository
	Description  string `json:"description"`
	Size         int64  `json:"size"`
	IsPublic     bool   `json:"is_public"`
	NumDownload  int64  `json:"num_download"`
	URL          string `json:"url"`
	Path         string `json:"path"`
	InternalPath string `json:"internal_path"`
	DomainName   string `json:"domain_name"`
	Status       bool   `json:"status"`
	TotalRange   int64  `json:"total_range"`
}

// repositoryListQuery is the parsed query of a repository listing.
type repositoryListQuery struct {
	namespace     string
	limit, offset int
}

// parseRepositoryListQuery reads the query of a repository listing and returns a problem to answer
// 400 with, or "". namespace, limit and offset are understood, each at most once; limit defaults
// to 100 and is at most 1000, and offset must come with limit, as SWR documents. Every other
// parameter is refused, the documented ones swrtest does not implement (name, category,
// order_column, order_type, filter) included, so that a client sending one learns it in a test
// instead of getting an answer that silently ignores it.
func parseRepositoryListQuery(rawQuery string) (repositoryListQuery, string) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return repositoryListQuery{}, "the query is malformed"
	}
	// Sorted, so that a query with two problems always names the same one.
	for _, key := range slices.Sorted(maps.Keys(values)) {
		switch {
		case key != "namespace" && key != "limit" && key != "offset":
			return repositoryListQuery{}, fmt.Sprintf("parameter %q is not supported by swrtest", key)
		case len(values[key]) > 1:
			return repositoryListQuery{}, fmt.Sprintf("parameter %q is given more than once", key)
		}
	}
	q := repositoryListQuery{namespace: values.Get("namespace"), limit: defaultRepositoryLimit}
	if values.Has("limit") {
		if q.limit, err = strconv.Atoi(values.Get("limit")); err != nil || q.limit < 1 || q.limit > maxRepositoryLimit {
			return repositoryListQuery{}, fmt.Sprintf("limit %q is not an integer from 1 to %d", values.Get("limit"), maxRepositoryLimit)
		}
	}
	if values.Has("offset") {
		if !values.Has("limit") {
			return repositoryListQuery{}, "offset must come with limit"
		}
		if q.offset, err = strconv.Atoi(values.Get("offset")); err != nil || q.offset < 0 {
			return repositoryListQuery{}, fmt.Sprintf("offset %q is not a non-negative integer", values.Get("offset"))
		}
	}
	return q, ""
}

// matchingRepositoriesLocked returns the repositories of every organization whose name contains
// namespace, as SWR's fuzzy match does (an empty namespace matches all), sorted by name and then
// organization. The caller holds s.mu; the result shares no memory with the server's state.
func (s *Server) matchingRepositoriesLocked(namespace string) []swr.Repository {
	var out []swr.Repository
	for organization, list := range s.repositoryLists {
		if strings.Contains(organization, namespace) {
			for _, r := range list {
				r.Tags = slices.Clone(r.Tags)
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b swr.Repository) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Namespace, b.Namespace))
	})
	return out
}

// repositoryPage renders the page q selects from matching, with the total (plus inflate) in every
// entry, and returns it with its Content-Range header.
func repositoryPage(host string, matching []swr.Repository, q repositoryListQuery, inflate int) (body, contentRangeHeader string) {
	total := len(matching) + inflate
	start := min(q.offset, len(matching))
	end := start + min(q.limit, len(matching)-start)
	page := make([]wireRepository, 0, end-start)
	for _, r := range matching[start:end] {
		path := host + "/" + r.Namespace + "/" + r.Name
		page = append(page, wireRepository{Repository: r, Path: path, InternalPath: path, TotalRange: int64(total)})
	}
	return mustJSON(page), contentRange(q.offset, len(page), total)
}

// serveRepositories answers GET /v2/manage/repos: faults first, then authentication and the
// Content-Type, then the query.
func (s *Server) serveRepositories(w http.ResponseWriter, r *http.Request) {
	namespace := ""
	if values, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		namespace = values.Get("namespace")
	}
	s.record(r, RequestKindRepositories, namespace, "")
	body, ok := readGET(w, r)
	if !ok {
		return
	}
	q, problem := parseRepositoryListQuery(r.URL.RawQuery)

	s.mu.Lock()
	fault, faulty := s.repositoryListFaults[namespace]
	if !faulty {
		fault, faulty = s.repositoryListFaults[""]
	}
	matching := s.matchingRepositoriesLocked(q.namespace)
	s.mu.Unlock()

	page, pageRange := repositoryPage(r.Host, matching, q, fault.InflateTotal)
	if problem != "" {
		page = "[]" // a drip or reset fault sends no page for a query SWR would refuse
	}
	if faulty && s.serveFault(w, r, fault, func() []byte { return []byte(page) }) {
		return
	}
	if !s.admitted(w, r, body) {
		return
	}
	if problem != "" {
		writeBody(w, http.StatusBadRequest, "application/json", NewErrorBody(CodeBadRequest, problem))
		return
	}
	// A header-only fault may have set its own Content-Range, to test a garbled one.
	if w.Header().Get("Content-Range") == "" {
		w.Header().Set("Content-Range", pageRange)
	}
	writeBody(w, http.StatusOK, "application/json", page)
}
