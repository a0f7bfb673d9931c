package swr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const (
	org  = "acme"
	repo = "library/nginx"
)

// newFixture starts a plain-http swrtest server with one repository and returns it with a
// client, a target for that repository and the accepted token.
func newFixture(t testing.TB, policies ...swr.SyncRepo) (*swrtest.Server, *swr.Client, swr.Target, *swr.TokenAuth) {
	t.Helper()
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetPolicies(org, repo, policies...)
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	return srv, swr.NewClient(), target, swr.NewTokenAuth(swrtest.DefaultToken)
}

// list calls ListSyncRepos with a generous deadline, so that a hang fails the test instead of
// stalling it.
func list(t testing.TB, c *swr.Client, target swr.Target, auth swr.Authenticator) ([]swr.SyncRepo, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.ListSyncRepos(ctx, target, auth)
}

// asError asserts that err is an *swr.Error and returns it.
func asError(t *testing.T, err error) *swr.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want an *swr.Error")
	}
	e, ok := errors.AsType[*swr.Error](err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *swr.Error", err, err)
	}
	return e
}

func samplePolicies() []swr.SyncRepo {
	return []swr.SyncRepo{
		{ID: 12, CreatedAt: "2024-01-02T03:04:05.1Z", UpdatedAt: "2024-01-02T03:04:05.123456Z", DomainID: "d1",
			DomainName: "tenant", Namespace: org, RepoName: repo, RemoteRegionID: "eu-west-101", RemoteNamespace: "mirror", Override: true},
		{ID: 3, CreatedAt: "2024-01-01T00:00:00Z", UpdatedAt: "2024-01-01T00:00:00Z", DomainID: "d1",
			DomainName: "tenant", Namespace: org, RepoName: repo, RemoteRegionID: "ap-southeast-3", RemoteNamespace: "backup", SyncAuto: true},
	}
}

func TestListSyncRepos(t *testing.T) {
	policies := samplePolicies()
	srv, c, target, auth := newFixture(t, policies...)

	got, err := list(t, c, target, auth)
	if err != nil {
		t.Fatalf("ListSyncRepos() error = %v", err)
	}
	// The server answers in id order.
	want := []swr.SyncRepo{policies[1], policies[0]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListSyncRepos() =\n%+v\nwant\n%+v", got, want)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	checks := []struct{ name, got, want string }{
		{"method", r.Method, http.MethodGet},
		{"path", r.Path, "/v2/manage/namespaces/acme/repos/library$nginx/sync_repo"},
		{"organization", r.Organization, org},
		{"repository", r.Repository, repo},
		{"Content-Type", r.ContentType, "application/json"},
		{"Accept", r.Accept, "application/json"},
		{"User-Agent", r.UserAgent, swr.DefaultUserAgent},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("request %s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if !r.HasToken {
		t.Error("request carried no X-Auth-Token")
	}
}

func TestListSyncReposSeedExample(t *testing.T) {
	// The vendor documentation's example response, verbatim, field for field.
	const body = `[ {
  "createdAt" : "2020-04-17T02:11:03.53183Z",
  "domainID" : "8b1e81************************633fb",
  "domainName" : "p*********59",
  "id" : 45,
  "namespace" : "test",
  "override" : true,
  "remoteNamespace" : "sdsad",
  "remoteRegionId" : "region1",
  "repoName" : "grpc-helloworld",
  "syncAuto" : true,
  "updatedAt" : "2020-04-17T02:11:03.531831Z"
} ]`
	srv, c, target, auth := newFixture(t)
	srv.SetFault(org, repo, swrtest.Fault{RawBody: body})
	got, err := list(t, c, target, auth)
	if err != nil {
		t.Fatalf("ListSyncRepos() error = %v", err)
	}
	want := []swr.SyncRepo{{
		ID: 45, CreatedAt: "2020-04-17T02:11:03.53183Z", UpdatedAt: "2020-04-17T02:11:03.531831Z",
		DomainID: "8b1e81************************633fb", DomainName: "p*********59", Namespace: "test",
		RepoName: "grpc-helloworld", RemoteRegionID: "region1", RemoteNamespace: "sdsad", Override: true, SyncAuto: true,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListSyncRepos() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListSyncReposEmpty(t *testing.T) {
	_, c, target, auth := newFixture(t)
	got, err := list(t, c, target, auth)
	if err != nil {
		t.Fatalf("ListSyncRepos() error = %v", err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("ListSyncRepos() = %#v, want an empty non-nil slice", got)
	}
}

// TestListSyncReposWirePath checks the request target byte for byte as it leaves the client,
// for endpoints with a trailing slash and a path prefix.
func TestListSyncReposWirePath(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		_, _ = w.Write([]byte(`[]`))
	}))
	defer upstream.Close()

	tests := []struct{ endpoint, repository, want string }{
		{upstream.URL, "library/nginx", "/v2/manage/namespaces/acme/repos/library$nginx/sync_repo"},
		{upstream.URL + "/", "a/b/c", "/v2/manage/namespaces/acme/repos/a$b$c/sync_repo"},
		{upstream.URL + "/gateway", "nginx", "/gateway/v2/manage/namespaces/acme/repos/nginx/sync_repo"},
		{upstream.URL + "/gate%20way/", "x/y", "/gate%20way/v2/manage/namespaces/acme/repos/x$y/sync_repo"},
	}
	c := swr.NewClient()
	for _, tt := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		target := swr.Target{Endpoint: tt.endpoint, Organization: org, Repository: tt.repository}
		if _, err := list(t, c, target, swr.NewTokenAuth("t")); err != nil {
			t.Fatalf("ListSyncRepos(%q) error = %v", tt.endpoint, err)
		}
		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("endpoint %q, repository %q: request target %q, want [%q]", tt.endpoint, tt.repository, got, tt.want)
		}
	}
}

