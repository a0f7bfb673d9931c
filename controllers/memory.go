package controllers

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// repoMemory is what this process knows about each ImageRepository beyond its status: nothing in
// it is needed for correctness after a restart (due times come from status), it only saves work.
// One mutex guards it all; every method is short and makes no call outside the process. Its zero
// value is ready to use.
type repoMemory struct {
	mu      sync.Mutex
	records map[types.NamespacedName]*repoRecord
}

// repoRecord is the memory of one ImageRepository.
type repoRecord struct {
	// uid and generation say which object and spec the listing belongs to; a record of an
	// earlier object of the same name is reset on first use.
	uid        types.UID
	generation int64
	// listing is the last one SWR returned for this generation, whether or not it was
	// mirrored completely; hasListing is false until there is one.
	listing    listing
	hasListing bool
	// mirrorPending is true while the writes of that listing are not all done: they are retried
	// from the listing, without asking SWR again.
	mirrorPending bool
	// secretDigest identifies the Secret data the last poll used (see secretsDigest), so that a
	// Secret event that changed no data causes no poll.
	secretDigest    [32]byte
	hasSecretDigest bool
	// secretChanged is set by a Secret event and consumed by the next reconcile.
	secretChanged bool
	// written holds this process's own task writes that the cache may not show yet, by task name.
	written map[string]ownWrite
	// statusWritten is the ImageRepository as this process's last status patch returned it, until
	// the cache shows that version or a later one.
	statusWritten *swrv1.ImageRepository
}

// ownWrite is a task write of this process: the object the apiserver returned, or the UID of a
// task it deleted.
type ownWrite struct {
	task       *swrv1.SyncRepoTask // nil for a delete
	deletedUID types.UID
}

// recordLocked returns the record of repo, creating it, or resetting it when it belongs to an
// earlier object of the same name. The caller holds m.mu.
func (m *repoMemory) recordLocked(repo *swrv1.ImageRepository) *repoRecord {
	if m.records == nil {
		m.records = map[types.NamespacedName]*repoRecord{}
	}
	key := client.ObjectKeyFromObject(repo)
	rec := m.records[key]
	if rec == nil || rec.uid != repo.UID {
		triggered := rec != nil && rec.secretChanged
		rec = &repoRecord{uid: repo.UID, generation: repo.Generation, secretChanged: triggered}
		m.records[key] = rec
	}
	if rec.generation != repo.Generation {
		// A new spec may name another repository: the listing says nothing about it.
		rec.generation, rec.listing, rec.hasListing, rec.mirrorPending = repo.Generation, listing{}, false, false
	}
	return rec
}

// listing is what one poll got from SWR: the policies, and what it learned of their sync jobs.
type listing struct {
	policies []swr.SyncRepo
	jobs     syncJobs
}

// rememberListing keeps the listing SWR returned for repo's current generation; its writes are
// pending until mirrored.
func (m *repoMemory) rememberListing(repo *swrv1.ImageRepository, l listing) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	rec.listing, rec.hasListing, rec.mirrorPending = l, true, true
}

// rememberSecretDigest records the digest of the Secret data a poll used.
func (m *repoMemory) rememberSecretDigest(repo *swrv1.ImageRepository, digest [32]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	rec.secretDigest, rec.hasSecretDigest = digest, true
}

// setMirrored records whether the remembered listing is now mirrored completely.
func (m *repoMemory) setMirrored(repo *swrv1.ImageRepository, mirrored bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recordLocked(repo).mirrorPending = !mirrored
}

// listing returns the remembered listing of repo's current generation, and whether its writes
// are still pending.
func (m *repoMemory) lastListing(repo *swrv1.ImageRepository) (l listing, ok, pending bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	return rec.listing, rec.hasListing, rec.mirrorPending
}

// secretDigestChanged reports whether digest differs from the one the last poll used; true when
// this process has not polled repo yet, since it cannot know.
func (m *repoMemory) secretDigestChanged(repo *swrv1.ImageRepository, digest [32]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	return !rec.hasSecretDigest || rec.secretDigest != digest
}

// markSecretChanged notes that a Secret key references changed; the object may not have been
// reconciled yet, so the mark is kept by key.
func (m *repoMemory) markSecretChanged(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records == nil {
		m.records = map[types.NamespacedName]*repoRecord{}
	}
	rec := m.records[key]
	if rec == nil {
		rec = &repoRecord{}
		m.records[key] = rec
	}
	rec.secretChanged = true
}

// takeSecretChanged reports whether a Secret of repo changed since the last call, and clears it.
func (m *repoMemory) takeSecretChanged(repo *swrv1.ImageRepository) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	changed := rec.secretChanged
	rec.secretChanged = false
	return changed
}

