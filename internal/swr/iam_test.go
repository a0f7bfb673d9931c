package swr_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const (
	iamDomain   = "acme-account"
	iamUser     = "sync-bot"
	iamPassword = "S3cret-Pa55word!"
	iamProject  = "ap-southeast-1"
)

// fakeClock is a clock that moves only when told to, shared by the cache and the server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newIAMFixture starts a swrtest server with one repository and one IAM user, and returns it
// with a token cache and the user's credentials. The server accepts no static token, so that
// only IAM tokens get through.
func newIAMFixture(t testing.TB, opts ...swr.TokenCacheOption) (*swrtest.Server, *swr.TokenCache, swr.PasswordCredentials) {
	t.Helper()
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetToken("")
	srv.SetPolicies(org, repo, samplePolicies()...)
	srv.AddIAMUser(iamDomain, iamUser, iamPassword)
	creds := swr.PasswordCredentials{
		IAMEndpoint: srv.URL(), DomainName: iamDomain, Username: iamUser, Password: iamPassword, ProjectName: iamProject,
	}
	return srv, swr.NewTokenCache(opts...), creds
}

// authenticate runs auth on a fresh request and returns the X-Auth-Token it set.
func authenticate(t testing.TB, auth swr.Authenticator) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://swr.invalid/", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Authenticate(req); err != nil {
		return "", err
	}
	return req.Header.Get("X-Auth-Token"), nil
}

// mustAuthenticate is authenticate for calls that must succeed.
func mustAuthenticate(t testing.TB, auth swr.Authenticator) string {
	t.Helper()
	token, err := authenticate(t, auth)
	if err != nil {
		t.Fatalf("Authenticate() error = %v", err)
	}
	if token == "" {
		t.Fatal("Authenticate() set no X-Auth-Token")
	}
	return token
}

func hostOf(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestPasswordAuthListSyncRepos(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	got, err := list(t, swr.NewClient(), target, cache.PasswordAuth(creds))
	if err != nil || len(got) != 2 {
		t.Fatalf("ListSyncRepos() = %d policies, %v; want 2 policies", len(got), err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/v3/auth/tokens" || reqs[1].AuthKind != swrtest.AuthKindIAMToken {
		t.Errorf("requests = %+v, want the IAM request, then the listing with an IAM token", reqs)
	}
	if reqs[0].ContentType != "application/json;charset=utf8" {
		t.Errorf("IAM request Content-Type = %q", reqs[0].ContentType)
	}
}

func TestPasswordAuthConcurrentCallersShareOneRequest(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	const n = 50
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each caller builds its own Authenticator, as each reconcile does: sharing must come
			// from the cache, not from the Authenticator value.
			tokens[i], errs[i] = authenticate(t, cache.PasswordAuth(creds))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || tokens[i] == "" || tokens[i] != tokens[0] {
			t.Fatalf("caller %d: token set %v, error %v; want the same token as caller 0", i, tokens[i] != "", errs[i])
		}
	}
	if got := srv.IAMRequestCount(); got != 1 {
		t.Errorf("IAMRequestCount() = %d, want 1", got)
	}
	if got := cache.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}
}

func TestPasswordAuthDistinctCredentials(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	srv.AddIAMUser(iamDomain, "other-bot", "another password")
	other := creds
	other.Username, other.Password = "other-bot", "another password"
	otherProject := creds
	otherProject.ProjectName = "eu-west-101"

	first := mustAuthenticate(t, cache.PasswordAuth(creds))
	second := mustAuthenticate(t, cache.PasswordAuth(other))
	third := mustAuthenticate(t, cache.PasswordAuth(otherProject))
	if first == second || first == third || second == third {
		t.Error("distinct credentials got the same token")
	}
	if got := srv.IAMRequestCount(); got != 3 {
		t.Errorf("IAMRequestCount() = %d, want 3", got)
	}
	// Asking again is answered from the cache, for each.
	for _, c := range []swr.PasswordCredentials{creds, other, otherProject} {
		mustAuthenticate(t, cache.PasswordAuth(c))
	}
	if got := srv.IAMRequestCount(); got != 3 {
		t.Errorf("IAMRequestCount() after repeated calls = %d, want 3", got)
	}
	if got := cache.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
}

