package swr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// listRepos calls ListRepositories with a generous deadline, so that a hang fails the test
// instead of stalling it.
func listRepos(t testing.TB, c *swr.Client, target swr.OrganizationTarget, auth swr.Authenticator, pageSize int) (swr.RepositoryListing, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.ListRepositories(ctx, target, auth, pageSize)
}

// sampleRepositories are acme's repositories, out of name order, one with a '/' in its name.
func sampleRepositories() []swr.Repository {
	return []swr.Repository{
		{Name: "tools", Namespace: org, Category: "other", NumImages: 1, Tags: []string{"v1"},
			CreatedAt: "2024-01-01T00:00:00Z", UpdatedAt: "2024-01-02T00:00:00Z"},
		{Name: "library/nginx", Namespace: org, Category: "linux", NumImages: 2, Tags: []string{"1.25", "1.27"},
			CreatedAt: "2024-01-03T00:00:00.5Z", UpdatedAt: "2024-01-04T00:00:00Z"},
		{Name: "library/redis", Namespace: org, Category: "linux"},
	}
}

// newRepositoryFixture starts a swrtest server where acme lists the sample repositories and acme-2,
// whose name contains acme, lists two more, one of them with a name acme also has.
func newRepositoryFixture(t testing.TB) (*swrtest.Server, *swr.Client, swr.OrganizationTarget, *swr.TokenAuth) {
	t.Helper()
	srv, c, _, auth := newFixture(t)
	srv.SetRepositories(org, sampleRepositories()...)
	srv.SetRepositories(org+"-2", swr.Repository{Name: "tools", Category: "impostor"}, swr.Repository{Name: "apps"})
	return srv, c, swr.OrganizationTarget{Endpoint: srv.URL(), Organization: org}, auth
}

// sampleListing is the sample repositories in name order.
func sampleListing() []swr.Repository {
	r := sampleRepositories()
	return []swr.Repository{r[1], r[2], r[0]}
}

func TestListRepositories(t *testing.T) {
	srv, c, target, auth := newRepositoryFixture(t)
	// The fuzzy listing holds apps, library/nginx, library/redis, tools (acme), tools (acme-2).
	got, err := listRepos(t, c, target, auth, 2)
	if err != nil {
		t.Fatalf("ListRepositories() error = %v", err)
	}
	want := swr.RepositoryListing{Repositories: sampleListing(), Pages: 3, Complete: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListRepositories() =\n%+v\nwant\n%+v", got, want)
	}

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		checks := []struct{ name, got, want string }{
			{"kind", r.Kind, swrtest.RequestKindRepositories},
			{"method", r.Method, http.MethodGet},
			{"path", r.Path, "/v2/manage/repos"},
			{"query", r.Query, "limit=2&namespace=acme&offset=" + strconv.Itoa(2*i)},
			{"organization", r.Organization, org},
			{"Content-Type", r.ContentType, "application/json"},
			{"Accept", r.Accept, "application/json"},
			{"User-Agent", r.UserAgent, swr.DefaultUserAgent},
			{"auth kind", r.AuthKind, swrtest.AuthKindToken},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("request %d %s = %q, want %q", i, ch.name, ch.got, ch.want)
			}
		}
	}
	if n := srv.RepositoryListRequestCount(org); n != 3 {
		t.Errorf("RepositoryListRequestCount = %d, want 3", n)
	}
}

func TestListRepositoriesFuzzyNamespace(t *testing.T) {
	srv, c, _, auth := newFixture(t)
	srv.SetRepositories("org", swr.Repository{Name: "a"}, swr.Repository{Name: "shared/b", Category: "mine"})
	srv.SetRepositories("org-2", swr.Repository{Name: "shared/b", Category: "theirs"}, swr.Repository{Name: "c"})
	srv.SetRepositories("my-org", swr.Repository{Name: "d"})
	for _, pageSize := range []int{1, 2, 100} {
		got, err := listRepos(t, c, swr.OrganizationTarget{Endpoint: srv.URL(), Organization: "org"}, auth, pageSize)
		if err != nil {
			t.Fatal(err)
		}
		want := []swr.Repository{{Name: "a", Namespace: "org"}, {Name: "shared/b", Namespace: "org", Category: "mine"}}
		if !reflect.DeepEqual(got.Repositories, want) || !got.Complete {
			t.Errorf("page size %d: ListRepositories(org) = %+v, want only org's %+v, complete", pageSize, got, want)
		}
	}
}

