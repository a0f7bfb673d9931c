package controllers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// objectState is what one reconciler knows of each of its objects beyond their status and the
// cache: due times come from status, so after a restart nothing in it is missed but the work it
// saves. Each reconciler owns one, made by its constructor, and drops a deleted object from it
// with forget, which the reconciler's own forget calls together with the metrics' (see
// ImageRepositoryReconciler.forget): the one place that prunes.
//
// A record holds what the reconciler does for every kind (the workqueue backoff's limits, the
// Secret digest and the mark of a Secret event, the outcome of the last poll until the cache
// shows it) and two parts of its own kind: O lives as long as the object, G as long as one of
// its generations. The poll slots place the objects in their intervals.
//
// One mutex guards the records; every method holds it briefly and calls nothing outside this
// process while it does. The slots have their own.
type objectState[O, G any] struct {
	mu      sync.Mutex
	records map[types.NamespacedName]*objectRecord[O, G]
	slots   pollSlots
	// backoff is the workqueue rate limiter, which reads its limits from the records.
	backoff *pollBackoff
}

// objectRecord is the memory of one object.
type objectRecord[O, G any] struct {
	// uid and generation say which object and spec the record belongs to: a record of an earlier
	// object of the same name is reset on first use, its generation part at a new generation.
	// A record made for a key alone (by a Secret event or the backoff) has no uid yet.
	uid        types.UID
	generation int64
	// retryCap caps the backoff at the object's poll interval once known (hasRetryCap), and
	// retryAfter makes the next retry wait at least that long, as SWR asked.
	retryCap    time.Duration
	hasRetryCap bool
	retryAfter  time.Duration
	// secretDigest identifies the Secret data the last poll used (see credentials.Secrets.Digest),
	// so that a Secret event that changed no data causes no poll.
	secretDigest    [sha256.Size]byte
	hasSecretDigest bool
	// secretChanged is set by a Secret event and consumed by the next reconcile.
	secretChanged bool
	// outcome is the object with the status of this process's last poll (or retried mirror),
	// kept until the cache shows it: as the status patch returned it once written, as it was
	// meant to be written until then (see ownOutcome).
	outcome        client.Object
	outcomeWritten bool

	object       O
	ofGeneration G
}

// newObjectState returns an empty state.
func newObjectState[O, G any]() *objectState[O, G] {
	s := &objectState[O, G]{records: map[types.NamespacedName]*objectRecord[O, G]{}}
	s.backoff = newPollBackoff(s)
	return s
}

// recordLocked returns the record of obj, creating it, resetting it when it belongs to an
// earlier object of the same name (the backoff's limits and a Secret event's mark stay: they
// are about the name), and dropping the generation part of another generation. The caller holds
// s.mu.
func (s *objectState[O, G]) recordLocked(obj client.Object) *objectRecord[O, G] {
	rec := s.keyRecordLocked(client.ObjectKeyFromObject(obj))
	if rec.uid != obj.GetUID() {
		*rec = objectRecord[O, G]{uid: obj.GetUID(), generation: obj.GetGeneration(), secretChanged: rec.secretChanged,
			retryCap: rec.retryCap, hasRetryCap: rec.hasRetryCap, retryAfter: rec.retryAfter}
	}
	if obj.GetGeneration() > rec.generation {
		// A new spec may name another repository or organization: what was learned says nothing
		// about it, and its poll is due. (Only a later generation: a cache behind this process's
		// own status patch shows an earlier one.)
		var fresh G
		rec.generation, rec.ofGeneration, rec.outcome = obj.GetGeneration(), fresh, nil
	}
	return rec
}

// keyRecordLocked returns the record of key, creating one without a uid. The caller holds s.mu.
func (s *objectState[O, G]) keyRecordLocked(key types.NamespacedName) *objectRecord[O, G] {
	rec := s.records[key]
	if rec == nil {
		rec = &objectRecord[O, G]{}
		s.records[key] = rec
	}
	return rec
}

// markSecretChanged notes that a Secret key references changed; the object may not have been
// reconciled yet, so the mark is kept by key.
func (s *objectState[O, G]) markSecretChanged(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyRecordLocked(key).secretChanged = true
}

// takeSecretChanged reports whether a Secret of obj changed since the last call, and clears it.
func (s *objectState[O, G]) takeSecretChanged(obj client.Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(obj)
	changed := rec.secretChanged
	rec.secretChanged = false
	return changed
}