func TestPasswordAuthSecretWithTrailingNewline(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	mustAuthenticate(t, cache.PasswordAuth(creds))
	// The same credentials as read from a file written with echo: same value, same token.
	padded := creds
	padded.Password += "\n"
	padded.Username = " " + padded.Username + "\n"
	mustAuthenticate(t, cache.PasswordAuth(padded))
	if got := srv.IAMRequestCount(); got != 1 {
		t.Errorf("IAMRequestCount() = %d, want 1", got)
	}
}

func TestPasswordAuthRefreshBeforeExpiry(t *testing.T) {
	clock := newFakeClock()
	srv, cache, creds := newIAMFixture(t, swr.WithTokenClock(clock.Now))
	srv.SetClock(clock.Now)
	srv.SetTokenLifetime(time.Hour)
	auth := cache.PasswordAuth(creds)

	first := mustAuthenticate(t, auth)
	// A 1-hour token is replaced once less than a fifth of its life (12 minutes) is left.
	clock.Advance(48*time.Minute - time.Second)
	if got := mustAuthenticate(t, auth); got != first || srv.IAMRequestCount() != 1 {
		t.Fatalf("just before the refresh point: %d IAM requests, same token %v; want 1, true", srv.IAMRequestCount(), got == first)
	}
	clock.Advance(time.Second)
	second := mustAuthenticate(t, auth)
	if second == first || srv.IAMRequestCount() != 2 {
		t.Fatalf("at the refresh point: %d IAM requests, new token %v; want 2, true", srv.IAMRequestCount(), second != first)
	}
	clock.Advance(47 * time.Minute)
	if got := mustAuthenticate(t, auth); got != second || srv.IAMRequestCount() != 2 {
		t.Errorf("47 minutes into the second token: %d IAM requests, want 2", srv.IAMRequestCount())
	}
	// The token handed out is one SWR accepts at that time.
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	if _, err := list(t, swr.NewClient(), target, auth); err != nil {
		t.Errorf("ListSyncRepos() with the refreshed token: %v", err)
	}
}

func TestPasswordAuthShortLivedTokenUsedHalfItsLife(t *testing.T) {
	clock := newFakeClock()
	srv, cache, creds := newIAMFixture(t, swr.WithTokenClock(clock.Now))
	srv.SetClock(clock.Now)
	srv.SetTokenLifetime(6 * time.Minute)
	auth := cache.PasswordAuth(creds)
	mustAuthenticate(t, auth)
	// The 5-minute floor would leave one minute; the half-life cap keeps it for three.
	clock.Advance(3*time.Minute - time.Second)
	mustAuthenticate(t, auth)
	if got := srv.IAMRequestCount(); got != 1 {
		t.Fatalf("before half its life: %d IAM requests, want 1", got)
	}
	clock.Advance(time.Second)
	mustAuthenticate(t, auth)
	if got := srv.IAMRequestCount(); got != 2 {
		t.Errorf("at half its life: %d IAM requests, want 2", got)
	}
}

// TestPasswordAuthLifetimeOnLocalClock checks that the lifetime IAM states is counted on the
// local clock, so that a server clock two hours ahead does not make tokens look fresher, and that
// without issued_at the lifetime runs from when the request was sent.
func TestPasswordAuthLifetimeOnLocalClock(t *testing.T) {
	t.Run("server clock ahead", func(t *testing.T) {
		clock := newFakeClock()
		srv, cache, creds := newIAMFixture(t, swr.WithTokenClock(clock.Now))
		srv.SetClock(func() time.Time { return clock.Now().Add(2 * time.Hour) })
		srv.SetTokenLifetime(time.Hour)
		auth := cache.PasswordAuth(creds)
		mustAuthenticate(t, auth)
		clock.Advance(48 * time.Minute)
		mustAuthenticate(t, auth)
		if got := srv.IAMRequestCount(); got != 2 {
			t.Errorf("IAMRequestCount() after 48 minutes = %d, want 2", got)
		}
	})
	t.Run("no issued_at", func(t *testing.T) {
		clock := newFakeClock()
		srv, cache, creds := newIAMFixture(t, swr.WithTokenClock(clock.Now))
		srv.SetIAMFault(swrtest.Fault{Status: 201, Header: http.Header{"X-Subject-Token": {"MIIfixed"}},
			Body: `{"token":{"expires_at":"` + clock.Now().Add(time.Hour).Format(time.RFC3339Nano) + `"}}`})
		auth := cache.PasswordAuth(creds)
		mustAuthenticate(t, auth)
		clock.Advance(48*time.Minute - time.Second)
		mustAuthenticate(t, auth)
		if got := srv.IAMRequestCount(); got != 1 {
			t.Fatalf("IAMRequestCount() before 48 minutes = %d, want 1", got)
		}
		clock.Advance(time.Second)
		mustAuthenticate(t, auth)
		if got := srv.IAMRequestCount(); got != 2 {
			t.Errorf("IAMRequestCount() at 48 minutes = %d, want 2", got)
		}
	})
}