func TestListRepositoriesEmpty(t *testing.T) {
	srv, c, _, auth := newFixture(t)
	srv.SetRepositories("acme-2", swr.Repository{Name: "elsewhere"}) // listed by the fuzzy match, then filtered
	for _, organization := range []string{"acme", "nobody"} {
		got, err := listRepos(t, c, swr.OrganizationTarget{Endpoint: srv.URL(), Organization: organization}, auth, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Repositories == nil || len(got.Repositories) != 0 || got.Pages != 1 || !got.Complete {
			t.Errorf("ListRepositories(%s) = %#v, want an empty non-nil, complete listing of 1 page", organization, got)
		}
	}
	if reqs := srv.Requests(); reqs[len(reqs)-1].Query != "limit=100&namespace=nobody&offset=0" {
		t.Errorf("query = %q, want the default page size", reqs[len(reqs)-1].Query)
	}
}

// pagedUpstream is an SWR stand-in whose answer to each page is up to the test, and which
// remembers each request target as it arrived.
type pagedUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

// pageAnswer is one page pagedUpstream sends; an empty contentRange sends no header.
type pageAnswer struct {
	status       int
	contentRange string
	body         string
}

// newPagedUpstream serves pages by answer, which gets the page's offset and limit and how many
// pages were asked for before it.
func newPagedUpstream(t *testing.T, answer func(offset, limit, before int) pageAnswer) *pagedUpstream {
	t.Helper()
	u := &pagedUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		before := len(u.seen)
		u.seen = append(u.seen, r.RequestURI)
		u.mu.Unlock()
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		a := answer(offset, limit, before)
		if a.contentRange != "" {
			w.Header().Set("Content-Range", a.contentRange)
		}
		w.WriteHeader(max(a.status, http.StatusOK))
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *pagedUpstream) targets() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

func (u *pagedUpstream) target() swr.OrganizationTarget {
	return swr.OrganizationTarget{Endpoint: u.URL, Organization: org}
}

// entry is one listing entry of acme named name-{i}; a negative totalRange leaves it out.
type entry struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	TotalRange *int   `json:"total_range,omitempty"`
}

// entries renders the entries i from..to-1 of a listing, each with totalRange unless it is
// negative.
func entries(from, to, totalRange int) string {
	list := []entry{}
	for i := from; i < to; i++ {
		e := entry{Name: fmt.Sprintf("repo-%03d", i), Namespace: org}
		if totalRange >= 0 {
			e.TotalRange = &totalRange
		}
		list = append(list, e)
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err) // it runs in the upstream's handler, where t.Fatal may not be called
	}
	return string(b)
}

// names lists the repositories' names.
func names(repos []swr.Repository) []string {
	out := []string{}
	for _, r := range repos {
		out = append(out, r.Name)
	}
	return out
}

// wantNames is the names of entries from..to-1.
func wantNames(from, to int) []string {
	out := []string{}
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("repo-%03d", i))
	}
	return out
}

// wantTargets is the request targets of pages at offsets, of limit each.
func wantTargets(limit int, offsets ...int) []string {
	out := []string{}
	for _, o := range offsets {
		out = append(out, fmt.Sprintf("/v2/manage/repos?limit=%d&namespace=acme&offset=%d", limit, o))
	}
	return out
}

