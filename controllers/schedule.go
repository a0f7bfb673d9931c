package controllers

import (
	"hash/fnv"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// jitterFraction spreads polls by +-10% of the interval, so that repositories created together
// do not poll SWR together forever.
const jitterFraction = 0.1

// pollSchedule says whether a poll is due now and, if not, how long until it is.
type pollSchedule struct {
	due bool
	// why explains a due poll, for the log.
	why string
	// wait is the time until the next poll when it is not due.
	wait time.Duration
}

// nextPoll decides from the object alone (no memory of earlier reconciles) whether SWR must be
// polled now. Deriving it from status is what makes a manager restart, or an event that changes
// nothing, cost no extra poll.
func nextPoll(repo *swrv1.ImageRepository, now time.Time, minInterval time.Duration) pollSchedule {
	return pollState{
		generation: repo.Generation, observedGeneration: repo.Status.ObservedGeneration,
		requestedAt: repo.GetRequestedAt(), handledRequest: repo.Status.LastHandledReconcileAt,
		lastPoll: repo.Status.LastPollTime,
		// A failed mirror is retried from the listing in hand, not by asking SWR again.
		retrying: isRetrying(repo.Status.Conditions) && !mirrorFailed(repo),
		interval: repo.PollInterval(minInterval), uid: string(repo.UID),
	}.schedule(now)
}

// pollState is what an object's status says about when it is next polled.
type pollState struct {
	generation, observedGeneration int64
	requestedAt, handledRequest    string
	lastPoll                       *metav1.Time
	// retrying is set while a transient failure is retried.
	retrying bool
	interval time.Duration
	uid      string
}

// schedule says whether a poll is due now: for a spec not polled yet, a new requested-at value,
// a first poll, a retry (the workqueue's backoff, not the interval, paces those), or an elapsed
// interval.
func (s pollState) schedule(now time.Time) pollSchedule {
	switch {
	case s.observedGeneration != s.generation:
		return pollSchedule{due: true, why: "new generation"}
	case s.requestedAt != "" && s.requestedAt != s.handledRequest:
		return pollSchedule{due: true, why: "requested by annotation"}
	case s.lastPoll == nil:
		return pollSchedule{due: true, why: "never polled"}
	case s.retrying:
		return pollSchedule{due: true, why: "retrying after a transient failure"}
	}
	last := s.lastPoll.Time
	next := last.Add(jitteredInterval(s.interval, s.uid, last))
	if !now.Before(next) {
		return pollSchedule{due: true, why: "interval elapsed"}
	}
	return pollSchedule{wait: next.Sub(now)}
}

// isRetrying reports whether conditions say the last poll failed in a way that is retried with
// backoff.
func isRetrying(conditions []metav1.Condition) bool {
	c := meta.FindStatusCondition(conditions, swrv1.ConditionReconciling)
	return c != nil && c.Reason == swrv1.ReasonRetrying
}

// jitteredInterval returns interval scaled by a factor in [0.9, 1.1). The factor is a hash of the
// object and its last poll rather than a random draw, so that it is the same after a restart
// (no schedule drift, no extra poll) yet differs between objects and between rounds.
func jitteredInterval(interval time.Duration, uid string, lastPoll time.Time) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	_, _ = h.Write([]byte(strconv.FormatInt(lastPoll.Unix(), 10)))
	unit := float64(h.Sum64()>>11) / float64(1<<53) // uniform in [0, 1)
	factor := 1 + jitterFraction*(2*unit-1)
	return time.Duration(float64(interval) * factor)
}
