package swr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// fakeClock is an injected clock: sleeping advances it instead of waiting, so the tests check
// exact delays without spending them.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
	// advance makes sleep move the clock forward; off, concurrent callers all see one instant.
	advance bool
	// sleepErr, when set, is what sleep returns instead of sleeping, as a cancelled context does.
	sleepErr error
}

func newFakeClock() *fakeClock {
	// Real "now", so that a context deadline (which is real time) means the same to both clocks.
	return &fakeClock{t: time.Now(), advance: true}
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slept = append(f.slept, d)
	if f.sleepErr != nil {
		return f.sleepErr
	}
	if f.advance {
		f.t = f.t.Add(d)
	}
	return nil
}

func (f *fakeClock) step(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// sleeps returns the delays slept so far and forgets them.
func (f *fakeClock) sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.slept
	f.slept = nil
	return s
}

func newTestLimits(qps float64, burst int) (*hostLimits, *fakeClock) {
	clk := newFakeClock()
	return newHostLimits(rate.Limit(qps), burst, clk.now, clk.sleep), clk
}

func TestRateLimitBurstThenPaced(t *testing.T) {
	h, clk := newTestLimits(2, 3)
	ctx := context.Background()
	for i := range 3 {
		if err := h.wait(ctx, "swr.example.com"); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	if s := clk.sleeps(); len(s) != 0 {
		t.Fatalf("the burst of 3 waited %v, want no wait", s)
	}
	for i := range 4 {
		if err := h.wait(ctx, "swr.example.com"); err != nil {
			t.Fatalf("paced request %d: %v", i+1, err)
		}
	}
	want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}
	if s := clk.sleeps(); !slices.Equal(s, want) {
		t.Errorf("after the burst, waits %v, want one slot per 1/qps: %v", s, want)
	}

	// An idle second refills two slots, not more.
	clk.step(time.Second)
	for range 3 {
		if err := h.wait(ctx, "swr.example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if s := clk.sleeps(); !slices.Equal(s, []time.Duration{500 * time.Millisecond}) {
		t.Errorf("after one idle second, waits %v, want 2 free slots then 500ms", s)
	}
}

func TestRateLimitPerHost(t *testing.T) {
	h, clk := newTestLimits(1, 1)
	ctx := context.Background()
	for _, host := range []string{"swr-api.region-a.example.com", "swr-api.region-b.example.com", "swr-api.region-b.example.com:8443"} {
		if err := h.wait(ctx, host); err != nil {
			t.Fatal(err)
		}
	}
	if s := clk.sleeps(); len(s) != 0 {
		t.Errorf("first request to each of three hosts waited %v: hosts must not share a budget", s)
	}
	// Host names are case-insensitive: this is region-a's second request.
	if err := h.wait(ctx, "SWR-API.Region-A.example.com"); err != nil {
		t.Fatal(err)
	}
	if s := clk.sleeps(); !slices.Equal(s, []time.Duration{time.Second}) {
		t.Errorf("second request to region-a (other case) waited %v, want 1s", s)
	}
}

func TestRateLimitConcurrentCallersQueue(t *testing.T) {
	h, clk := newTestLimits(10, 2)
	clk.advance = false // every caller reserves at the same instant
	const callers = 12
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() { errs <- h.wait(context.Background(), "swr.example.com") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := clk.sleeps()
	slices.Sort(got)
	// Two go at once (no sleep recorded); the other ten get consecutive 100ms slots.
	var want []time.Duration
	for i := 1; i <= callers-2; i++ {
		want = append(want, time.Duration(i)*100*time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Errorf("concurrent waits %v, want %v", got, want)
	}
}

func TestRateLimitDeadlineTooSoon(t *testing.T) {
	h, clk := newTestLimits(2, 1)
	if err := h.wait(context.Background(), "swr.example.com"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), clk.now().Add(100*time.Millisecond))
	defer cancel()
	err := h.wait(ctx, "swr.example.com")
	var swrErr *Error
	if !errors.As(err, &swrErr) || swrErr.Class != ClassThrottled || swrErr.RetryAfter != 500*time.Millisecond {
		t.Fatalf("next slot 500ms away, deadline in 100ms: got %#v, want ClassThrottled with RetryAfter 500ms", err)
	}
	if s := clk.sleeps(); len(s) != 0 {
		t.Errorf("waited %v for a slot past the deadline, want an immediate failure", s)
	}
	// The refused request gave its slot back: 500ms later the next one goes at once.
	clk.step(500 * time.Millisecond)
	if err := h.wait(context.Background(), "swr.example.com"); err != nil {
		t.Fatal(err)
	}
	if s := clk.sleeps(); len(s) != 0 {
		t.Errorf("waited %v after the refused request, want its slot returned", s)
	}
}

func TestRateLimitCancelled(t *testing.T) {
	h, clk := newTestLimits(1, 1)
	if err := h.wait(context.Background(), "swr.example.com"); err != nil {
		t.Fatal(err)
	}

	// Cancelled while waiting: ClassNetwork like a cancelled request, and the slot is returned.
	clk.sleepErr = context.Canceled
	err := h.wait(context.Background(), "swr.example.com")
	var swrErr *Error
	if !errors.As(err, &swrErr) || swrErr.Class != ClassNetwork || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: got %#v, want ClassNetwork wrapping context.Canceled", err)
	}
	clk.sleepErr = nil
	clk.sleeps()
	clk.step(time.Second)
	if err := h.wait(context.Background(), "swr.example.com"); err != nil {
		t.Fatal(err)
	}
	if s := clk.sleeps(); len(s) != 0 {
		t.Errorf("waited %v after a cancelled wait, want its slot returned", s)
	}

	// Already cancelled: fails before taking a slot.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.wait(ctx, "swr.example.com"); !errors.As(err, &swrErr) || swrErr.Class != ClassNetwork {
		t.Fatalf("cancelled context: got %v, want ClassNetwork", err)
	}
	clk.step(time.Second)
	if err := h.wait(context.Background(), "swr.example.com"); err != nil {
		t.Fatal(err)
	}
	if s := clk.sleeps(); len(s) != 0 {
		t.Errorf("a request refused for its cancelled context took a slot: next one waited %v", s)
	}

	// A deadline that passed is a timeout, not a cancellation.
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	if err := h.wait(expired, "swr.example.com"); !errors.As(err, &swrErr) || swrErr.Class != ClassTimeout {
		t.Fatalf("expired context: got %v, want ClassTimeout", err)
	}
}

