package controllers

import (
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

// pollBackoff is the workqueue rate limiter of both controllers: per-object exponential backoff
// capped at the object's poll interval, never shorter than a Retry-After that SWR sent with the
// failure. Those limits are kept with the rest of what the reconciler knows of each object (see
// objectState), which the reconciler sets them in.
type pollBackoff struct {
	exponential workqueue.TypedRateLimiter[reconcile.Request]
	limits      retryLimits
}

// retryLimits gives the limits of one object's next retry (see objectState.takeRetryLimits).
type retryLimits interface {
	takeRetryLimits(key types.NamespacedName) (limit, after time.Duration)
}

var _ workqueue.TypedRateLimiter[reconcile.Request] = (*pollBackoff)(nil)

func newPollBackoff(limits retryLimits) *pollBackoff {
	return &pollBackoff{
		// The exponential limiter's own maximum is only a safety net; the per-object cap rules.
		exponential: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](retryBaseDelay, 24*time.Hour),
		limits:      limits,
	}
}

// When returns how long to wait before retrying req after a failure.
func (b *pollBackoff) When(req reconcile.Request) time.Duration {
	delay := b.exponential.When(req)
	limit, after := b.limits.takeRetryLimits(req.NamespacedName)
	return max(min(delay, limit), after)
}

// Forget resets the backoff of req after a success.
func (b *pollBackoff) Forget(req reconcile.Request) { b.exponential.Forget(req) }

// NumRequeues returns how often req has failed in a row.
func (b *pollBackoff) NumRequeues(req reconcile.Request) int { return b.exponential.NumRequeues(req) }