func TestPasswordAuthRotation(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	first := mustAuthenticate(t, cache.PasswordAuth(creds))

	// The password is changed in IAM and in the Secret.
	rotated := creds
	rotated.Password = "N3w-Pa55word!"
	srv.AddIAMUser(iamDomain, iamUser, rotated.Password)
	second := mustAuthenticate(t, cache.PasswordAuth(rotated))
	if second == first || srv.IAMRequestCount() != 2 {
		t.Fatalf("after rotation: %d IAM requests, new token %v; want 2, true", srv.IAMRequestCount(), second != first)
	}
	if got := cache.Len(); got != 1 {
		t.Errorf("Len() after rotation = %d, want 1 (the old password's token dropped)", got)
	}

	// A stale copy of the old Secret fails at IAM and must not evict the working token.
	_, err := authenticate(t, cache.PasswordAuth(creds))
	if swr.ClassOf(err) != swr.ClassUnauthorized {
		t.Fatalf("old password: %v, want Unauthorized", err)
	}
	if got := mustAuthenticate(t, cache.PasswordAuth(rotated)); got != second {
		t.Error("the new password's token was replaced after the old password failed")
	}
	if got := srv.IAMRequestCount(); got != 3 {
		t.Errorf("IAMRequestCount() = %d, want 3 (old password's failure only)", got)
	}
	if got := cache.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}
}

func TestPasswordAuthPrunesExpiredEntries(t *testing.T) {
	clock := newFakeClock()
	srv, cache, creds := newIAMFixture(t, swr.WithTokenClock(clock.Now))
	srv.SetClock(clock.Now)
	srv.SetTokenLifetime(time.Hour)
	srv.AddIAMUser(iamDomain, "other-bot", "another password")
	other := creds
	other.Username, other.Password = "other-bot", "another password"

	mustAuthenticate(t, cache.PasswordAuth(creds))
	mustAuthenticate(t, cache.PasswordAuth(other))
	if got := cache.Len(); got != 2 {
		t.Fatalf("Len() = %d, want 2", got)
	}
	// The first credentials go unused until their token is long expired; the others stay in use.
	for range 8 {
		clock.Advance(15 * time.Minute)
		mustAuthenticate(t, cache.PasswordAuth(other))
	}
	if got := cache.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1 (the unused, expired entry pruned)", got)
	}
}

func TestPasswordAuthWrongPassword(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	creds.Password = "wrong password"
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	_, err := list(t, swr.NewClient(), target, cache.PasswordAuth(creds))
	e := asError(t, err)
	if e.Class != swr.ClassUnauthorized || e.Step != "IAM token request" || e.StatusCode != http.StatusUnauthorized || e.Retryable() {
		t.Errorf("error = %+v, want a non-retryable 401 Unauthorized of the IAM step", e)
	}
	// The first refusal already says when IAM will be asked again, so that the message does not
	// change between this call and the ones the backoff answers.
	want := regexp.MustCompile(`^IAM token request to ` + regexp.QuoteMeta(hostOf(t, srv.URL())) +
		` failed: 401 Unauthorized: The username or password is wrong\.; not asking IAM again with these credentials before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ unless the Secret changes$`)
	if !want.MatchString(err.Error()) {
		t.Errorf("Error() = %q, want it to match %s", err, want)
	}
	if n := srv.RequestCount(org, repo); n != 0 {
		t.Errorf("SWR received %d requests, want none without a token", n)
	}
	if cache.Len() != 0 {
		t.Errorf("Len() = %d after a failure, want 0", cache.Len())
	}
}

