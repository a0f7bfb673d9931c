package controllers

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectState is what one reconciler knows of each of its objects beyond their status: nothing
// in it is needed for correctness after a restart (due times come from status), it only saves
// work. Each reconciler owns one, made by its constructor, and drops a deleted object from it
// with forget, which the reconciler's own forget calls together with the metrics' (see
// ImageRepositoryReconciler.forget): the one place that prunes.
//
// A record holds what the reconciler does for every kind (the workqueue backoff's limits, the
// Secret digest and the mark of a Secret event) and two parts of its own kind: O lives as long
// as the object, G as long as one of its generations. The poll slots place the objects in their
// intervals.
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
	// statusWritten is the object as this process's last status patch returned it, until the
	// cache shows that version or a later one (see newest).
	statusWritten client.Object

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
	if rec.generation != obj.GetGeneration() {
		// A new spec may name another repository or organization: what was learned says nothing
		// about it.
		var fresh G
		rec.generation, rec.ofGeneration = obj.GetGeneration(), fresh
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

// rememberStatusWrite records obj as the apiserver returned it from this process's status patch.
func (s *objectState[O, G]) rememberStatusWrite(obj client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(obj).statusWritten = obj.DeepCopyObject().(client.Object)
}

// writeStatusPatch writes the status difference between before and obj as a merge patch, and
// nothing when unchanged says there is none. A deleted object is no error. The object the
// apiserver returns is remembered until the cache shows it (see newest).
func writeStatusPatch[O, G any](ctx context.Context, c client.Client, s *objectState[O, G], before, obj client.Object, unchanged bool) error {
	if unchanged {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		return client.IgnoreNotFound(err)
	}
	s.rememberStatusWrite(obj)
	return nil
}

// newest returns the newest version of cached that s knows: cached itself, or the object this
// process's own last status patch returned when the cache does not show that patch yet. An event
// can trigger the next reconcile before the informer has caught up with the status patch of the
// poll that just ran; judged by the stale status, that poll would look due again. This is what
// kube-controller-manager calls an expectation, and it replaces a live read of the object per
// poll. After a restart there is nothing to remember, and the cache's first list is current.
// (A function, not a method: methods cannot have type parameters.)
func newest[T client.Object, O, G any](s *objectState[O, G], cached T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(cached)
	written, ok := rec.statusWritten.(T)
	switch {
	case !ok:
		return cached
	case written.GetUID() == cached.GetUID() && olderThan(cached, written):
		return written.DeepCopyObject().(T)
	default:
		rec.statusWritten = nil // the cache has caught up
		return cached
	}
}

// olderThan reports whether a is an earlier version of the same object than b. Resource versions
// of one resource are comparable integers (KEP-5504); should they ever not be, a is taken as not
// older, so that the cache is trusted as before.
func olderThan(a, b client.Object) bool {
	cmp, err := resourceversion.CompareResourceVersion(a.GetResourceVersion(), b.GetResourceVersion())
	return err == nil && cmp < 0
}
