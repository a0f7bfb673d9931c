package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Retries of a transient failure back off exponentially from retryBaseDelay, doubling at every
// failure, up to the object's own poll interval: a repository that keeps failing is asked no more
// often than one that works, and no less often either. retryDefaultCap applies until the first
// reconcile of an object has told the backoff its interval.
const (
	retryBaseDelay  = time.Second
	retryDefaultCap = 5 * time.Minute
)

// pollBackoff is the workqueue rate limiter of the ImageRepository controller: per-object
// exponential backoff capped at the object's poll interval, never shorter than a Retry-After
// that SWR sent with the failure.
type pollBackoff struct {
	exponential workqueue.TypedRateLimiter[reconcile.Request]

	mu         sync.Mutex
	caps       map[types.NamespacedName]time.Duration
	retryAfter map[types.NamespacedName]time.Duration
}

func newPollBackoff() *pollBackoff {
	return &pollBackoff{
		// The exponential limiter's own maximum is only a safety net; the per-object cap rules.
		exponential: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](retryBaseDelay, 24*time.Hour),
		caps:        map[types.NamespacedName]time.Duration{},
		retryAfter:  map[types.NamespacedName]time.Duration{},
	}
}

// When returns how long to wait before retrying req after a failure.
func (b *pollBackoff) When(req reconcile.Request) time.Duration {
	delay := b.exponential.When(req)
	b.mu.Lock()
	defer b.mu.Unlock()
	limit, ok := b.caps[req.NamespacedName]
	if !ok {
		limit = retryDefaultCap
	}
	delay = min(delay, limit)
	if after := b.retryAfter[req.NamespacedName]; after > delay {
		delay = after
	}
	delete(b.retryAfter, req.NamespacedName)
	return delay
}

// Forget resets the backoff of req after a success.
func (b *pollBackoff) Forget(req reconcile.Request) { b.exponential.Forget(req) }

// NumRequeues returns how often req has failed in a row.
func (b *pollBackoff) NumRequeues(req reconcile.Request) int { return b.exponential.NumRequeues(req) }

// setInterval caps the backoff of key at its poll interval.
func (b *pollBackoff) setInterval(key types.NamespacedName, interval time.Duration) {
	if b == nil {
		return // a reconciler driven directly by unit tests has no workqueue
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.caps[key] = interval
}

// setRetryAfter makes the next retry of key wait at least d, as SWR asked.
func (b *pollBackoff) setRetryAfter(key types.NamespacedName, d time.Duration) {
	if b == nil {
		return // a reconciler driven directly by unit tests has no workqueue
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.retryAfter[key] = d
}

// forget drops what is known about a deleted object.
func (b *pollBackoff) forget(key types.NamespacedName) {
	if b == nil {
		return // a reconciler driven directly by unit tests has no workqueue
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.caps, key)
	delete(b.retryAfter, key)
}