// TestPasswordAuthIAMErrors covers IAM's answers that are not a token, each through a fault.
func TestPasswordAuthIAMErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     swrtest.Fault
		class     swr.Class
		code      string
		wantError string // the message after "IAM token request to HOST "
	}{
		{
			name:  "locked user, Keystone body",
			fault: swrtest.Fault{Status: 403, Body: `{"error":{"code":403,"message":"The account is locked.","title":"Forbidden"}}`},
			class: swr.ClassForbidden, wantError: "failed: 403 Forbidden: The account is locked.",
		},
		{
			name:  "Keystone body with a string code",
			fault: swrtest.Fault{Status: 403, Body: `{"error":{"code":"1101","message":"User locked","title":"Forbidden"}}`},
			class: swr.ClassForbidden, code: "1101", wantError: "failed: 403 Forbidden: 1101 User locked",
		},
		{
			name:  "gateway body",
			fault: swrtest.Fault{Status: 400, Body: `{"error_code":"IAM.0011","error_msg":"Request parameter error"}`},
			class: swr.ClassBadRequest, code: "IAM.0011", wantError: "failed: 400 Bad Request: IAM.0011 Request parameter error",
		},
		{
			name:  "not found",
			fault: swrtest.Fault{Status: 404, Body: `{"error":{"code":404,"message":"Could not find project: x","title":"Not Found"}}`},
			class: swr.ClassNotFound, wantError: "failed: 404 Not Found: Could not find project: x",
		},
		{
			name: "throttled",
			fault: swrtest.Fault{Status: 429, Body: `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}`,
				Header: http.Header{"Retry-After": {"3"}}},
			class: swr.ClassThrottled, code: "APIG.0308",
			wantError: "failed: 429 Too Many Requests: APIG.0308 The throttling threshold has been reached (retry after 3s)",
		},
		{
			name:  "unavailable",
			fault: swrtest.Fault{Status: 503},
			class: swr.ClassServer, wantError: "failed: 503 Service Unavailable",
		},
		{
			name:  "HTML error page",
			fault: swrtest.Fault{Status: 502, Body: "<html><body>Bad Gateway</body></html>"},
			class: swr.ClassServer, wantError: "failed: 502 Bad Gateway",
		},
		{
			name:  "201 without X-Subject-Token",
			fault: swrtest.Fault{Status: 201, Body: `{"token":{"expires_at":"2099-01-01T00:00:00.000000Z"}}`},
			class: swr.ClassBadBody, wantError: "failed: invalid response (201 Created): no X-Subject-Token header",
		},
		{
			name: "201 without expires_at",
			fault: swrtest.Fault{Status: 201, Header: http.Header{"X-Subject-Token": {"MIIabc"}},
				Body: `{"token":{"issued_at":"2026-11-27T08:00:00.000000Z"}}`},
			class: swr.ClassBadBody, wantError: "failed: invalid response (201 Created): token.expires_at is missing or not an RFC 3339 time",
		},
		{
			name: "201 with a token that has already expired",
			fault: swrtest.Fault{Status: 201, Header: http.Header{"X-Subject-Token": {"MIIabc"}},
				Body: `{"token":{"expires_at":"2020-01-01T00:00:00.000000Z"}}`},
			class: swr.ClassBadBody, wantError: "failed: invalid response (201 Created): the token expired before it arrived",
		},
		{
			name:  "201 with a body that is not JSON",
			fault: swrtest.Fault{Status: 201, Header: http.Header{"X-Subject-Token": {"MIIabc"}}, Body: `<html>`},
			class: swr.ClassBadBody, wantError: "failed: invalid response (201 Created): malformed JSON",
		},
		{
			name:  "redirect",
			fault: swrtest.Fault{Status: 302, Header: http.Header{"Location": {"http://elsewhere.invalid/v3/auth/tokens"}}},
			class: swr.ClassServer, wantError: "failed: 302 Found: redirects are not followed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cache, creds := newIAMFixture(t)
			srv.SetIAMFault(tt.fault)
			_, err := authenticate(t, cache.PasswordAuth(creds))
			e := asError(t, err)
			if e.Class != tt.class || e.Step != "IAM token request" || e.StatusCode != tt.fault.Status || e.Code != tt.code {
				t.Errorf("error = %+v, want class %s, status %d, code %q, Step set", e, tt.class, tt.fault.Status, tt.code)
			}
			prefix := "IAM token request to " + hostOf(t, srv.URL()) + " "
			if !strings.HasPrefix(err.Error(), prefix+tt.wantError) {
				t.Errorf("Error() = %q, want %q...", err, prefix+tt.wantError)
			}
			if cache.Len() != 0 {
				t.Errorf("Len() = %d after a failure, want 0", cache.Len())
			}
		})
	}
}

