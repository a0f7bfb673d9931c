package swr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedIAM is an IAM endpoint that holds every request until released, then answers each with
// a new token ("token-1", "token-2", ...) or, with status set, an error.
type gatedIAM struct {
	srv      *httptest.Server
	requests atomic.Int32
	gate     chan struct{} // closed by release to let held requests go; nil answers at once
	once     sync.Once
	status   int           // 0 answers 201
	gone     chan struct{} // receives when a held request's client went away
}

func newGatedIAM(t *testing.T, gated bool, status int) *gatedIAM {
	t.Helper()
	g := &gatedIAM{status: status, gone: make(chan struct{}, 16)}
	if gated {
		g.gate = make(chan struct{})
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.requests.Add(1)
		// Reading the body first, as IAM does, lets net/http notice a client that goes away.
		_, _ = io.Copy(io.Discard, r.Body)
		if g.gate != nil {
			select {
			case <-g.gate:
			case <-r.Context().Done():
				g.gone <- struct{}{}
				return
			}
		}
		if g.status != 0 {
			w.WriteHeader(g.status)
			_, _ = fmt.Fprint(w, `{"error":{"code":503,"message":"IAM is down","title":"Service Unavailable"}}`)
			return
		}
		now := time.Now().UTC()
		w.Header().Set(subjectTokenHeader, fmt.Sprintf("token-%d", n))
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"token":{"issued_at":%q,"expires_at":%q}}`,
			now.Format(time.RFC3339Nano), now.Add(time.Hour).Format(time.RFC3339Nano))
	}))
	t.Cleanup(g.srv.Close)
	// Cleanups run last-in first-out: held handlers are released before Close waits for them,
	// even when the test failed before releasing them.
	t.Cleanup(g.release)
	return g
}

// release lets held requests, and every later one, go.
func (g *gatedIAM) release() {
	if g.gate != nil {
		g.once.Do(func() { close(g.gate) })
	}
}

func (g *gatedIAM) creds() PasswordCredentials {
	return PasswordCredentials{IAMEndpoint: g.srv.URL, DomainName: "d", Username: "u", Password: "p", ProjectName: "r"}
}

// waitFor polls cond until it holds, failing the test after five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// waiters returns how many callers wait for the request in flight for a's credentials.
func waiters(c *TokenCache, a *passwordAuth) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[a.key]; e != nil && e.call != nil {
		return e.call.waiters
	}
	return 0
}

func authenticateCtx(ctx context.Context, a Authenticator) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://swr.invalid/", http.NoBody)
	if err != nil {
		return "", err
	}
	if err := a.Authenticate(req); err != nil {
		return "", err
	}
	return req.Header.Get(tokenHeader), nil
}

// TestTokenCacheWaitersShareOneRequest holds the IAM answer until all callers wait for it, so
// that a cache without request sharing would send one request per caller.
func TestTokenCacheWaitersShareOneRequest(t *testing.T) {
	for _, status := range []int{0, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint("status ", status), func(t *testing.T) {
			iam := newGatedIAM(t, true, status)
			var observed atomic.Int32
			var observedErr atomic.Value
			cache := NewTokenCache(WithTokenRequestObserver(func(err error) {
				observed.Add(1)
				observedErr.Store(fmt.Sprint(err))
			}))
			auth := cache.PasswordAuth(iam.creds()).(*passwordAuth)

			const n = 50
			tokens := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := range n {
				wg.Go(func() { tokens[i], errs[i] = authenticateCtx(ctx, cache.PasswordAuth(iam.creds())) })
			}
			waitFor(t, "all callers wait", func() bool { return waiters(cache, auth) == n })
			iam.release()
			wg.Wait()

			if got := iam.requests.Load(); got != 1 {
				t.Errorf("IAM requests = %d, want 1", got)
			}
			if got := observed.Load(); got != 1 {
				t.Errorf("observer called %d times, want 1", got)
			}
			for i := range n {
				if status == 0 {
					if errs[i] != nil || tokens[i] != "token-1" {
						t.Fatalf("caller %d: %q, %v; want token-1", i, tokens[i], errs[i])
					}
					continue
				}
				e, ok := errors.AsType[*Error](errs[i])
				if !ok || e.Class != ClassServer || e.StatusCode != status || e.Message != "IAM is down" || e.Step != iamTokenStep {
					t.Fatalf("caller %d: error %v, want the shared 503", i, errs[i])
				}
				if errs[i].Error() != errs[0].Error() {
					t.Errorf("caller %d: error %q differs from caller 0's %q", i, errs[i], errs[0])
				}
			}
			if status != 0 && observedErr.Load() != errs[0].Error() {
				t.Errorf("observer saw %v, want %v", observedErr.Load(), errs[0])
			}
		})
	}
}

// TestTokenCacheCancelledWaiter checks that a caller who gives up returns at once, while the
// request goes on for the others.
func TestTokenCacheCancelledWaiter(t *testing.T) {
	iam := newGatedIAM(t, true, 0)
	cache := NewTokenCache()
	auth := cache.PasswordAuth(iam.creds()).(*passwordAuth)

	patientCtx, cancelPatient := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelPatient()
	patient := make(chan string, 1)
	go func() {
		token, _ := authenticateCtx(patientCtx, auth)
		patient <- token
	}()
	impatientCtx, cancelImpatient := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, err := authenticateCtx(impatientCtx, auth)
		impatient <- err
	}()
	waitFor(t, "both callers wait", func() bool { return waiters(cache, auth) == 2 })

	cancelImpatient()
	select {
	case err := <-impatient:
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Class != ClassNetwork || e.Step != iamTokenStep || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v, want a NetworkError of the IAM step wrapping context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled caller did not return while the request was held")
	}
	if got := waiters(cache, auth); got != 1 {
		t.Errorf("waiters after one left = %d, want 1", got)
	}

	iam.release()
	if token := <-patient; token != "token-1" {
		t.Errorf("patient caller got %q, want token-1", token)
	}
	if got := iam.requests.Load(); got != 1 {
		t.Errorf("IAM requests = %d, want 1", got)
	}
}

// TestTokenCacheAbandonedRequest checks that the request is cancelled once every caller has left,
// and that the next caller starts a new one instead of joining it.
func TestTokenCacheAbandonedRequest(t *testing.T) {
	iam := newGatedIAM(t, true, 0)
	var observed []error
	var mu sync.Mutex
	cache := NewTokenCache(WithTokenRequestObserver(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, err)
	}))
	auth := cache.PasswordAuth(iam.creds()).(*passwordAuth)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := authenticateCtx(ctx, auth)
		done <- err
	}()
	// Cancelling before the request reaches the server would leave nothing there to notice.
	waitFor(t, "the caller waits and IAM holds the request", func() bool { return waiters(cache, auth) == 1 && iam.requests.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	select {
	case <-iam.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the abandoned IAM request was not cancelled")
	}

	iam.release()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	token, err := authenticateCtx(ctx2, auth)
	if err != nil || token != "token-2" {
		t.Errorf("next caller: %q, %v; want a new request's token-2", token, err)
	}
	// The abandoned request reports its end on its own goroutine, possibly after the second.
	waitFor(t, "the observer saw both requests", func() bool { mu.Lock(); defer mu.Unlock(); return len(observed) == 2 })
	mu.Lock()
	defer mu.Unlock()
	cancelled, issued := 0, 0
	for _, err := range observed {
		switch {
		case err == nil:
			issued++
		case errors.Is(err, context.Canceled) && ClassOf(err) == ClassNetwork:
			cancelled++
		}
	}
	if cancelled != 1 || issued != 1 {
		t.Errorf("observer saw %v, want one cancellation and one token", observed)
	}
}

// TestTokenCacheInvalidate checks that only the token a request carried is dropped.
func TestTokenCacheInvalidate(t *testing.T) {
	iam := newGatedIAM(t, false, 0)
	cache := NewTokenCache()
	auth := cache.PasswordAuth(iam.creds()).(*passwordAuth)
	ctx := context.Background()

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://swr.invalid/", http.NoBody)
	if err := auth.Authenticate(req); err != nil {
		t.Fatal(err)
	}
	stale, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://swr.invalid/", http.NoBody)
	stale.Header.Set(tokenHeader, "token-0") // a token some earlier request carried
	auth.invalidate(stale)
	if token, _ := authenticateCtx(ctx, auth); token != "token-1" || iam.requests.Load() != 1 {
		t.Fatalf("after invalidating another token: %q after %d requests, want token-1 after 1", token, iam.requests.Load())
	}

	auth.invalidate(req)
	if cache.Len() != 0 {
		t.Errorf("Len() after invalidate = %d, want 0", cache.Len())
	}
	if token, _ := authenticateCtx(ctx, auth); token != "token-2" || iam.requests.Load() != 2 {
		t.Errorf("after invalidating the cached token: %q after %d requests, want token-2 after 2", token, iam.requests.Load())
	}
	// A late invalidation by a request that carried token-1 must not drop token-2.
	auth.invalidate(req)
	if token, _ := authenticateCtx(ctx, auth); token != "token-2" || iam.requests.Load() != 2 {
		t.Errorf("after a late invalidation: %q after %d requests, want token-2 after 2", token, iam.requests.Load())
	}
}

func TestRefreshMargin(t *testing.T) {
	tests := []struct{ lifetime, want time.Duration }{
		{24 * time.Hour, 4*time.Hour + 48*time.Minute},
		{time.Hour, 12 * time.Minute},
		{20 * time.Minute, 5 * time.Minute},
		{6 * time.Minute, 3 * time.Minute},
		{time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := refreshMargin(tt.lifetime); got != tt.want {
			t.Errorf("refreshMargin(%v) = %v, want %v", tt.lifetime, got, tt.want)
		}
	}
}

func TestParseIAMErrorBody(t *testing.T) {
	tests := []struct {
		name, body, code, message string
	}{
		{"keystone numeric code equal to the status", `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`, "", "The username or password is wrong."},
		{"keystone string code", `{"error":{"code":"1101","message":"User locked","title":"Forbidden"}}`, "1101", "User locked"},
		{"keystone other numeric code", `{"error":{"code":4011,"message":"m"}}`, "4011", "m"},
		{"keystone title only", `{"error":{"code":401,"title":"Unauthorized"}}`, "", "Unauthorized"},
		{"gateway form", `{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information"}`, "APIG.0301", "Incorrect IAM authentication information"},
		{"error is a string", `{"error":"nope","error_code":"X.1","error_msg":"y"}`, "X.1", "y"},
		{"control characters", "{\"error\":{\"code\":401,\"message\":\"a\\nb\\u001b[31m\"}}", "", "a b [31m"},
		{"html", `<html>401</html>`, "", ""},
		{"empty", ``, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, message := parseIAMErrorBody([]byte(tt.body), 401)
			if code != tt.code || message != tt.message {
				t.Errorf("parseIAMErrorBody() = %q, %q; want %q, %q", code, message, tt.code, tt.message)
			}
		})
	}
}

