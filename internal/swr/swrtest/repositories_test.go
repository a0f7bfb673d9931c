package swrtest

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// newRepositoryServer starts a server whose organizations acme, acme-2 and other list
// repositories: acme-2 contains "acme", so a fuzzy match for acme lists it too.
func newRepositoryServer(t *testing.T) *Server {
	t.Helper()
	s := newTestServer(t)
	s.SetRepositories("acme",
		swr.Repository{Name: "c", NumImages: 1},
		swr.Repository{Name: "a/b", Category: "linux", Tags: []string{"v1"}},
		swr.Repository{Name: "b"})
	s.SetRepositories("acme-2", swr.Repository{Name: "b"})
	s.SetRepositories("other", swr.Repository{Name: "x"})
	return s
}

// repositoryEntries decodes a repository listing body, failing on anything but a JSON array.
func repositoryEntries(t *testing.T, body string) []wireRepository {
	t.Helper()
	var entries []wireRepository
	if err := json.Unmarshal([]byte(body), &entries); err != nil || entries == nil {
		t.Fatalf("body %q is not a JSON array of repositories: %v", body, err)
	}
	return entries
}

// namespacedNames renders entries as namespace:name, in their order.
func namespacedNames(entries []wireRepository) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Namespace + ":" + e.Name
	}
	return out
}

