package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// repoState is what the ImageRepository reconciler knows of each ImageRepository beyond its
// status (see objectState): besides what both reconcilers keep, this process's own writes that
// the cache may not show yet, and the last listing of the current generation.
type repoState struct {
	*objectState[repoWrites, repoListing]
}

func newRepoState() repoState {
	return repoState{newObjectState[repoWrites, repoListing]()}
}

// repoWrites are this process's own writes for one ImageRepository.
type repoWrites struct {
	// written holds the task writes that the cache may not show yet, by task name.
	written map[string]ownWrite
}

// repoListing is what one generation's polls got.
type repoListing struct {
	// listing is the last one SWR returned for this generation, whether or not it was mirrored
	// completely; hasListing is false until there is one.
	listing    listing
	hasListing bool
	// mirrorPending is true while the writes of that listing are not all done: they are retried
	// from the listing, without asking SWR again.
	mirrorPending bool
}

// ownWrite is a task write of this process: the object the apiserver returned, or the UID of a
// task it deleted.
type ownWrite struct {
	task       *swrv1.SyncRepoTask // nil for a delete
	deletedUID types.UID
}

// listing is what one poll got from SWR: the policies, and what it learned of their sync jobs.
type listing struct {
	policies []swr.SyncRepo
	jobs     syncJobs
}

// rememberListing keeps the listing SWR returned for repo's current generation; its writes are
// pending until mirrored.
func (s repoState) rememberListing(repo *swrv1.ImageRepository, l listing) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(repo)
	rec.ofGeneration = repoListing{listing: l, hasListing: true, mirrorPending: true}
}

// setMirrored records whether the remembered listing is now mirrored completely.
func (s repoState) setMirrored(repo *swrv1.ImageRepository, mirrored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(repo).ofGeneration.mirrorPending = !mirrored
}

// listing returns the remembered listing of repo's current generation, and whether its writes
// are still pending.
func (s repoState) lastListing(repo *swrv1.ImageRepository) (l listing, ok, pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.recordLocked(repo).ofGeneration
	return g.listing, g.hasListing, g.mirrorPending
}

// rememberWrite records a task as the apiserver returned it from this process's write.
func (s repoState) rememberWrite(repo *swrv1.ImageRepository, written *swrv1.SyncRepoTask) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(repo)
	if rec.object.written == nil {
		rec.object.written = map[string]ownWrite{}
	}
	rec.object.written[written.Name] = ownWrite{task: written.DeepCopy()}
}

// rememberDelete records that this process deleted the task name with uid.
func (s repoState) rememberDelete(repo *swrv1.ImageRepository, name string, uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(repo)
	if rec.object.written == nil {
		rec.object.written = map[string]ownWrite{}
	}
	rec.object.written[name] = ownWrite{deletedUID: uid}
}

// believedTasks returns the tasks of repo as the apiserver holds them, as far as this process
// knows: the cached tasks, except where the cache does not show this process's own last write
// yet. Without it, the reconcile that a task's own write event triggers sees the task as it was
// before the write, and writes it again. Writes the cache has caught up with are forgotten.
func (s repoState) believedTasks(repo *swrv1.ImageRepository, cached map[string]*swrv1.SyncRepoTask) map[string]*swrv1.SyncRepoTask {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(repo)
	for name, w := range rec.object.written {
		current, inCache := cached[name]
		switch {
		case w.task == nil && (!inCache || current.UID != w.deletedUID):
			delete(rec.object.written, name) // the cache has seen the delete
		case w.task == nil:
			delete(cached, name) // deleted, though the cache still has it
		case inCache && current.UID == w.task.UID && !olderThan(current, w.task):
			delete(rec.object.written, name) // the cache has caught up
		case inCache && current.UID != w.task.UID && !olderThan(current, w.task):
			delete(rec.object.written, name) // replaced by someone else since: the cache is the truth
		default:
			cached[name] = w.task.DeepCopy()
		}
	}
	return cached
}

// isOwnWrite reports whether a task update event shows only this process's own write (or an
// earlier state), which needs no reconcile: the writer knew what it wrote.
func (s repoState) isOwnWrite(task client.Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, w, ok := s.ownWriteLocked(task)
	if !ok || w.task == nil || w.task.UID != task.GetUID() {
		return false
	}
	if task.GetResourceVersion() == w.task.ResourceVersion {
		delete(rec.object.written, task.GetName()) // observed: the cache holds it now
	}
	return !olderThan(w.task, task)
}

// isOwnDelete reports whether a task delete event is of a task this process deleted, and forgets
// the delete.
func (s repoState) isOwnDelete(task client.Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, w, ok := s.ownWriteLocked(task)
	if !ok {
		return false
	}
	delete(rec.object.written, task.GetName())
	return w.task == nil && w.deletedUID == task.GetUID()
}

// ownWriteLocked finds the record of task's controlling ImageRepository and this process's last
// write of task in it. The caller holds s.mu.
func (s repoState) ownWriteLocked(task client.Object) (*objectRecord[repoWrites, repoListing], ownWrite, bool) {
	owner := metav1.GetControllerOf(task)
	if owner == nil {
		return nil, ownWrite{}, false
	}
	rec := s.records[types.NamespacedName{Namespace: task.GetNamespace(), Name: owner.Name}]
	if rec == nil || rec.uid != owner.UID {
		return nil, ownWrite{}, false
	}
	w, ok := rec.object.written[task.GetName()]
	return rec, w, ok
}