// TestListRepositoriesWire checks the request target byte for byte as it leaves the client: the
// path prefix of the endpoint, the encoded query and the clamped page size.
func TestListRepositoriesWire(t *testing.T) {
	u := newPagedUpstream(t, func(int, int, int) pageAnswer { return pageAnswer{body: `[]`} })
	tests := []struct {
		endpoint, organization string
		pageSize               int
		want                   string
	}{
		{u.URL, org, 100, "/v2/manage/repos?limit=100&namespace=acme&offset=0"},
		{u.URL + "/", org, 10, "/v2/manage/repos?limit=10&namespace=acme&offset=0"},
		{u.URL + "/gateway", org, 1, "/gateway/v2/manage/repos?limit=1&namespace=acme&offset=0"},
		{u.URL, "a.b_c-d__e", 5, "/v2/manage/repos?limit=5&namespace=a.b_c-d__e&offset=0"},
		{u.URL, org, 0, "/v2/manage/repos?limit=100&namespace=acme&offset=0"},
		{u.URL, org, -7, "/v2/manage/repos?limit=100&namespace=acme&offset=0"},
		{u.URL, org, 1000, "/v2/manage/repos?limit=1000&namespace=acme&offset=0"},
		{u.URL, org, 1001, "/v2/manage/repos?limit=1000&namespace=acme&offset=0"},
		{u.URL, org, 1 << 40, "/v2/manage/repos?limit=1000&namespace=acme&offset=0"},
	}
	c := swr.NewClient()
	for _, tt := range tests {
		before := len(u.targets())
		target := swr.OrganizationTarget{Endpoint: tt.endpoint, Organization: tt.organization}
		if _, err := listRepos(t, c, target, swr.NewTokenAuth("t"), tt.pageSize); err != nil {
			t.Fatalf("ListRepositories(%q, page size %d) error = %v", tt.endpoint, tt.pageSize, err)
		}
		if got := u.targets()[before:]; len(got) != 1 || got[0] != tt.want {
			t.Errorf("endpoint %q, organization %q, page size %d: request targets %q, want [%q]",
				tt.endpoint, tt.organization, tt.pageSize, got, tt.want)
		}
	}
}