func TestRepositoriesPagingAndFuzzyMatch(t *testing.T) {
	s := newRepositoryServer(t)
	all := []string{"acme:a/b", "acme:b", "acme-2:b", "acme:c"}
	tests := []struct {
		name, query  string
		want         []string
		contentRange string
	}{
		{"defaults", "?namespace=acme", all, "0-4/4"},
		{"first page", "?namespace=acme&limit=2&offset=0", all[:2], "0-2/4"},
		{"second page", "?namespace=acme&limit=2&offset=2", all[2:], "2-2/4"},
		{"short page", "?namespace=acme&limit=3&offset=3", all[3:], "3-1/4"},
		{"past the end", "?namespace=acme&limit=2&offset=4", []string{}, "4-0/4"},
		{"far past the end", "?namespace=acme&limit=2&offset=9223372036854775807", []string{}, "9223372036854775807-0/4"},
		{"limit without offset", "?namespace=acme&limit=1", all[:1], "0-1/4"},
		{"largest limit", "?namespace=acme&limit=1000", all, "0-4/4"},
		{"parameters in any order", "?offset=1&limit=1&namespace=acme", all[1:2], "1-1/4"},
		{"substring", "?namespace=cme-", []string{"acme-2:b"}, "0-1/1"},
		{"no namespace lists all", "", []string{"acme:a/b", "acme:b", "acme-2:b", "acme:c", "other:x"}, "0-5/5"},
		{"empty namespace lists all", "?namespace=&limit=1", []string{"acme:a/b"}, "0-1/5"},
		{"no match", "?namespace=zzz", []string{}, "0-0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, "GET", repositoriesPath+tt.query, goodHeader())
			if got.status != 200 {
				t.Fatalf("status = %d, want 200 (body %s)", got.status, got.body)
			}
			entries := repositoryEntries(t, got.body)
			if names := namespacedNames(entries); !reflect.DeepEqual(names, tt.want) {
				t.Errorf("entries = %v, want %v", names, tt.want)
			}
			if cr := got.header.Get("Content-Range"); cr != tt.contentRange {
				t.Errorf("Content-Range = %q, want %q", cr, tt.contentRange)
			}
			_, total, _ := strings.Cut(tt.contentRange, "/")
			for _, e := range entries {
				if strconv.FormatInt(e.TotalRange, 10) != total {
					t.Errorf("entry %s: total_range = %d, want %s, the total of Content-Range", e.Name, e.TotalRange, total)
				}
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestRepositoriesFieldsOnTheWire(t *testing.T) {
	s := newTestServer(t)
	s.SetRepositories("acme", swr.Repository{Name: "library/nginx", Category: "linux", NumImages: 3,
		Tags: []string{"1.25", "latest"}, CreatedAt: "2024-05-06T07:08:09.123456Z", UpdatedAt: "2024-05-06T07:09:00Z"})
	got := do(t, s, "GET", repositoriesPath+"?namespace=acme&limit=10&offset=0", goodHeader())
	host := strings.TrimPrefix(s.URL(), "http://")
	want := `[{"name":"library/nginx","namespace":"acme","category":"linux","num_images":3,"tags":["1.25","latest"],` +
		`"created_at":"2024-05-06T07:08:09.123456Z","updated_at":"2024-05-06T07:09:00Z","description":"","size":0,` +
		`"is_public":false,"num_download":0,"url":"","path":"` + host + `/acme/library/nginx","internal_path":"` + host +
		`/acme/library/nginx","domain_name":"","status":false,"total_range":1}]`
	if got.status != 200 || got.body != want {
		t.Errorf("answer = %d %s\nwant 200 %s", got.status, got.body, want)
	}
}

func TestRepositoriesQueryRefused(t *testing.T) {
	s := newRepositoryServer(t)
	tests := []struct{ name, query, wantMsg string }{
		{"offset without limit", "?namespace=acme&offset=0", "offset must come with limit"},
		{"zero limit", "?namespace=acme&limit=0", `limit "0" is not an integer from 1 to 1000`},
		{"limit too large", "?namespace=acme&limit=1001", `limit "1001"`},
		{"word limit", "?namespace=acme&limit=ten", `limit "ten"`},
		{"negative offset", "?namespace=acme&limit=1&offset=-1", `offset "-1" is not a non-negative integer`},
		{"offset beyond int", "?namespace=acme&limit=1&offset=99999999999999999999", `offset "99999999999999999999"`},
		{"filter parameter", "?filter=namespace::acme%7Climit::10%7Coffset::0", `parameter "filter" is not supported by swrtest`},
		{"name parameter", "?namespace=acme&name=nginx", `parameter "name" is not supported`},
		{"order parameter", "?namespace=acme&order_column=updated_at", `parameter "order_column" is not supported`},
		{"repeated namespace", "?namespace=acme&namespace=other", `parameter "namespace" is given more than once`},
		{"malformed query", "?namespace=%zz", "the query is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, "GET", repositoriesPath+tt.query, goodHeader())
			if got.status != 400 {
				t.Fatalf("status = %d, want 400 (body %s)", got.status, got.body)
			}
			code, msg := errorOf(t, got.body)
			if code != CodeBadRequest || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error = %s %q, want %s with %q", code, msg, CodeBadRequest, tt.wantMsg)
			}
		})
	}
}

// TestRepositoriesChecks checks the order SWR checks a call in: method, then faults, then
// credentials, then Content-Type, then the query.
func TestRepositoriesChecks(t *testing.T) {
	s := newRepositoryServer(t)
	without := func(key string) http.Header { h := goodHeader(); h.Del(key); return h }
	tests := []struct {
		name, method, query string
		header              http.Header
		status              int
	}{
		{"POST", "POST", "?namespace=acme", goodHeader(), 405},
		{"no token", "GET", "?namespace=acme", without("X-Auth-Token"), 401},
		{"no token, bad query", "GET", "?offset=1", without("X-Auth-Token"), 401},
		{"no Content-Type", "GET", "?namespace=acme", without("Content-Type"), 400},
		{"good", "GET", "?namespace=acme", goodHeader(), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := do(t, s, tt.method, repositoriesPath+tt.query, tt.header); got.status != tt.status {
				t.Errorf("status = %d, want %d (body %s)", got.status, tt.status, got.body)
			}
		})
	}
	if got := do(t, s, "GET", repositoriesPath+"/", goodHeader()); got.status != 404 {
		t.Errorf("trailing slash: status = %d, want 404", got.status)
	}
}

func TestRepositoriesRecorded(t *testing.T) {
	s := newRepositoryServer(t)
	do(t, s, "GET", repositoriesPath+"?namespace=acme&limit=2&offset=0", goodHeader())
	do(t, s, "GET", repositoriesPath+"?limit=2&offset=2&namespace=acme", goodHeader())
	do(t, s, "POST", repositoriesPath+"?namespace=acme-2", goodHeader())
	do(t, s, "GET", repositoriesPath, goodHeader())

	if n := s.RepositoryListRequestCount("acme"); n != 2 {
		t.Errorf("RepositoryListRequestCount(acme) = %d, want 2: the fuzzy match does not count", n)
	}
	if n := s.RepositoryListRequestCount("acme-2"); n != 1 {
		t.Errorf("RepositoryListRequestCount(acme-2) = %d, want 1 (any method)", n)
	}
	if n := s.RepositoryListRequestCount(""); n != 1 {
		t.Errorf("RepositoryListRequestCount(\"\") = %d, want 1, the listing without a namespace", n)
	}
	reqs := s.Requests()
	if len(reqs) != 4 {
		t.Fatalf("recorded %d requests, want 4", len(reqs))
	}
	want := RecordedRequest{Kind: RequestKindRepositories, Method: "GET", Path: repositoriesPath,
		Query: "namespace=acme&limit=2&offset=0", Organization: "acme", ContentType: "application/json",
		UserAgent: reqs[0].UserAgent, HasToken: true, AuthKind: AuthKindToken, Time: reqs[0].Time}
	if !reflect.DeepEqual(reqs[0], want) {
		t.Errorf("recorded\n%+v\nwant\n%+v", reqs[0], want)
	}
	if n := s.RequestCount("acme", ""); n != 0 {
		t.Errorf("RequestCount(acme, \"\") = %d, want 0: a repository listing is not a policy listing", n)
	}
}

func TestRepositoryListFaults(t *testing.T) {
	s := newRepositoryServer(t)
	s.SetRepositoryListFault("", Fault{Status: 503})
	s.SetRepositoryListFault("acme", Fault{Status: 500, Body: NewErrorBody("SVCSTG.SWR.5000001", "boom")})
	s.SetFault("", "", Fault{Status: 502})
	s.SetSyncJobFault("", "", Fault{Status: 502})

	status := func(query string) int { return do(t, s, "GET", repositoriesPath+query, goodHeader()).status }
	if got := status("?namespace=acme"); got != 500 {
		t.Errorf("acme: status %d, want the organization's own 500", got)
	}
	if got := status("?namespace=acme-2"); got != 503 {
		t.Errorf("acme-2: status %d, want the wildcard's 503 (faults go by the namespace asked, not the fuzzy match)", got)
	}
	s.ClearRepositoryListFault("")
	if got := status("?namespace=acme-2"); got != 200 {
		t.Errorf("acme-2 after ClearRepositoryListFault: status %d, want 200; the other listings' faults do not apply", got)
	}
	s.ClearRepositoryListFault("acme")
	if got := status("?namespace=acme"); got != 200 {
		t.Errorf("acme after ClearRepositoryListFault: status %d, want 200", got)
	}

	s.SetRepositoryListFault("acme", Fault{RawBody: "null"})
	if got := do(t, s, "GET", repositoriesPath+"?namespace=acme", goodHeader()); got.status != 200 || got.body != "null" ||
		got.header.Get("Content-Range") != "" {
		t.Errorf("RawBody fault: %d %q, Content-Range %q; want 200 null without Content-Range", got.status, got.body, got.header.Get("Content-Range"))
	}

	s.SetRepositoryListFault("acme", Fault{Header: http.Header{"Content-Range": {"garbage"}}})
	got := do(t, s, "GET", repositoriesPath+"?namespace=acme&limit=1", goodHeader())
	if cr := got.header.Get("Content-Range"); got.status != 200 || cr != "garbage" || len(repositoryEntries(t, got.body)) != 1 {
		t.Errorf("header fault: %d, Content-Range %q, body %s; want the page with the fault's header", got.status, cr, got.body)
	}

	s.SetRepositoryListFault("acme", Fault{InflateTotal: 10})
	got = do(t, s, "GET", repositoriesPath+"?namespace=acme&limit=3&offset=2", goodHeader())
	entries := repositoryEntries(t, got.body)
	if cr := got.header.Get("Content-Range"); cr != "2-2/14" || len(entries) != 2 || entries[0].TotalRange != 14 {
		t.Errorf("InflateTotal: Content-Range %q with %d entries (total_range %v), want 2-2/14 with 2 entries of total_range 14",
			cr, len(entries), entries)
	}
	got = do(t, s, "GET", repositoriesPath+"?namespace=acme&limit=3&offset=4", goodHeader())
	if cr := got.header.Get("Content-Range"); cr != "4-0/14" || got.body != "[]" {
		t.Errorf("InflateTotal past the end: Content-Range %q, body %s; want 4-0/14 and []", cr, got.body)
	}
}

func TestRepositoriesResetMidBody(t *testing.T) {
	s := newRepositoryServer(t)
	s.SetRepositoryListFault("acme", Fault{ResetMidBody: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+repositoriesPath+"?namespace=acme", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = goodHeader()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var entries []wireRepository
	if err := json.NewDecoder(resp.Body).Decode(&entries); err == nil {
		t.Errorf("decoded %d entries from a body cut in half, want an error", len(entries))
	}
}

func TestSetRepositories(t *testing.T) {
	s := newTestServer(t)
	tags := []string{"v1"}
	s.SetRepositories("acme", swr.Repository{Name: "b", Namespace: "elsewhere"}, swr.Repository{Name: "a", Tags: tags},
		swr.Repository{Name: "a", Category: "twice"})
	tags[0] = "changed"

	want := []swr.Repository{{Name: "a", Namespace: "acme", Tags: []string{"v1"}}, {Name: "a", Namespace: "acme", Category: "twice"},
		{Name: "b", Namespace: "elsewhere"}}
	listed := s.Repositories("acme")
	if !reflect.DeepEqual(listed, want) {
		t.Errorf("Repositories() =\n%+v\nwant\n%+v (name order, stable, Namespace filled in only when empty, stored as a copy)", listed, want)
	}
	listed[0].Tags[0] = "mutated"
	if got := s.Repositories("acme")[0].Tags[0]; got != "v1" {
		t.Errorf("Repositories() shares memory with the server: tag %q", got)
	}
	if got := s.Repositories("nobody"); got != nil {
		t.Errorf("Repositories(nobody) = %v, want nil", got)
	}

	// Listed repositories exist for the policy listing; policies already there are kept.
	s.SetPolicies("acme", "b", swr.SyncRepo{ID: 4})
	s.SetRepositories("acme", swr.Repository{Name: "a"}, swr.Repository{Name: "b"}, swr.Repository{Name: "c/d"})
	if got := do(t, s, "GET", "/v2/manage/namespaces/acme/repos/c$d/sync_repo", goodHeader()); got.status != 200 || got.body != "[]" {
		t.Errorf("policy listing of a listed repository = %d %s, want 200 []", got.status, got.body)
	}
	if got := s.Policies("acme", "b"); len(got) != 1 || got[0].ID != 4 {
		t.Errorf("Policies(acme, b) = %+v, want the policy set before", got)
	}

	s.DeleteRepository("acme", "b")
	if got := namespacedNames(repositoryEntries(t, do(t, s, "GET", repositoriesPath+"?namespace=acme", goodHeader()).body)); !reflect.DeepEqual(got, []string{"acme:a", "acme:c/d"}) {
		t.Errorf("listing after DeleteRepository = %v, want acme:a and acme:c/d", got)
	}

	s.SetRepositories("acme")
	if got := do(t, s, "GET", repositoriesPath+"?namespace=acme", goodHeader()); got.body != "[]" || got.header.Get("Content-Range") != "0-0/0" {
		t.Errorf("empty listing = %s, Content-Range %q; want [] and 0-0/0", got.body, got.header.Get("Content-Range"))
	}
}