func TestErrorStringWithStep(t *testing.T) {
	const step = iamTokenStep
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Class: ClassUnauthorized, Step: step, StatusCode: 401, Host: "iam.example.com", Message: "The username or password is wrong."},
			"IAM token request to iam.example.com failed: 401 Unauthorized: The username or password is wrong."},
		{Error{Class: ClassThrottled, Step: step, StatusCode: 429, Code: "APIG.0308", Message: "slow down", Host: "iam.example.com", RetryAfter: 2 * time.Second},
			"IAM token request to iam.example.com failed: 429 Too Many Requests: APIG.0308 slow down (retry after 2s)"},
		{Error{Class: ClassBadBody, Step: step, StatusCode: 201, Host: "h", Message: "no X-Subject-Token header"},
			"IAM token request to h failed: invalid response (201 Created): no X-Subject-Token header"},
		{Error{Class: ClassNetwork, Step: step, Host: "h:443", Message: "connection refused"},
			"IAM token request to h:443 failed: connection refused"},
		{Error{Class: ClassTimeout, Step: step, Host: "h"}, "IAM token request to h timed out"},
		{Error{Class: ClassTimeout, Step: step, Host: "h", Message: "i/o timeout"}, "IAM token request to h timed out: i/o timeout"},
		{Error{Class: ClassBadRequest, Step: step, Message: "the IAM endpoint must be an absolute http or https URL"},
			"IAM token request failed: the IAM endpoint must be an absolute http or https URL"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestTokenCacheWaitersShareRefusal holds IAM's 401 until five callers wait for it: they all get
// the remembered refusal, and later callers get it without a request.
func TestTokenCacheWaitersShareRefusal(t *testing.T) {
	iam := newGatedIAM(t, true, http.StatusUnauthorized)
	now := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	var observed atomic.Int32
	cache := NewTokenCache(WithTokenClock(func() time.Time { return now }),
		WithTokenRequestObserver(func(error) { observed.Add(1) }))
	auth := cache.PasswordAuth(iam.creds(), WithRefusalBackoff(5*time.Minute)).(*passwordAuth)

	const n = 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = authenticateCtx(context.Background(), cache.PasswordAuth(iam.creds())) })
	}
	waitFor(t, "all callers wait", func() bool { return waiters(cache, auth) == n })
	iam.release()
	wg.Wait()
	const want = "IAM is down; not asking IAM again with these credentials before 2026-12-01T11:05:00Z unless the Secret changes"
	for i, err := range errs {
		if e, ok := errors.AsType[*Error](err); !ok || e.Class != ClassUnauthorized || e.Message != want {
			t.Errorf("caller %d: %v, want the refusal with message %q", i, err, want)
		}
	}
	if _, err := authenticateCtx(context.Background(), auth); err == nil || err.Error() != errs[0].Error() {
		t.Errorf("later caller: %v, want %v", err, errs[0])
	}
	if got := iam.requests.Load(); got != 1 {
		t.Errorf("IAM requests = %d, want 1", got)
	}
	if got := observed.Load(); got != 1 {
		t.Errorf("observer called %d times, want 1", got)
	}
}