// TestListRepositoriesPaging checks where paging stops and how the offset advances, for each way
// SWR may report (or not report) the total.
func TestListRepositoriesPaging(t *testing.T) {
	tests := []struct {
		name        string
		pageSize    int
		answer      func(offset, limit, before int) pageAnswer
		wantTargets []string
		wantNames   []string
		complete    bool
	}{
		{
			name: "Content-Range", pageSize: 2,
			answer: func(offset, limit, _ int) pageAnswer {
				end := min(offset+limit, 5)
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/5", offset, end-offset), body: entries(offset, end, -1)}
			},
			wantTargets: wantTargets(2, 0, 2, 4), wantNames: wantNames(0, 5), complete: true,
		},
		{
			name: "Content-Range wins over total_range", pageSize: 2,
			answer: func(offset, limit, _ int) pageAnswer {
				end := min(offset+limit, 4)
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/4", offset, end-offset), body: entries(offset, end, 2)}
			},
			wantTargets: wantTargets(2, 0, 2), wantNames: wantNames(0, 4), complete: true,
		},
		{
			name: "total_range only", pageSize: 2,
			answer: func(offset, limit, _ int) pageAnswer {
				return pageAnswer{body: entries(offset, min(offset+limit, 5), 5)}
			},
			wantTargets: wantTargets(2, 0, 2, 4), wantNames: wantNames(0, 5), complete: true,
		},
		{
			name: "a garbled Content-Range falls back to total_range", pageSize: 2,
			answer: func(offset, limit, _ int) pageAnswer {
				return pageAnswer{contentRange: "items */x", body: entries(offset, min(offset+limit, 3), 3)}
			},
			wantTargets: wantTargets(2, 0, 2), wantNames: wantNames(0, 3), complete: true,
		},
		{
			name: "no total: a short page ends it", pageSize: 3,
			answer: func(offset, limit, _ int) pageAnswer {
				return pageAnswer{body: entries(offset, min(offset+limit, 5), -1)}
			},
			wantTargets: wantTargets(3, 0, 3), wantNames: wantNames(0, 5), complete: true,
		},
		{
			name: "no total: an empty page ends it", pageSize: 3,
			answer: func(offset, limit, _ int) pageAnswer {
				return pageAnswer{body: entries(offset, min(offset+limit, 6), -1)}
			},
			wantTargets: wantTargets(3, 0, 3, 6), wantNames: wantNames(0, 6), complete: true,
		},
		{
			// SWR caps its pages below the page size asked for: a short page is not the end while
			// the total says there is more, and the offset advances by what each page held.
			name: "capped pages", pageSize: 10,
			answer: func(offset, _, _ int) pageAnswer {
				end := min(offset+3, 7)
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/7", offset, end-offset), body: entries(offset, end, 7)}
			},
			wantTargets: wantTargets(10, 0, 3, 6), wantNames: wantNames(0, 7), complete: true,
		},
		{
			name: "an empty first page", pageSize: 10,
			answer:      func(int, int, int) pageAnswer { return pageAnswer{contentRange: "0-0/0", body: `[]`} },
			wantTargets: wantTargets(10, 0), wantNames: []string{}, complete: true,
		},
		{
			name: "an empty first page without a total", pageSize: 10,
			answer:      func(int, int, int) pageAnswer { return pageAnswer{body: ` [ ] `} },
			wantTargets: wantTargets(10, 0), wantNames: []string{}, complete: true,
		},
		{
			name: "the total claims more than the pages hold", pageSize: 2,
			answer: func(offset, limit, _ int) pageAnswer {
				end := min(offset+limit, 3)
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/9", offset, end-offset), body: entries(offset, end, 9)}
			},
			wantTargets: wantTargets(2, 0, 2, 3), wantNames: wantNames(0, 3), complete: false,
		},
		{
			name: "the total claims less than the pages hold", pageSize: 3,
			answer: func(offset, limit, _ int) pageAnswer {
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/4", offset, limit), body: entries(offset, offset+limit, -1)}
			},
			wantTargets: wantTargets(3, 0, 3), wantNames: wantNames(0, 6), complete: false,
		},
		{
			// A repository was created while paging: the total grew, and one may have been skipped.
			name: "the total changes between pages", pageSize: 2,
			answer: func(offset, limit, before int) pageAnswer {
				total := 4 + before
				end := min(offset+limit, total)
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/%d", offset, end-offset, total), body: entries(offset, end, total)}
			},
			wantTargets: wantTargets(2, 0, 2, 4), wantNames: wantNames(0, 6), complete: false,
		},
		{
			// A push moved repo-003 to the front between the pages (the listing's default order
			// may be by update time): repo-002 comes twice and repo-003 never.
			name: "the list shifts without changing the total", pageSize: 2,
			answer: func(offset, _, before int) pageAnswer {
				pages := []string{
					`[{"name":"repo-000","namespace":"acme"},{"name":"repo-001","namespace":"acme","category":"first"}]`,
					`[{"name":"repo-001","namespace":"acme","category":"second"},{"name":"repo-002","namespace":"acme"}]`,
				}
				return pageAnswer{contentRange: fmt.Sprintf("%d-2/4", offset), body: pages[before]}
			},
			wantTargets: wantTargets(2, 0, 2), wantNames: wantNames(0, 3), complete: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newPagedUpstream(t, tt.answer)
			got, err := listRepos(t, swr.NewClient(), u.target(), swr.NewTokenAuth("t"), tt.pageSize)
			if err != nil {
				t.Fatalf("ListRepositories() error = %v", err)
			}
			if targets := u.targets(); !reflect.DeepEqual(targets, tt.wantTargets) {
				t.Errorf("request targets =\n%q\nwant\n%q", targets, tt.wantTargets)
			}
			if n := names(got.Repositories); !reflect.DeepEqual(n, tt.wantNames) {
				t.Errorf("repositories = %q, want %q", n, tt.wantNames)
			}
			if got.Pages != len(tt.wantTargets) || got.Complete != tt.complete {
				t.Errorf("Pages = %d, Complete = %v; want %d, %v", got.Pages, got.Complete, len(tt.wantTargets), tt.complete)
			}
		})
	}
}

