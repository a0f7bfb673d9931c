package swr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxIdleHostLimiters is how many per-host limiters the client keeps before it sweeps out the
// idle ones. A limiter whose bucket is full behaves exactly like a new one, so dropping it never
// lets a request through early; the sweep only bounds memory when specs name many endpoints.
const maxIdleHostLimiters = 256

// WithRateLimit limits the requests the client sends to each SWR endpoint host to qps per second
// on average, with bursts of up to burst requests, so that a cold start of thousands of
// ImageRepositories (or a fast retry loop) cannot flood one regional API, which answers a flood
// with throttling errors for every tenant's automation. Each host (and port) of the endpoint has
// its own budget: repositories in different regions do not slow each other down.
//
// Every attempt waits for its turn before it is authenticated and sent, including the retry after
// a 401, so that an AK/SK signature or a token is never stale by the time it goes out. The wait is
// bounded by the request's context: when the next free slot lies beyond the context's deadline,
// the call fails at once with ClassThrottled and a RetryAfter saying when a slot frees up; a
// cancelled context fails with ClassNetwork ("request cancelled"), as a cancelled request does.
// IAM token requests are not limited: the TokenCache sends one per credential and token lifetime.
//
// qps <= 0 disables the limit (the default). burst below 1 is raised to 1, because a limiter with
// no burst would refuse every request.
func WithRateLimit(qps float64, burst int) Option {
	return func(c *Client) {
		if qps <= 0 {
			c.limits = nil
			return
		}
		c.limits = newHostLimits(rate.Limit(qps), max(burst, 1), time.Now, sleepContext)
	}
}

// hostLimits hands out one token bucket per endpoint host.
type hostLimits struct {
	limit rate.Limit
	burst int
	// now and sleep are time.Now and sleepContext outside tests; tests inject a fake clock so
	// that nothing really waits.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	byHost map[string]*rate.Limiter
}

func newHostLimits(limit rate.Limit, burst int, now func() time.Time, sleep func(context.Context, time.Duration) error) *hostLimits {
	return &hostLimits{limit: limit, burst: burst, now: now, sleep: sleep, byHost: map[string]*rate.Limiter{}}
}

// wait blocks until host may be sent one more request, or fails with an *Error when ctx ends or
// its deadline comes before the request's turn. A nil receiver (no limit) returns at once.
func (h *hostLimits) wait(ctx context.Context, host string) error {
	if h == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return limiterContextError(host, err)
	}
	lim := h.limiter(host)
	now := h.now()
	// A reservation, rather than rate.Limiter.Wait, lets the clock be injected and the slot be
	// given back when the caller stops waiting, so that a cancelled poll does not delay others.
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		// Unreachable with burst >= 1; refusing is still better than sending unthrottled.
		return &Error{Class: ClassThrottled, Host: host, Message: "client-side rate limit refuses every request"}
	}
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Sub(now) < delay {
		r.CancelAt(now)
		return &Error{Class: ClassThrottled, Host: host, RetryAfter: delay,
			Message: fmt.Sprintf("client-side rate limit of %g requests per second to %s leaves no slot before the request deadline", float64(h.limit), host)}
	}
	if err := h.sleep(ctx, delay); err != nil {
		r.CancelAt(h.now())
		return limiterContextError(host, err)
	}
	return nil
}

// limiter returns the bucket of host, creating it on first use. Hosts are compared
// case-insensitively, as DNS names are.
func (h *hostLimits) limiter(host string) *rate.Limiter {
	key := strings.ToLower(host)
	h.mu.Lock()
	defer h.mu.Unlock()
	if lim, ok := h.byHost[key]; ok {
		return lim
	}
	if len(h.byHost) >= maxIdleHostLimiters {
		h.pruneLocked()
	}
	lim := rate.NewLimiter(h.limit, h.burst)
	h.byHost[key] = lim
	return lim
}

// pruneLocked forgets the limiters whose bucket has refilled: a new limiter for the same host
// starts full too, so nothing changes for callers. The caller holds h.mu.
func (h *hostLimits) pruneLocked() {
	now := h.now()
	for host, lim := range h.byHost {
		if lim.TokensAt(now) >= float64(h.burst) {
			delete(h.byHost, host)
		}
	}
}

// limiterContextError classifies a wait that ended with its context, as transportError classifies
// a request that did.
func limiterContextError(host string, err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Class: ClassTimeout, Host: host, Message: "waiting for the client-side rate limit", Err: err}
	}
	return &Error{Class: ClassNetwork, Host: host, Message: "request cancelled", Err: err}
}

// sleepContext waits for d or until ctx ends, whichever comes first.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
