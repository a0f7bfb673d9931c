package swr_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const wrongIAMPassword = "Wr0ng-Pa55word!"

// refusalFixture is an IAM user whose password the credentials get wrong, a cache on a fake
// clock shared with the server, and a count of the requests the cache reports having sent.
type refusalFixture struct {
	srv      *swrtest.Server
	cache    *swr.TokenCache
	clock    *fakeClock
	good     swr.PasswordCredentials
	wrong    swr.PasswordCredentials
	observed atomic.Int32
}

func newRefusalFixture(t *testing.T) *refusalFixture {
	t.Helper()
	f := &refusalFixture{clock: newFakeClock()}
	f.srv, f.cache, f.good = newIAMFixture(t, swr.WithTokenClock(f.clock.Now),
		swr.WithTokenRequestObserver(func(error) { f.observed.Add(1) }))
	f.srv.SetClock(f.clock.Now)
	f.wrong = f.good
	f.wrong.Password = wrongIAMPassword
	return f
}

// requests returns the IAM requests the server received, after checking that the observer saw
// exactly those.
func (f *refusalFixture) requests(t *testing.T) int {
	t.Helper()
	n := f.srv.IAMRequestCount()
	if got := int(f.observed.Load()); got != n {
		t.Errorf("observer called %d times for %d IAM requests", got, n)
	}
	return n
}

// refusalNote is the suffix of a remembered refusal's message.
func refusalNote(until time.Time) string {
	return "; not asking IAM again with these credentials before " + until.UTC().Format(time.RFC3339) +
		" unless the Secret changes"
}

// wrongPasswordMessage is the swrtest IAM's refusal of a wrong password, remembered until until.
func wrongPasswordMessage(until time.Time) string {
	return "The username or password is wrong." + refusalNote(until)
}

// expectRefusal authenticates and checks that IAM's 401 for a wrong password comes back,
// remembered until until. It returns the error's text, for comparing refusals.
func expectRefusal(t *testing.T, f *refusalFixture, auth swr.Authenticator, until time.Time) string {
	t.Helper()
	_, err := authenticate(t, auth)
	e := asError(t, err)
	if e.Class != swr.ClassUnauthorized || e.Step != "IAM token request" || e.StatusCode != http.StatusUnauthorized || e.Host != hostOf(t, f.srv.URL()) {
		t.Fatalf("error = %+v, want IAM's 401 for %s", e, f.srv.URL())
	}
	if want := wrongPasswordMessage(until); e.Message != want {
		t.Fatalf("Message = %q, want %q", e.Message, want)
	}
	return e.Error()
}

func TestPasswordAuthRefusalSharedByConcurrentCallers(t *testing.T) {
	f := newRefusalFixture(t)
	const n = 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = authenticate(t, f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(time.Minute)))
		})
	}
	wg.Wait()
	if got := f.requests(t); got != 1 {
		t.Errorf("IAM requests = %d, want 1", got)
	}
	until := f.clock.Now().Add(time.Minute)
	for i, err := range errs {
		e := asError(t, err)
		if e.Class != swr.ClassUnauthorized || e.Message != wrongPasswordMessage(until) {
			t.Errorf("caller %d: %+v, want the remembered 401", i, e)
		}
		if err.Error() != errs[0].Error() {
			t.Errorf("caller %d: %q differs from caller 0's %q", i, err, errs[0])
		}
		if strings.Contains(err.Error(), wrongIAMPassword) {
			t.Errorf("caller %d: the error shows the password: %q", i, err)
		}
	}
}

func TestPasswordAuthRefusalBackoffDoublesUpToAnHour(t *testing.T) {
	f := newRefusalFixture(t)
	auth := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(time.Minute))
	waits := []time.Duration{
		time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute,
		time.Hour, time.Hour,
	}
	for i, wait := range waits {
		until := f.clock.Now().Add(wait)
		first := expectRefusal(t, f, auth, until)
		if got := f.requests(t); got != i+1 {
			t.Fatalf("refusal %d: IAM requests = %d, want %d", i+1, got, i+1)
		}
		// Until the wait is over, every call gets the same error without a request.
		for _, d := range []time.Duration{0, wait / 2, time.Second} {
			f.clock.Advance(d)
			if got := expectRefusal(t, f, f.cache.PasswordAuth(f.wrong), until); got != first {
				t.Fatalf("refusal %d: %q during the wait, want the unchanged %q", i+1, got, first)
			}
		}
		if got := f.requests(t); got != i+1 {
			t.Fatalf("refusal %d: IAM requests during the wait = %d, want %d", i+1, got, i+1)
		}
		f.clock.Advance(until.Sub(f.clock.Now()))
	}
}