// rememberSecretDigest records the digest of the Secret data a poll used.
func (s *objectState[O, G]) rememberSecretDigest(obj client.Object, digest [sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(obj)
	rec.secretDigest, rec.hasSecretDigest = digest, true
}

// secretDigestChanged reports whether digest differs from the one the last poll used; true when
// this process has not polled obj yet, since it cannot know.
func (s *objectState[O, G]) secretDigestChanged(obj client.Object, digest [sha256.Size]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(obj)
	return !rec.hasSecretDigest || rec.secretDigest != digest
}

// setInterval caps the backoff of key at its poll interval.
func (s *objectState[O, G]) setInterval(key types.NamespacedName, interval time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.keyRecordLocked(key)
	rec.retryCap, rec.hasRetryCap = interval, true
}

// setRetryAfter makes the next retry of key wait at least d, as SWR asked.
func (s *objectState[O, G]) setRetryAfter(key types.NamespacedName, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyRecordLocked(key).retryAfter = d
}

// takeRetryLimits returns the cap of key's backoff (retryDefaultCap while its interval is
// unknown) and the Retry-After its next retry must wait at least, which it clears: it applies
// to one retry.
func (s *objectState[O, G]) takeRetryLimits(key types.NamespacedName) (limit, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.records[key]
	if rec == nil {
		return retryDefaultCap, 0
	}
	limit = retryDefaultCap
	if rec.hasRetryCap {
		limit = rec.retryCap
	}
	after, rec.retryAfter = rec.retryAfter, 0
	return limit, after
}

// forget drops everything known about a deleted object: its record and its poll slot.
func (s *objectState[O, G]) forget(key types.NamespacedName) {
	s.mu.Lock()
	delete(s.records, key)
	s.mu.Unlock()
	s.slots.forget(key)
}

// writeStatusPatch writes obj's status as the outcome of a poll: the merge patch of its
// difference from base (the object as the apiserver holds it, as far as this process knows),
// nothing when unchanged says there is none. Whether or not the patch succeeds, the outcome is
// remembered until the cache shows it (see ownOutcome): a status the apiserver refused is
// written by the next retry, and is not a reason to poll again. A deleted object is no error.
func writeStatusPatch[O, G any](ctx context.Context, c client.Client, s *objectState[O, G], base, obj client.Object, unchanged bool) error {
	if unchanged {
		return nil
	}
	err := c.Status().Patch(ctx, obj, client.MergeFrom(base))
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(obj)
	rec.outcome, rec.outcomeWritten = obj.DeepCopyObject().(client.Object), err == nil
	return client.IgnoreNotFound(err)
}

// ownOutcome returns the object to judge cached by, and the base of its next status patch (a
// copy the caller may not change). Both are cached itself, unless this process's last outcome for it is newer than what the cache
// shows:
//   - a status patch that failed (the apiserver refused it, or was down): the object is judged by
//     the status of that outcome, which must still be written (unwritten is true, and the base is cached), so
//     that a poll whose status was lost is not made again;
//   - a status patch the cache does not show yet: an event can trigger the next reconcile before
//     the informer has caught up, and judged by the stale status the poll that just ran would be
//     due again. The cache has caught up once it shows the patch's resourceVersion or a later one.
//
// After a restart there is nothing to remember, and the cache's first list is current.
// (A function, not a method: methods cannot have type parameters.)
func ownOutcome[T client.Object, O, G any](s *objectState[O, G], cached T) (judged, base T, unwritten bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(cached)
	outcome, ok := rec.outcome.(T)
	switch {
	case !ok:
		judged = cached
	case !rec.outcomeWritten:
		judged = cached.DeepCopyObject().(T)
		copyStatus(judged, outcome)
		return judged, cached, true
	case olderThan(cached, outcome):
		judged = outcome.DeepCopyObject().(T)
	default:
		rec.outcome = nil // the cache has caught up
		judged = cached
	}
	return judged, judged.DeepCopyObject().(T), false
}

// olderThan reports whether a is an earlier version of the same object than b. Resource versions
// of one resource are comparable integers (KEP-5504); should they ever not be, a is taken as not
// older, so that the cache is trusted as before.
func olderThan(a, b client.Object) bool {
	cmp, err := resourceversion.CompareResourceVersion(a.GetResourceVersion(), b.GetResourceVersion())
	return err == nil && cmp < 0
}

// copyStatus sets the status of into to that of from, two objects of the same kind.
func copyStatus(into, from client.Object) {
	switch into := into.(type) {
	case *swrv1.ImageRepository:
		from.(*swrv1.ImageRepository).Status.DeepCopyInto(&into.Status)
	case *swrv1.ImageOrganization:
		from.(*swrv1.ImageOrganization).Status.DeepCopyInto(&into.Status)
	default:
		panic(fmt.Sprintf("copyStatus: unexpected kind %T", into))
	}
}