func TestListSyncReposUserAgent(t *testing.T) {
	srv, _, target, auth := newFixture(t)
	c := swr.NewClient(swr.WithUserAgent("swr-sync-operator/v1.2.3"))
	if _, err := list(t, c, target, auth); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].UserAgent; got != "swr-sync-operator/v1.2.3" {
		t.Errorf("User-Agent = %q, want the configured one", got)
	}
}

// TestListSyncReposRefusedBeforeSending covers requests the client must not send at all.
func TestListSyncReposRefusedBeforeSending(t *testing.T) {
	srv, c, good, auth := newFixture(t)
	tests := []struct {
		name    string
		target  swr.Target
		auth    swr.Authenticator
		class   swr.Class
		wantMsg string
	}{
		{"organization starts with digit", swr.Target{Endpoint: good.Endpoint, Organization: "1a", Repository: repo}, auth,
			swr.ClassBadRequest, `organization "1a" must start with a lowercase letter`},
		{"repository already encoded", swr.Target{Endpoint: good.Endpoint, Organization: org, Repository: "library$nginx"}, auth,
			swr.ClassBadRequest, `repository "library$nginx" contains '$'`},
		{"empty repository", swr.Target{Endpoint: good.Endpoint, Organization: org}, auth,
			swr.ClassBadRequest, "repository name must not be empty"},
		{"relative endpoint", swr.Target{Endpoint: "swr-api.example.com", Organization: org, Repository: repo}, auth,
			swr.ClassBadRequest, "absolute http or https URL"},
		{"ftp endpoint", swr.Target{Endpoint: "ftp://swr-api.example.com", Organization: org, Repository: repo}, auth,
			swr.ClassBadRequest, "absolute http or https URL"},
		{"endpoint with password", swr.Target{Endpoint: "https://u:hunter2@swr-api.example.com", Organization: org, Repository: repo}, auth,
			swr.ClassBadRequest, "must not contain user information"},
		{"endpoint with query", swr.Target{Endpoint: good.Endpoint + "?x=1", Organization: org, Repository: repo}, auth,
			swr.ClassBadRequest, "must not have a query"},
		{"nil authenticator", good, nil, swr.ClassUnauthorized, "no SWR credentials configured"},
		{"empty token", good, swr.NewTokenAuth(" \n"), swr.ClassUnauthorized, "the SWR token is empty"},
		{"token with newline", good, swr.NewTokenAuth("a\nb"), swr.ClassUnauthorized, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := list(t, c, tt.target, tt.auth)
			e := asError(t, err)
			if e.Class != tt.class {
				t.Errorf("class = %q, want %q (error %v)", e.Class, tt.class, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q contains the endpoint password", err)
			}
			if e.Retryable() {
				t.Errorf("error %v is retryable, want not", err)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestListSyncReposErrorResponses(t *testing.T) {
	tests := []struct {
		name       string
		fault      swrtest.Fault
		class      swr.Class
		code       string
		message    string
		retryAfter time.Duration
		wantString string
	}{
		{
			name:  "400 old form",
			fault: swrtest.Fault{Status: 400, Body: swrtest.OldErrorBody("SVCSTG.SWR.4001028", "Invalid namespace name")},
			class: swr.ClassBadRequest, code: "SVCSTG.SWR.4001028", message: "Invalid namespace name",
			wantString: "SWR returned 400 Bad Request: SVCSTG.SWR.4001028 Invalid namespace name",
		},
		{
			name:  "403 no permission",
			fault: swrtest.Fault{Status: 403, Body: swrtest.NewErrorBody("SVCSTG.SWR.4039002", "no permission")},
			class: swr.ClassForbidden, code: "SVCSTG.SWR.4039002", message: "no permission",
		},
		{
			name:  "403 throttled",
			fault: swrtest.Fault{Status: 403, Body: swrtest.NewErrorBody("SVCSTG.SWR.4031032", "too many requests")},
			class: swr.ClassThrottled, code: "SVCSTG.SWR.4031032", message: "too many requests",
		},
		{
			name:  "403 throttled, other code, old form",
			fault: swrtest.Fault{Status: 403, Body: swrtest.OldErrorBody("SVCSTG.SWR.4031042", "slow down")},
			class: swr.ClassThrottled, code: "SVCSTG.SWR.4031042", message: "slow down",
		},
		{
			name:  "409 system busy",
			fault: swrtest.Fault{Status: 409, Body: swrtest.NewErrorBody("SVCSTG.SWR.4090023", "system busy")},
			class: swr.ClassThrottled, code: "SVCSTG.SWR.4090023", message: "system busy",
		},
		{
			name:  "409 conflict",
			fault: swrtest.Fault{Status: 409, Body: swrtest.NewErrorBody("SVCSTG.SWR.4090001", "conflict")},
			class: swr.ClassConflict, code: "SVCSTG.SWR.4090001", message: "conflict",
		},
		{
			name: "429 APIG with Retry-After seconds",
			fault: swrtest.Fault{Status: 429, Body: `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}`,
				Header: http.Header{"Retry-After": {"7"}}},
			class: swr.ClassThrottled, code: "APIG.0308", message: "The throttling threshold has been reached", retryAfter: 7 * time.Second,
			wantString: "SWR returned 429 Too Many Requests: APIG.0308 The throttling threshold has been reached (retry after 7s)",
		},
		{
			name:  "500 new form",
			fault: swrtest.Fault{Status: 500, Body: swrtest.NewErrorBody("SVCSTG.SWR.5000001", "internal error")},
			class: swr.ClassServer, code: "SVCSTG.SWR.5000001", message: "internal error",
		},
		{
			name:  "502 HTML page",
			fault: swrtest.Fault{Status: 502, Body: "<html><body><h1>502 Bad Gateway</h1><script>x()</script></body></html>"},
			class: swr.ClassServer, wantString: "SWR returned 502 Bad Gateway",
		},
		{
			name:  "503 empty body",
			fault: swrtest.Fault{Status: 503, Header: http.Header{"Retry-After": {"120"}}},
			class: swr.ClassServer, retryAfter: 2 * time.Minute,
			wantString: "SWR returned 503 Service Unavailable (retry after 2m0s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, target, auth := newFixture(t, samplePolicies()...)
			srv.SetFault(org, repo, tt.fault)
			got, err := list(t, c, target, auth)
			e := asError(t, err)
			if got != nil {
				t.Errorf("ListSyncRepos() returned %d policies with an error", len(got))
			}
			if e.Class != tt.class || e.StatusCode != tt.fault.Status || e.Code != tt.code || e.Message != tt.message {
				t.Errorf("error = {%q %d %q %q}, want {%q %d %q %q}",
					e.Class, e.StatusCode, e.Code, e.Message, tt.class, tt.fault.Status, tt.code, tt.message)
			}
			if e.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.retryAfter)
			}
			if tt.wantString != "" && err.Error() != tt.wantString {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantString)
			}
			if strings.Contains(err.Error(), "<") {
				t.Errorf("Error() = %q carries markup", err.Error())
			}
		})
	}
}

func TestListSyncReposRetryAfterDate(t *testing.T) {
	srv, c, target, auth := newFixture(t)
	// HTTP dates have whole seconds, so the parsed delay may be up to a second short.
	at := time.Now().Add(2 * time.Minute)
	srv.SetFault(org, repo, swrtest.Fault{Status: 429, Header: http.Header{"Retry-After": {at.UTC().Format(http.TimeFormat)}}})
	_, err := list(t, c, target, auth)
	e := asError(t, err)
	if e.RetryAfter <= 2*time.Minute-2*time.Second || e.RetryAfter > 2*time.Minute {
		t.Errorf("RetryAfter = %v, want about 2m", e.RetryAfter)
	}
}

// TestListSyncReposServerAnswers covers the errors the fake produces the way SWR does.
func TestListSyncReposServerAnswers(t *testing.T) {
	t.Run("wrong token", func(t *testing.T) {
		_, c, target, _ := newFixture(t)
		_, err := list(t, c, target, swr.NewTokenAuth("not-the-token"))
		e := asError(t, err)
		if e.Class != swr.ClassUnauthorized || e.StatusCode != http.StatusUnauthorized || e.Code != swrtest.CodeUnauthorized {
			t.Errorf("error = %+v, want 401 %s", e, swrtest.CodeUnauthorized)
		}
	})
	t.Run("unknown organization", func(t *testing.T) {
		_, c, target, auth := newFixture(t)
		target.Organization = "other"
		_, err := list(t, c, target, auth)
		e := asError(t, err)
		if e.Class != swr.ClassNotFound || e.Code != swrtest.CodeNamespaceNotFound {
			t.Errorf("error = %+v, want 404 %s", e, swrtest.CodeNamespaceNotFound)
		}
		if want := "SWR returned 404 Not Found: SVCSTG.SWR.4040058 namespace not found"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	})
	t.Run("deleted repository", func(t *testing.T) {
		srv, c, target, auth := newFixture(t)
		if _, err := list(t, c, target, auth); err != nil {
			t.Fatalf("before deletion: %v", err)
		}
		srv.DeleteRepository(org, repo)
		_, err := list(t, c, target, auth)
		e := asError(t, err)
		if e.Class != swr.ClassNotFound || e.Code != swrtest.CodeRepositoryNotFound || e.Retryable() {
			t.Errorf("error = %+v, want a non-retryable 404 %s", e, swrtest.CodeRepositoryNotFound)
		}
	})
}

func TestListSyncReposBadBodies(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantMsg string
	}{
		{"null", `null`, "expected a JSON array, got null"},
		{"object", `{}`, "expected a JSON array, got an object"},
		{"truncated", `[{"id":1},{"id":2`, "truncated JSON"},
		{"missing id", `[{"remoteRegionId":"r"}]`, "entry 0: no id"},
		{"null id", `[{"id":null}]`, "entry 0: id is null"},
		{"duplicate id", `[{"id":1},{"id":1}]`, "same id 1"},
		{"html with 200", `<html>login</html>`, "expected a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, target, auth := newFixture(t, samplePolicies()...)
			srv.SetFault(org, repo, swrtest.Fault{RawBody: tt.body})
			got, err := list(t, c, target, auth)
			e := asError(t, err)
			if got != nil {
				t.Errorf("ListSyncRepos() returned %d policies with an error", len(got))
			}
			if e.Class != swr.ClassBadBody || e.StatusCode != http.StatusOK || !e.Retryable() {
				t.Errorf("error = %+v, want a retryable BadResponse with status 200", e)
			}
			if want := "invalid response from SWR (200 OK): "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Error() = %q, want %q...%q", err, want, tt.wantMsg)
			}
		})
	}
}