func TestPasswordAuthRefusalDefaultBackoff(t *testing.T) {
	for name, opts := range map[string][]swr.PasswordAuthOption{
		"no option":     nil,
		"zero":          {swr.WithRefusalBackoff(0)},
		"negative":      {swr.WithRefusalBackoff(-time.Second)},
		"above the cap": {swr.WithRefusalBackoff(3 * time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			f := newRefusalFixture(t)
			want := swr.DefaultIAMRefusalBackoff
			if name == "above the cap" {
				want = swr.MaxIAMRefusalBackoff
			}
			expectRefusal(t, f, f.cache.PasswordAuth(f.wrong, opts...), f.clock.Now().Add(want))
		})
	}
}

// TestPasswordAuthRefusalBaseOfRefusedCaller checks that callers with different bases share one
// backoff, each step counted from the base of the caller whose request was refused.
func TestPasswordAuthRefusalBaseOfRefusedCaller(t *testing.T) {
	f := newRefusalFixture(t)
	short := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(time.Minute))
	long := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(10*time.Minute))

	until := f.clock.Now().Add(time.Minute)
	expectRefusal(t, f, short, until)
	expectRefusal(t, f, long, until)
	f.clock.Advance(time.Minute)
	// The second refusal, of long's request: twice its base.
	until = f.clock.Now().Add(20 * time.Minute)
	expectRefusal(t, f, long, until)
	expectRefusal(t, f, short, until)
	if got := f.requests(t); got != 2 {
		t.Errorf("IAM requests = %d, want 2", got)
	}
}

func TestPasswordAuthRefusalOtherValuesTriedAtOnce(t *testing.T) {
	f := newRefusalFixture(t)
	expectRefusal(t, f, f.cache.PasswordAuth(f.wrong), f.clock.Now().Add(swr.DefaultIAMRefusalBackoff))

	// The Secret is fixed: the right password is another credential value, asked at once.
	mustAuthenticate(t, f.cache.PasswordAuth(f.good))
	// So is another wrong password.
	otherWrong := f.wrong
	otherWrong.Password = "yet another wrong password"
	_, err := authenticate(t, f.cache.PasswordAuth(otherWrong))
	if swr.ClassOf(err) != swr.ClassUnauthorized {
		t.Fatalf("another wrong password: %v, want Unauthorized", err)
	}
	if got := f.requests(t); got != 3 {
		t.Fatalf("IAM requests = %d, want 3", got)
	}
	// The first wrong password is still remembered, although a token for the user came meanwhile.
	expectRefusal(t, f, f.cache.PasswordAuth(f.wrong), f.clock.Now().Add(swr.DefaultIAMRefusalBackoff))
	if got := f.requests(t); got != 3 {
		t.Errorf("IAM requests = %d, want still 3", got)
	}
}

func TestPasswordAuthRefusalClearedBySuccess(t *testing.T) {
	f := newRefusalFixture(t)
	auth := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(time.Minute))
	expectRefusal(t, f, auth, f.clock.Now().Add(time.Minute))
	f.clock.Advance(time.Minute)
	expectRefusal(t, f, auth, f.clock.Now().Add(2*time.Minute))
	f.clock.Advance(2 * time.Minute)

	// The password is set in IAM to what the Secret says: the next attempt gets a token.
	f.srv.AddIAMUser(iamDomain, iamUser, wrongIAMPassword)
	mustAuthenticate(t, auth)
	// Changed back, it is refused again when the token is due for refresh (after 19.2 hours), and
	// the backoff starts over at its base.
	f.srv.AddIAMUser(iamDomain, iamUser, iamPassword)
	f.clock.Advance(20 * time.Hour)
	expectRefusal(t, f, auth, f.clock.Now().Add(time.Minute))
	if got := f.requests(t); got != 4 {
		t.Errorf("IAM requests = %d, want 4", got)
	}
}

func TestPasswordAuthForbiddenIsRemembered(t *testing.T) {
	f := newRefusalFixture(t)
	f.srv.SetIAMFault(swrtest.Fault{Status: 403, Body: `{"error":{"code":403,"message":"The account is locked.","title":"Forbidden"}}`})
	auth := f.cache.PasswordAuth(f.good, swr.WithRefusalBackoff(time.Minute))
	want := "The account is locked." + refusalNote(f.clock.Now().Add(time.Minute))
	for range 3 {
		_, err := authenticate(t, auth)
		if e := asError(t, err); e.Class != swr.ClassForbidden || e.StatusCode != http.StatusForbidden || e.Message != want {
			t.Fatalf("error = %+v, want the remembered 403 with message %q", e, want)
		}
	}
	if got := f.requests(t); got != 1 {
		t.Errorf("IAM requests = %d, want 1", got)
	}
}