func TestPasswordAuthFailureNotCached(t *testing.T) {
	srv, _, creds := newIAMFixture(t)
	var observed []error
	var mu sync.Mutex
	cache := swr.NewTokenCache(swr.WithTokenRequestObserver(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, err)
	}))
	auth := cache.PasswordAuth(creds)

	srv.SetIAMFault(swrtest.Fault{Status: 503})
	_, err := authenticate(t, auth)
	if e := asError(t, err); e.Class != swr.ClassServer || !e.Retryable() {
		t.Fatalf("error = %+v, want a retryable ServerError", e)
	}
	srv.ClearIAMFault()
	mustAuthenticate(t, auth)
	if got := srv.IAMRequestCount(); got != 2 {
		t.Errorf("IAMRequestCount() = %d, want 2 (the failure was retried)", got)
	}
	mustAuthenticate(t, auth)
	mu.Lock()
	defer mu.Unlock()
	if len(observed) != 2 || swr.ClassOf(observed[0]) != swr.ClassServer || observed[1] != nil {
		t.Errorf("observer saw %v, want [ServerError, nil]", observed)
	}
}

func TestPasswordAuthTimeout(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	srv.SetIAMFault(swrtest.Fault{Hang: true})
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := swr.NewClient().ListSyncRepos(ctx, target, cache.PasswordAuth(creds))
	e := asError(t, err)
	if e.Class != swr.ClassTimeout || e.Step != "IAM token request" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %+v, want a Timeout of the IAM step wrapping DeadlineExceeded", e)
	}
	if want := "IAM token request to " + hostOf(t, srv.URL()) + " timed out"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestPasswordAuthRefusedBeforeSending(t *testing.T) {
	srv, cache, good := newIAMFixture(t)
	with := func(f func(*swr.PasswordCredentials)) swr.PasswordCredentials { c := good; f(&c); return c }
	tests := []struct {
		name    string
		cache   *swr.TokenCache
		creds   swr.PasswordCredentials
		class   swr.Class
		wantMsg string
	}{
		{"empty password", cache, with(func(c *swr.PasswordCredentials) { c.Password = "" }), swr.ClassUnauthorized, "the IAM password is empty"},
		{"newline only", cache, with(func(c *swr.PasswordCredentials) { c.Password = "\n" }), swr.ClassUnauthorized, "the IAM password is empty"},
		{"empty project", cache, with(func(c *swr.PasswordCredentials) { c.ProjectName = " " }), swr.ClassUnauthorized, "the IAM project name is empty"},
		{"empty domain", cache, with(func(c *swr.PasswordCredentials) { c.DomainName = "" }), swr.ClassUnauthorized, "the IAM domain name is empty"},
		{"control character", cache, with(func(c *swr.PasswordCredentials) { c.Username = "a\x1bb" }), swr.ClassUnauthorized, "the IAM user name contains control characters"},
		{"relative endpoint", cache, with(func(c *swr.PasswordCredentials) { c.IAMEndpoint = "iam.example.com" }), swr.ClassBadRequest, "the IAM endpoint must be an absolute http or https URL"},
		{"endpoint with password", cache, with(func(c *swr.PasswordCredentials) { c.IAMEndpoint = "https://u:hunter2@iam.example.com" }), swr.ClassBadRequest, "must not contain user information"},
		{"nil cache", nil, good, swr.ClassUnauthorized, "no IAM token cache configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authenticate(t, tt.cache.PasswordAuth(tt.creds))
			e := asError(t, err)
			if e.Class != tt.class || e.Step != "IAM token request" || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %v (%+v), want %s containing %q", err, e, tt.class, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks the endpoint password", err)
			}
		})
	}
	if got := srv.IAMRequestCount(); got != 0 {
		t.Errorf("IAMRequestCount() = %d, want 0", got)
	}
}