func TestListSyncReposExactID(t *testing.T) {
	srv, c, target, auth := newFixture(t)
	srv.SetFault(org, repo, swrtest.Fault{RawBody: `[{"id":9007199254740993},{"id":9007199254740992}]`})
	got, err := list(t, c, target, auth)
	if err != nil {
		t.Fatalf("ListSyncRepos() error = %v (2^53 and 2^53+1 are distinct ids)", err)
	}
	if len(got) != 2 || got[0].ID != 9007199254740993 || got[1].ID != 9007199254740992 {
		t.Errorf("ids = %+v, want 9007199254740993 and 9007199254740992", got)
	}
}

func TestListSyncReposBodyLimit(t *testing.T) {
	t.Run("default limit", func(t *testing.T) {
		srv, c, target, auth := newFixture(t)
		// Exactly at the limit is fine: whitespace is valid JSON padding.
		atLimit := "[]" + strings.Repeat(" ", int(swr.DefaultMaxResponseBytes)-2)
		srv.SetFault(org, repo, swrtest.Fault{RawBody: atLimit})
		if _, err := list(t, c, target, auth); err != nil {
			t.Fatalf("body of exactly %d bytes: %v", swr.DefaultMaxResponseBytes, err)
		}
		srv.SetFault(org, repo, swrtest.Fault{RawBody: atLimit + " "})
		_, err := list(t, c, target, auth)
		e := asError(t, err)
		if e.Class != swr.ClassBadBody || !strings.Contains(err.Error(), "response body exceeds 4 MiB") {
			t.Errorf("error = %v (%s), want BadResponse: response body exceeds 4 MiB", err, e.Class)
		}
	})
	t.Run("configured limit", func(t *testing.T) {
		_, _, target, auth := newFixture(t, samplePolicies()...)
		c := swr.NewClient(swr.WithMaxResponseBytes(100))
		_, err := list(t, c, target, auth)
		if swr.ClassOf(err) != swr.ClassBadBody || !strings.Contains(err.Error(), "exceeds 100 bytes") {
			t.Errorf("error = %v, want BadResponse: exceeds 100 bytes", err)
		}
	})
}