// TestListRepositoriesDeduplicates checks that a repository listed twice is kept once, as first
// seen, whether on two pages or on one.
func TestListRepositoriesDeduplicates(t *testing.T) {
	u := newPagedUpstream(t, func(offset, _, _ int) pageAnswer {
		if offset == 0 {
			return pageAnswer{body: `[{"name":"a","namespace":"acme","category":"first"},{"name":"b","namespace":"acme"}]`}
		}
		return pageAnswer{body: `[{"name":"a","namespace":"acme","category":"again"},{"name":"a","namespace":"acme","category":"third"}]`}
	})
	got, err := listRepos(t, swr.NewClient(), u.target(), swr.NewTokenAuth("t"), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []swr.Repository{{Name: "a", Namespace: org, Category: "first"}, {Name: "b", Namespace: org}}
	if !reflect.DeepEqual(got.Repositories, want) {
		t.Errorf("repositories = %+v, want %+v", got.Repositories, want)
	}
}

// TestListRepositoriesPageBound checks that a server claiming ever more stops being asked at the
// page bound, and that what was read comes back incomplete rather than as an error.
func TestListRepositoriesPageBound(t *testing.T) {
	const bound = 5
	c := swr.NewClient(swr.WithMaxRepositoryPages(bound))

	t.Run("endless", func(t *testing.T) {
		u := newPagedUpstream(t, func(offset, limit, _ int) pageAnswer {
			return pageAnswer{contentRange: fmt.Sprintf("%d-%d/1000000000", offset, limit), body: entries(offset, offset+limit, 1000000000)}
		})
		got, err := listRepos(t, c, u.target(), swr.NewTokenAuth("t"), 2)
		if err != nil {
			t.Fatalf("ListRepositories() error = %v, want none at the page bound", err)
		}
		if got.Pages != bound || got.Complete || !reflect.DeepEqual(names(got.Repositories), wantNames(0, 2*bound)) {
			t.Errorf("ListRepositories() = %d pages, complete %v, %q; want %d incomplete pages of what was read",
				got.Pages, got.Complete, names(got.Repositories), bound)
		}
		if n := len(u.targets()); n != bound {
			t.Errorf("server saw %d requests, want %d", n, bound)
		}
	})

	t.Run("full pages without a total", func(t *testing.T) {
		u := newPagedUpstream(t, func(offset, limit, _ int) pageAnswer { return pageAnswer{body: entries(offset, offset+limit, -1)} })
		got, err := listRepos(t, c, u.target(), swr.NewTokenAuth("t"), 3)
		if err != nil || got.Pages != bound || got.Complete || len(got.Repositories) != 3*bound {
			t.Errorf("ListRepositories() = %d pages, complete %v, %d repositories, %v; want %d incomplete pages",
				got.Pages, got.Complete, len(got.Repositories), err, bound)
		}
	})

	t.Run("swrtest with an inflated total", func(t *testing.T) {
		srv, _, _, auth := newFixture(t)
		repos := make([]swr.Repository, 2*bound)
		for i := range repos {
			repos[i] = swr.Repository{Name: fmt.Sprintf("repo-%03d", i)}
		}
		srv.SetRepositories(org, repos...)
		srv.SetRepositoryListFault(org, swrtest.Fault{InflateTotal: 100})
		target := swr.OrganizationTarget{Endpoint: srv.URL(), Organization: org}
		got, err := listRepos(t, c, target, auth, 1)
		if err != nil || got.Pages != bound || got.Complete || !reflect.DeepEqual(names(got.Repositories), wantNames(0, bound)) {
			t.Errorf("page size 1: ListRepositories() = %+v, %v; want %d incomplete pages", got, err, bound)
		}
		// With pages large enough, the server runs out first: an empty page, still incomplete.
		got, err = listRepos(t, c, target, auth, 4)
		if err != nil || got.Pages != 4 || got.Complete || len(got.Repositories) != 2*bound {
			t.Errorf("page size 4: ListRepositories() = %d pages, complete %v, %d repositories, %v; want 4 incomplete pages of all %d",
				got.Pages, got.Complete, len(got.Repositories), err, 2*bound)
		}
		if n := srv.RepositoryListRequestCount(org); n != bound+4 {
			t.Errorf("RepositoryListRequestCount = %d, want %d", n, bound+4)
		}
	})
}

// TestListRepositoriesFailsMidway checks that a page failing after others succeeded fails the
// whole listing: no partial result may pass for a complete, shorter one.
func TestListRepositoriesFailsMidway(t *testing.T) {
	tests := []struct {
		name  string
		page  pageAnswer
		class swr.Class
	}{
		{"server error", pageAnswer{status: 502, body: "<html>502</html>"}, swr.ClassServer},
		{"throttled", pageAnswer{status: 429}, swr.ClassThrottled},
		{"not an array", pageAnswer{body: `{"repos":[]}`}, swr.ClassBadBody},
		{"null", pageAnswer{body: `null`}, swr.ClassBadBody},
		{"an unnamed entry", pageAnswer{body: `[{"name":"repo-002","namespace":"acme"},{"namespace":"acme"}]`}, swr.ClassBadBody},
		{"truncated", pageAnswer{body: `[{"name":"repo-002"`}, swr.ClassBadBody},
		{"an entry without a namespace", pageAnswer{body: `[{"name":"repo-002","namespace":"acme"},{"name":"repo-003"}]`}, swr.ClassBadBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newPagedUpstream(t, func(offset, limit, before int) pageAnswer {
				if before == 1 {
					return tt.page
				}
				return pageAnswer{contentRange: fmt.Sprintf("%d-%d/6", offset, limit), body: entries(offset, offset+limit, 6)}
			})
			got, err := listRepos(t, swr.NewClient(), u.target(), swr.NewTokenAuth("t"), 2)
			if e := asError(t, err); e.Class != tt.class {
				t.Errorf("error = %+v, want class %s", e, tt.class)
			}
			if !reflect.DeepEqual(got, swr.RepositoryListing{}) {
				t.Errorf("ListRepositories() returned %+v with an error, want the zero listing", got)
			}
			if n := len(u.targets()); n != 2 {
				t.Errorf("server saw %d requests, want 2: no page after the failing one", n)
			}
		})
	}

	t.Run("swrtest fault", func(t *testing.T) {
		srv, c, target, auth := newRepositoryFixture(t)
		srv.SetRepositoryListFault(org, swrtest.Fault{Status: 403, Body: swrtest.NewErrorBody("SVCSTG.SWR.4039002", "no permission")})
		got, err := listRepos(t, c, target, auth, 2)
		if e := asError(t, err); e.Class != swr.ClassForbidden || e.Code != "SVCSTG.SWR.4039002" || got.Repositories != nil {
			t.Errorf("ListRepositories() = %+v, %+v; want Forbidden SVCSTG.SWR.4039002 and nothing", got, e)
		}
	})
}