func TestPasswordAuthTLSAndPathPrefix(t *testing.T) {
	srv := swrtest.NewTLSServer()
	defer srv.Close()
	srv.AddIAMUser(iamDomain, iamUser, iamPassword)
	creds := swr.PasswordCredentials{IAMEndpoint: srv.URL(), DomainName: iamDomain, Username: iamUser, Password: iamPassword, ProjectName: iamProject}

	mustAuthenticate(t, swr.NewTokenCache(swr.WithTokenHTTPClient(srv.Client())).PasswordAuth(creds))
	// The default transport verifies certificates against the system roots.
	_, err := authenticate(t, swr.NewTokenCache().PasswordAuth(creds))
	if e := asError(t, err); e.Class != swr.ClassNetwork || !strings.Contains(err.Error(), "TLS certificate verification failed") {
		t.Errorf("untrusted certificate: %v, want a NetworkError about the certificate", err)
	}

	// A gateway prefix in the endpoint is kept.
	var mu sync.Mutex
	var paths []string
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RequestURI())
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer gateway.Close()
	prefixed := creds
	prefixed.IAMEndpoint = gateway.URL + "/iam/"
	_, _ = authenticate(t, swr.NewTokenCache().PasswordAuth(prefixed))
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/iam/v3/auth/tokens?nocatalog=true" {
		t.Errorf("request targets = %q, want [/iam/v3/auth/tokens?nocatalog=true]", paths)
	}
}

// TestListSyncReposRefreshesRevokedToken checks the refresh-once on 401.
func TestListSyncReposRefreshesRevokedToken(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	c := swr.NewClient()
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	auth := cache.PasswordAuth(creds)
	if _, err := list(t, c, target, auth); err != nil {
		t.Fatal(err)
	}
	if srv.IAMRequestCount() != 1 || srv.RequestCount(org, repo) != 1 {
		t.Fatalf("first listing: %d IAM, %d SWR requests; want 1, 1", srv.IAMRequestCount(), srv.RequestCount(org, repo))
	}

	srv.RevokeIssuedTokens()
	got, err := list(t, c, target, auth)
	if err != nil || len(got) != 2 {
		t.Fatalf("listing after revocation: %d policies, %v; want success", len(got), err)
	}
	if srv.IAMRequestCount() != 2 || srv.RequestCount(org, repo) != 3 {
		t.Errorf("after revocation: %d IAM, %d SWR requests; want 2, 3 (one new token, one retry)",
			srv.IAMRequestCount(), srv.RequestCount(org, repo))
	}

	// SWR keeps refusing: exactly one retry, then the 401 is returned.
	srv.SetFault(org, repo, swrtest.Fault{Status: 401,
		Body: swrtest.NewErrorBody(swrtest.CodeUnauthorized, "Authenticate Error: token missing, invalid or expired")})
	srv.ResetRequests()
	_, err = list(t, c, target, auth)
	e := asError(t, err)
	if e.Class != swr.ClassUnauthorized || e.StatusCode != http.StatusUnauthorized || e.Step != "" || e.Code != swrtest.CodeUnauthorized {
		t.Errorf("error = %+v, want SWR's 401", e)
	}
	if got := srv.RequestCount(org, repo); got != 2 {
		t.Errorf("SWR requests = %d, want exactly 2", got)
	}
	if got := srv.IAMRequestCount(); got != 3 {
		t.Errorf("IAMRequestCount() = %d, want 3 (the retry got a new token)", got)
	}
}

// TestListSyncReposNoRetryForOtherCredentials checks that credentials that cannot be refreshed
// are not sent twice.
func TestListSyncReposNoRetryForOtherCredentials(t *testing.T) {
	srv, c, target, _ := newFixture(t)
	srv.AddAccessKey("AKIDEXAMPLE0123456789", "secret-key")
	for name, auth := range map[string]swr.Authenticator{
		"static token": swr.NewTokenAuth("wrong token"),
		"AK/SK":        swr.NewAKSKAuth(swr.AKSKCredentials{AccessKey: "AKIDEXAMPLE0123456789", SecretKey: "wrong secret"}),
	} {
		t.Run(name, func(t *testing.T) {
			srv.ResetRequests()
			_, err := list(t, c, target, auth)
			if swr.ClassOf(err) != swr.ClassUnauthorized {
				t.Errorf("error = %v, want Unauthorized", err)
			}
			if got := srv.RequestCount(org, repo); got != 1 {
				t.Errorf("SWR requests = %d, want 1", got)
			}
		})
	}
}