func TestListSyncReposTimeout(t *testing.T) {
	t.Run("context deadline", func(t *testing.T) {
		srv, c, target, auth := newFixture(t)
		srv.SetFault(org, "", swrtest.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.ListSyncRepos(ctx, target, auth)
		e := asError(t, err)
		if e.Class != swr.ClassTimeout || e.StatusCode != 0 || !e.Retryable() {
			t.Errorf("error = %+v, want a retryable Timeout without status", e)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
		}
		if !strings.HasPrefix(err.Error(), "timed out waiting for SWR at 127.0.0.1:") {
			t.Errorf("Error() = %q", err)
		}
	})
	t.Run("transport timeout", func(t *testing.T) {
		srv, _, target, auth := newFixture(t)
		srv.SetFault(org, repo, swrtest.Fault{Hang: true})
		c := swr.NewClient(swr.WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}))
		_, err := list(t, c, target, auth)
		if swr.ClassOf(err) != swr.ClassTimeout {
			t.Errorf("error = %v (%s), want Timeout", err, swr.ClassOf(err))
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		_, c, target, auth := newFixture(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.ListSyncRepos(ctx, target, auth)
		if swr.ClassOf(err) != swr.ClassNetwork || !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v (%s), want NetworkError wrapping context.Canceled", err, swr.ClassOf(err))
		}
	})
}