func TestListRepositoriesBodyLimit(t *testing.T) {
	_, _, target, auth := newRepositoryFixture(t)
	c := swr.NewClient(swr.WithMaxResponseBytes(100))
	_, err := listRepos(t, c, target, auth, 2)
	if e := asError(t, err); e.Class != swr.ClassBadBody || e.Message != "response body exceeds 100 bytes" {
		t.Errorf("error = %+v, want BadResponse: exceeds 100 bytes", e)
	}
}

func TestListRepositoriesRefusedBeforeSending(t *testing.T) {
	srv, c, good, auth := newRepositoryFixture(t)
	for name, tt := range map[string]struct {
		target swr.OrganizationTarget
		auth   swr.Authenticator
		class  swr.Class
	}{
		"empty organization":             {swr.OrganizationTarget{Endpoint: good.Endpoint}, auth, swr.ClassBadRequest},
		"organization starts with digit": {swr.OrganizationTarget{Endpoint: good.Endpoint, Organization: "1a"}, auth, swr.ClassBadRequest},
		"organization with a query":      {swr.OrganizationTarget{Endpoint: good.Endpoint, Organization: "acme&name=x"}, auth, swr.ClassBadRequest},
		"uppercase organization":         {swr.OrganizationTarget{Endpoint: good.Endpoint, Organization: "Acme"}, auth, swr.ClassBadRequest},
		"relative endpoint":              {swr.OrganizationTarget{Endpoint: "swr-api.example.com", Organization: org}, auth, swr.ClassBadRequest},
		"endpoint with a query":          {swr.OrganizationTarget{Endpoint: good.Endpoint + "?namespace=other", Organization: org}, auth, swr.ClassBadRequest},
		"nil authenticator":              {good, nil, swr.ClassUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := listRepos(t, c, tt.target, tt.auth, 10)
			if e := asError(t, err); e.Class != tt.class || e.Retryable() {
				t.Errorf("error = %+v, want a non-retryable %s", e, tt.class)
			}
			if got.Repositories != nil || got.Pages != 0 {
				t.Errorf("ListRepositories() = %+v with an error, want the zero listing", got)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// TestListRepositoriesRefreshesRevokedToken revokes the IAM token between two pages: the second
// page takes the shared path's one retry with a new token, and the listing completes.
func TestListRepositoriesRefreshesRevokedToken(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	srv.SetRepositories(org, sampleRepositories()...)
	var once sync.Once
	c := swr.NewClient(swr.WithRequestObserver(func(int, error) { once.Do(srv.RevokeIssuedTokens) }))
	target := swr.OrganizationTarget{Endpoint: srv.URL(), Organization: org}
	got, err := listRepos(t, c, target, cache.PasswordAuth(creds), 2)
	if err != nil {
		t.Fatalf("ListRepositories() error = %v", err)
	}
	if !reflect.DeepEqual(got, swr.RepositoryListing{Repositories: sampleListing(), Pages: 2, Complete: true}) {
		t.Errorf("ListRepositories() = %+v, want the sample repositories in 2 pages", got)
	}
	if srv.IAMRequestCount() != 2 || srv.RepositoryListRequestCount(org) != 3 {
		t.Errorf("%d IAM, %d SWR requests; want 2, 3 (one new token, one retry of the second page)",
			srv.IAMRequestCount(), srv.RepositoryListRequestCount(org))
	}
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; last.Query != "limit=2&namespace=acme&offset=2" || last.AuthKind != swrtest.AuthKindIAMToken {
		t.Errorf("retry = %+v, want the second page's query with an IAM token", last)
	}
}

// TestListRepositoriesRateLimited checks that every page waits its turn: with one request a
// second, the second page cannot be sent before the deadline, and the listing fails rather than
// returning the first page alone.
func TestListRepositoriesRateLimited(t *testing.T) {
	srv, _, target, auth := newRepositoryFixture(t)
	c := swr.NewClient(swr.WithRateLimit(1, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	got, err := c.ListRepositories(ctx, target, auth, 2)
	if e := asError(t, err); e.Class != swr.ClassThrottled || got.Repositories != nil {
		t.Errorf("ListRepositories() = %+v, %+v; want Throttled and nothing", got, e)
	}
	if n := srv.RepositoryListRequestCount(org); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestListRepositoriesAKSK checks that the signature covers the query the way the independent
// verifier reads it, on every page.
func TestListRepositoriesAKSK(t *testing.T) {
	srv, clock, _ := newAKSKFixture(t)
	srv.SetRepositories(org, sampleRepositories()...)
	auth := swr.NewAKSKAuth(swr.AKSKCredentials{AccessKey: testAK, SecretKey: testSK}, swr.WithSigningClock(clock.Now))
	target := swr.OrganizationTarget{Endpoint: srv.URL(), Organization: org}
	got, err := listRepos(t, swr.NewClient(), target, auth, 2)
	if err != nil || !got.Complete || len(got.Repositories) != 3 {
		t.Fatalf("ListRepositories() = %+v, %v; want the 3 sample repositories", got, err)
	}
	for _, r := range srv.Requests() {
		if r.AuthKind != swrtest.AuthKindAKSK {
			t.Errorf("request %s?%s carried %s, want an AK/SK signature", r.Path, r.Query, r.AuthKind)
		}
	}
}