// TestTokenCachePrunesRefusalAfterBackoff checks that a refusal nobody asks about any more is
// dropped once its backoff has ended and idleEntryTTL has passed, and not before.
func TestTokenCachePrunesRefusalAfterBackoff(t *testing.T) {
	refusing := newGatedIAM(t, false, http.StatusUnauthorized)
	working := newGatedIAM(t, false, 0)
	now := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	cache := NewTokenCache(WithTokenClock(func() time.Time { return now }))
	refused := cache.PasswordAuth(refusing.creds(), WithRefusalBackoff(30*time.Minute)).(*passwordAuth)
	other := cache.PasswordAuth(working.creds())
	if _, err := authenticateCtx(context.Background(), refused); ClassOf(err) != ClassUnauthorized {
		t.Fatalf("error = %v, want Unauthorized", err)
	}
	has := func() bool {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		return cache.entries[refused.key] != nil
	}
	// Only the other credentials are used from now on, each use giving the pruning a chance.
	for elapsed := time.Minute; elapsed <= 45*time.Minute; elapsed += time.Minute {
		now = now.Add(time.Minute)
		if _, err := authenticateCtx(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		// The backoff ends 30 minutes in; the entry goes idleEntryTTL later.
		if wantKept := elapsed < 30*time.Minute+idleEntryTTL; has() != wantKept {
			t.Fatalf("%v after the refusal: entry kept = %v, want %v", elapsed, has(), wantKept)
		}
	}
}