func TestListSyncReposConnectionRefused(t *testing.T) {
	addr := closedAddr(t)
	target := swr.Target{Endpoint: "http://" + addr, Organization: org, Repository: repo}
	_, err := list(t, swr.NewClient(), target, swr.NewTokenAuth("t"))
	e := asError(t, err)
	if e.Class != swr.ClassNetwork || e.StatusCode != 0 || !e.Retryable() {
		t.Errorf("error = %+v, want a retryable NetworkError", e)
	}
	if want := "cannot reach SWR at " + addr + ": connection refused"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

// closedAddr returns a local address where nothing listens: connections to it are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestListSyncReposRedirectNotFollowed(t *testing.T) {
	elsewhere := swrtest.NewServer()
	t.Cleanup(elsewhere.Close)
	elsewhere.SetPolicies(org, repo)
	clients := map[string]func(*swrtest.Server) *swr.Client{
		"default client": func(*swrtest.Server) *swr.Client { return swr.NewClient() },
		// httptest's client follows redirects; the swr client must override that.
		"custom client": func(s *swrtest.Server) *swr.Client { return swr.NewClient(swr.WithHTTPClient(s.Client())) },
	}
	for name, newClient := range clients {
		t.Run(name, func(t *testing.T) {
			srv, _, target, auth := newFixture(t)
			location := elsewhere.URL() + "/v2/manage/namespaces/acme/repos/library$nginx/sync_repo"
			srv.SetFault(org, repo, swrtest.Fault{Status: http.StatusFound, Header: http.Header{"Location": {location}}})
			_, err := list(t, newClient(srv), target, auth)
			e := asError(t, err)
			if e.Class != swr.ClassServer || e.StatusCode != http.StatusFound {
				t.Errorf("error = %+v, want ServerError 302", e)
			}
			if want := "SWR returned 302 Found: redirects are not followed"; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err, want)
			}
			if n := len(elsewhere.Requests()); n != 0 {
				t.Errorf("redirect target received %d requests, want none", n)
			}
		})
	}
}