// TestPasswordAuthTransientFailuresNotRemembered checks that failures which say nothing about the
// credentials are asked again at the next call.
func TestPasswordAuthTransientFailuresNotRemembered(t *testing.T) {
	for name, fault := range map[string]swrtest.Fault{
		"500":       {Status: 500},
		"503":       {Status: 503},
		"throttled": {Status: 429, Body: `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}`},
	} {
		t.Run(name, func(t *testing.T) {
			f := newRefusalFixture(t)
			f.srv.SetIAMFault(fault)
			auth := f.cache.PasswordAuth(f.good, swr.WithRefusalBackoff(time.Minute))
			for range 3 {
				if _, err := authenticate(t, auth); err == nil || strings.Contains(err.Error(), "not asking IAM again") {
					t.Fatalf("error = %v, want the fault, not a remembered refusal", err)
				}
			}
			if got := f.requests(t); got != 3 {
				t.Errorf("IAM requests = %d, want 3", got)
			}
		})
	}
	t.Run("network error", func(t *testing.T) {
		closed := httptest.NewServer(nil)
		closed.Close()
		var sent atomic.Int32
		cache := swr.NewTokenCache(swr.WithTokenRequestObserver(func(error) { sent.Add(1) }))
		auth := cache.PasswordAuth(swr.PasswordCredentials{IAMEndpoint: closed.URL, DomainName: iamDomain, Username: iamUser,
			Password: iamPassword, ProjectName: iamProject}, swr.WithRefusalBackoff(time.Minute))
		for range 3 {
			if _, err := authenticate(t, auth); swr.ClassOf(err) != swr.ClassNetwork {
				t.Fatalf("error = %v, want a NetworkError", err)
			}
		}
		if got := sent.Load(); got != 3 {
			t.Errorf("IAM requests = %d, want 3", got)
		}
	})
	t.Run("between refusals", func(t *testing.T) {
		// An outage between two refusals neither ends the backoff nor restarts its doubling:
		// only a token does.
		f := newRefusalFixture(t)
		auth := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(time.Minute))
		expectRefusal(t, f, auth, f.clock.Now().Add(time.Minute))
		f.clock.Advance(time.Minute)
		f.srv.SetIAMFault(swrtest.Fault{Status: 503})
		if _, err := authenticate(t, auth); swr.ClassOf(err) != swr.ClassServer {
			t.Fatalf("during the outage: %v, want a ServerError", err)
		}
		f.srv.ClearIAMFault()
		expectRefusal(t, f, auth, f.clock.Now().Add(2*time.Minute))
		if got := f.requests(t); got != 3 {
			t.Errorf("IAM requests = %d, want 3", got)
		}
	})
}

// TestPasswordAuthRefusalOutlivesIdlePruning checks that a refusal is kept while its backoff
// runs, although its caller polls less often than the cache prunes idle entries.
func TestPasswordAuthRefusalOutlivesIdlePruning(t *testing.T) {
	f := newRefusalFixture(t)
	auth := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(30*time.Minute))
	until := f.clock.Now().Add(30 * time.Minute)
	expectRefusal(t, f, auth, until)
	// Another repository uses the cache every minute, which runs the pruning.
	for range 20 {
		f.clock.Advance(time.Minute)
		mustAuthenticate(t, f.cache.PasswordAuth(f.good))
	}
	expectRefusal(t, f, auth, until)
	if got := f.requests(t); got != 2 {
		t.Errorf("IAM requests = %d, want 2 (the refusal and the good password's token)", got)
	}
}

// TestPasswordAuthRefusalPollingScenario reproduces the measurement that motivated the backoff:
// five ImageRepositories sharing a Secret whose password IAM refuses, each polling every 5 s for
// 60 s, caused 63 IAM token requests. With the poll interval as base, IAM is asked at 0, 5, 15
// and 35 s.
func TestPasswordAuthRefusalPollingScenario(t *testing.T) {
	const (
		repositories = 5
		interval     = 5 * time.Second
		duration     = 60 * time.Second
	)
	f := newRefusalFixture(t)
	calls := 0
	for elapsed := time.Duration(0); elapsed < duration; elapsed += interval {
		var wg sync.WaitGroup
		for range repositories {
			calls++
			wg.Go(func() {
				// Each reconcile builds its Authenticator afresh from the Secret.
				auth := f.cache.PasswordAuth(f.wrong, swr.WithRefusalBackoff(interval))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err := swr.NewClient().ListSyncRepos(ctx, swr.Target{Endpoint: f.srv.URL(), Organization: org, Repository: repo}, auth)
				if swr.ClassOf(err) != swr.ClassUnauthorized {
					t.Errorf("at %v: %v, want Unauthorized", elapsed, err)
				}
			})
		}
		wg.Wait()
		f.clock.Advance(interval)
	}
	got := f.requests(t)
	t.Logf("%d polls in %v caused %d IAM token requests (63 without the backoff)", calls, duration, got)
	if got != 4 {
		t.Errorf("IAM requests = %d, want 4 (at 0, 5, 15 and 35 s)", got)
	}
	if n := f.srv.RequestCount(org, repo); n != 0 {
		t.Errorf("SWR received %d requests, want none without a token", n)
	}
}