// rememberWrite records a task as the apiserver returned it from this process's write.
func (m *repoMemory) rememberWrite(repo *swrv1.ImageRepository, written *swrv1.SyncRepoTask) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	if rec.written == nil {
		rec.written = map[string]ownWrite{}
	}
	rec.written[written.Name] = ownWrite{task: written.DeepCopy()}
}

// rememberDelete records that this process deleted the task name with uid.
func (m *repoMemory) rememberDelete(repo *swrv1.ImageRepository, name string, uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	if rec.written == nil {
		rec.written = map[string]ownWrite{}
	}
	rec.written[name] = ownWrite{deletedUID: uid}
}

// believedTasks returns the tasks of repo as the apiserver holds them, as far as this process
// knows: the cached tasks, except where the cache does not show this process's own last write
// yet. Without it, the reconcile that a task's own write event triggers sees the task as it was
// before the write, and writes it again. Writes the cache has caught up with are forgotten.
func (m *repoMemory) believedTasks(repo *swrv1.ImageRepository, cached map[string]*swrv1.SyncRepoTask) map[string]*swrv1.SyncRepoTask {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(repo)
	for name, w := range rec.written {
		current, inCache := cached[name]
		switch {
		case w.task == nil && (!inCache || current.UID != w.deletedUID):
			delete(rec.written, name) // the cache has seen the delete
		case w.task == nil:
			delete(cached, name) // deleted, though the cache still has it
		case inCache && current.UID == w.task.UID && !olderThan(current, w.task):
			delete(rec.written, name) // the cache has caught up
		case inCache && current.UID != w.task.UID && !olderThan(current, w.task):
			delete(rec.written, name) // replaced by someone else since: the cache is the truth
		default:
			cached[name] = w.task.DeepCopy()
		}
	}
	return cached
}

// isOwnWrite reports whether a task update event shows only this process's own write (or an
// earlier state), which needs no reconcile: the writer knew what it wrote.
func (m *repoMemory) isOwnWrite(task client.Object) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, w, ok := m.ownWriteLocked(task)
	if !ok || w.task == nil || w.task.UID != task.GetUID() {
		return false
	}
	if task.GetResourceVersion() == w.task.ResourceVersion {
		delete(rec.written, task.GetName()) // observed: the cache holds it now
	}
	return !olderThan(w.task, task)
}

// isOwnDelete reports whether a task delete event is of a task this process deleted, and forgets
// the delete.
func (m *repoMemory) isOwnDelete(task client.Object) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, w, ok := m.ownWriteLocked(task)
	if !ok {
		return false
	}
	delete(rec.written, task.GetName())
	return w.task == nil && w.deletedUID == task.GetUID()
}

// ownWriteLocked finds the record of task's controlling ImageRepository and this process's last
// write of task in it. The caller holds m.mu.
func (m *repoMemory) ownWriteLocked(task client.Object) (*repoRecord, ownWrite, bool) {
	owner := metav1.GetControllerOf(task)
	if owner == nil {
		return nil, ownWrite{}, false
	}
	rec := m.records[types.NamespacedName{Namespace: task.GetNamespace(), Name: owner.Name}]
	if rec == nil || rec.uid != owner.UID {
		return nil, ownWrite{}, false
	}
	w, ok := rec.written[task.GetName()]
	return rec, w, ok
}

// rememberStatusWrite records repo as the apiserver returned it from this process's status patch.
func (m *repoMemory) rememberStatusWrite(repo *swrv1.ImageRepository) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recordLocked(repo).statusWritten = repo.DeepCopy()
}

// newest returns the newest version of cached that this process knows: cached itself, or the
// object its own last status patch returned when the cache does not show that patch yet. A task
// event can trigger the next reconcile before the informer has caught up with the status patch
// of the poll that just ran; judged by the stale status, that poll would look due again. This is
// what kube-controller-manager calls an expectation, and it replaces a live read of the object
// per poll. After a restart there is nothing to remember, and the cache's first list is current.
func (m *repoMemory) newest(cached *swrv1.ImageRepository) *swrv1.ImageRepository {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recordLocked(cached)
	written := rec.statusWritten
	switch {
	case written == nil:
		return cached
	case written.UID == cached.UID && olderThan(cached, written):
		return written.DeepCopy()
	default:
		rec.statusWritten = nil // the cache has caught up
		return cached
	}
}

// forget drops everything known about a deleted ImageRepository.
func (m *repoMemory) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, key)
}

// olderThan reports whether a is an earlier version of the same object than b. Resource versions
// of one resource are comparable integers (KEP-5504); should they ever not be, a is taken as not
// older, so that the cache is trusted as before.
func olderThan(a, b client.Object) bool {
	cmp, err := resourceversion.CompareResourceVersion(a.GetResourceVersion(), b.GetResourceVersion())
	return err == nil && cmp < 0
}