func TestListSyncReposTLS(t *testing.T) {
	srv := swrtest.NewTLSServer()
	defer srv.Close()
	srv.SetPolicies(org, repo, samplePolicies()...)
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	auth := swr.NewTokenAuth(swrtest.DefaultToken)

	got, err := list(t, swr.NewClient(swr.WithHTTPClient(srv.Client())), target, auth)
	if err != nil || len(got) != 2 {
		t.Fatalf("with the trusting client: %d policies, error %v; want 2 policies", len(got), err)
	}

	_, err = list(t, swr.NewClient(), target, auth)
	e := asError(t, err)
	if e.Class != swr.ClassNetwork || !strings.Contains(err.Error(), "TLS certificate verification failed") {
		t.Errorf("with the default client: %v (%s), want NetworkError about the certificate", err, e.Class)
	}
	if n := srv.RequestCount(org, repo); n != 1 {
		t.Errorf("server handled %d requests, want 1 (the untrusted one must not get through)", n)
	}

	// Plain http to a TLS port is a different mistake, worth its own words.
	plain := target
	plain.Endpoint = strings.Replace(srv.URL(), "https://", "http://", 1)
	_, err = list(t, swr.NewClient(), plain, auth)
	if swr.ClassOf(err) == "" || swr.ClassOf(err) == swr.ClassTimeout {
		t.Errorf("http to a TLS port: %v, want a prompt classified error", err)
	}
}