func TestWithRateLimitOption(t *testing.T) {
	for _, tc := range []struct {
		qps       float64
		burst     int
		wantLimit bool
		wantBurst int
	}{
		{qps: 0, burst: 20},
		{qps: -1, burst: 20},
		{qps: 10, burst: 20, wantLimit: true, wantBurst: 20},
		{qps: 0.5, burst: 0, wantLimit: true, wantBurst: 1},
	} {
		t.Run(fmt.Sprintf("qps=%g,burst=%d", tc.qps, tc.burst), func(t *testing.T) {
			c := NewClient(WithRateLimit(tc.qps, tc.burst))
			switch {
			case !tc.wantLimit && c.limits != nil:
				t.Errorf("limit set, want none")
			case tc.wantLimit && c.limits == nil:
				t.Errorf("no limit, want one")
			case tc.wantLimit && (c.limits.limit != rate.Limit(tc.qps) || c.limits.burst != tc.wantBurst):
				t.Errorf("limit %v burst %d, want %v and %d", c.limits.limit, c.limits.burst, tc.qps, tc.wantBurst)
			}
		})
	}
	// No limit at all: waiting is a no-op.
	var none *hostLimits
	if err := none.wait(context.Background(), "swr.example.com"); err != nil {
		t.Errorf("nil limits: %v", err)
	}
}

func TestRateLimitPrunesOnlyIdleHosts(t *testing.T) {
	h, clk := newTestLimits(1, 1)
	ctx := context.Background()
	for i := range maxIdleHostLimiters {
		if err := h.wait(ctx, fmt.Sprintf("host-%d.example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.step(2 * time.Second)                               // every bucket refills: those hosts are idle
	if err := h.wait(ctx, "busy.example.com"); err != nil { // its bucket is now empty
		t.Fatal(err)
	}
	if err := h.wait(ctx, "new.example.com"); err != nil { // one host too many: sweeps
		t.Fatal(err)
	}
	h.mu.Lock()
	n := len(h.byHost)
	_, busyKept := h.byHost["busy.example.com"]
	h.mu.Unlock()
	if n != 2 {
		t.Errorf("%d limiters kept after the sweep, want 2 (busy and new)", n)
	}
	if !busyKept {
		t.Fatal("the limiter of a host that used its burst was pruned: its next request would skip the wait")
	}
	if err := h.wait(ctx, "busy.example.com"); err != nil {
		t.Fatal(err)
	}
	if s := clk.sleeps(); !slices.Equal(s, []time.Duration{time.Second}) {
		t.Errorf("busy host's next request waited %v, want 1s", s)
	}
}

// TestClientWaitsBeforeEachAttempt checks the hook in ListSyncRepos with a real server: the limit
// holds requests back before they reach the wire, and a slot beyond the deadline fails at once.
func TestClientWaitsBeforeEachAttempt(t *testing.T) {
	var mu sync.Mutex
	served := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		served++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	}))
	defer srv.Close()

	// One request per hour after a burst of two: the third cannot go within any test deadline.
	c := NewClient(WithRateLimit(1.0/3600, 2))
	target := Target{Endpoint: srv.URL, Organization: "acme", Repository: "library/nginx"}
	for i := range 2 {
		if _, err := c.ListSyncRepos(context.Background(), target, NewTokenAuth("t")); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.ListSyncRepos(ctx, target, NewTokenAuth("t"))
	var swrErr *Error
	if !errors.As(err, &swrErr) || swrErr.Class != ClassThrottled || swrErr.RetryAfter <= 10*time.Second {
		t.Fatalf("third request: got %v, want ClassThrottled with a RetryAfter beyond the deadline", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("the refused request took %s, want an immediate failure", elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	if served != 2 {
		t.Errorf("server saw %d requests, want 2: the throttled one must not be sent", served)
	}
}
