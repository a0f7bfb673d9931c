package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// pollSchedule says whether a poll is due now and, if not, how long until it is.
type pollSchedule struct {
	due bool
	// why explains a due poll, for the log.
	why string
	// wait is the time until the next poll when it is not due.
	wait time.Duration
}

// nextPoll decides from the object and its phase (see pollSlots) whether SWR must be polled now.
// Deriving it from status rather than from a memory of earlier reconciles is what makes a manager
// restart, or an event that changes nothing, cost no extra poll.
func nextPoll(repo *swrv1.ImageRepository, now time.Time, minInterval, phase time.Duration) pollSchedule {
	return pollState{
		generation: repo.Generation, observedGeneration: repo.Status.ObservedGeneration,
		requestedAt: repo.GetRequestedAt(), handledRequest: repo.Status.LastHandledReconcileAt,
		lastPoll: repo.Status.LastPollTime,
		// A failed mirror is retried from the listing in hand, not by asking SWR again.
		retrying: isRetrying(repo.Status.Conditions) && !mirrorFailed(repo),
		interval: repo.PollInterval(minInterval), phase: phase,
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
	// phase places the object's polls inside its interval (see pollSlots and nextSlot).
	phase time.Duration
}

// schedule says whether a poll is due now: for a spec not polled yet, a new requested-at value,
// a first poll, a retry (the workqueue's backoff, not the interval, paces those), or the object's
// next slot.
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
	next := nextSlot(s.lastPoll.Time, s.interval, s.phase)
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