// TestNoTokenInErrors provokes every error class and checks that the token never appears in
// anything a caller might log.
func TestNoTokenInErrors(t *testing.T) {
	const token = "SECRET-tok3n-MIIZ"
	srv, c, target, _ := newFixture(t)
	srv.SetToken(token)
	auth := swr.NewTokenAuth(token)

	refusedAddr := closedAddr(t)

	errs := map[swr.Class]error{}
	record := func(err error) {
		if class := swr.ClassOf(err); class != "" {
			errs[class] = err
		}
	}
	bad := target
	bad.Organization = "1a"
	_, err := list(t, c, bad, auth)
	record(err)
	_, err = list(t, c, target, swr.NewTokenAuth(token+"x"))
	record(err)
	for _, f := range []swrtest.Fault{
		{Status: 403, Body: swrtest.NewErrorBody("SVCSTG.SWR.4039002", "no permission")},
		{Status: 404, Body: swrtest.NewErrorBody("SVCSTG.SWR.4040010", "image not found")},
		{Status: 409, Body: swrtest.NewErrorBody("SVCSTG.SWR.4090001", "conflict")},
		{Status: 429, Header: http.Header{"Retry-After": {"3"}}},
		{Status: 500},
		{RawBody: `[{"id":1},{"id":1}]`},
	} {
		srv.SetFault(org, repo, f)
		_, err = list(t, c, target, auth)
		record(err)
	}
	srv.SetFault(org, repo, swrtest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = c.ListSyncRepos(ctx, target, auth)
	cancel()
	record(err)
	down := target
	down.Endpoint = "http://" + refusedAddr
	_, err = list(t, c, down, auth)
	record(err)

	all := []swr.Class{swr.ClassBadRequest, swr.ClassUnauthorized, swr.ClassForbidden, swr.ClassNotFound,
		swr.ClassConflict, swr.ClassThrottled, swr.ClassServer, swr.ClassNetwork, swr.ClassTimeout, swr.ClassBadBody}
	for _, class := range all {
		err, ok := errs[class]
		if !ok {
			t.Errorf("no %s error was provoked", class)
			continue
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err), fmt.Sprintf("%+v", *asError(t, err))} {
			if strings.Contains(s, token) {
				t.Errorf("%s error leaks the token: %s", class, s)
			}
		}
	}
}

func TestTokenAuthRedacted(t *testing.T) {
	const token = "SECRET-tok3n-MIIZ"
	auth := swr.NewTokenAuth(token)
	type config struct {
		name string
		auth swr.TokenAuth // unexported: fmt cannot call its methods
		Auth *swr.TokenAuth
	}
	cfg := config{name: "x", auth: *auth, Auth: auth}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range []any{auth, *auth, cfg, &cfg, []any{auth}} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, token) || strings.Contains(s, fmt.Sprintf("%x", token)) {
				t.Errorf("fmt.Sprintf(%q, %T) = %s leaks the token", verb, v, s)
			}
		}
	}
	// fmt.Sprint calls TokenAuth's Format method, not String (redundantSprint's suggestion), and
	// what fmt prints is what is tested.
	if got, want := fmt.Sprint(auth), "TokenAuth{token:<redacted>}"; got != want { //nolint:gocritic // Format, not String
		t.Errorf("fmt.Sprint(auth) = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%#v", auth), "swr.TokenAuth{token:<redacted>}"; got != want {
		t.Errorf("%%#v = %q, want %q", got, want)
	}

	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.invalid/", http.NoBody)
	if err := swr.NewTokenAuth(" " + token + "\n").Authenticate(req); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("X-Auth-Token"); got != token {
		t.Errorf("X-Auth-Token = %q, want the trimmed token", got)
	}
	var zero swr.TokenAuth
	if err := zero.Authenticate(req); err == nil {
		t.Error("the zero TokenAuth authenticated a request")
	}
}

func TestListSyncReposConcurrent(t *testing.T) {
	srv, c, target, auth := newFixture(t, samplePolicies()...)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			got, err := list(t, c, target, auth)
			if err == nil && len(got) != 2 {
				err = fmt.Errorf("got %d policies, want 2", len(got))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := srv.RequestCount(org, repo); got != n {
		t.Errorf("RequestCount = %d, want %d", got, n)
	}
}

func BenchmarkListSyncRepos(b *testing.B) {
	policies := make([]swr.SyncRepo, 50)
	for i := range policies {
		policies[i] = swr.SyncRepo{
			ID: int64(1000 + i), CreatedAt: "2024-05-06T07:08:09.123456Z", UpdatedAt: "2024-05-06T07:08:09.123456Z",
			DomainID: "0970dd7a1300f5672ff2c003c60ae115", DomainName: "tenant", Namespace: org, RepoName: repo,
			RemoteRegionID: "ap-southeast-3", RemoteNamespace: fmt.Sprintf("mirror-%02d", i), Override: i%2 == 0, SyncAuto: true,
		}
	}
	srv, c, target, auth := newFixture(b, policies...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.ListSyncRepos(ctx, target, auth)
		if err != nil || len(got) != len(policies) {
			b.Fatalf("ListSyncRepos() = %d policies, %v", len(got), err)
		}
	}
	b.StopTimer()
	srv.ResetRequests()
}
