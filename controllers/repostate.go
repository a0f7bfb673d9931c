package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// repoState is what the ImageRepository reconciler knows of each ImageRepository beyond its
// status (see objectState): besides what both reconcilers keep, the content of its tasks, and the
// last listing of the current generation.
type repoState struct {
	*objectState[repoTasks, repoListing]
}

func newRepoState() repoState {
	return repoState{newObjectState[repoTasks, repoListing]()}
}

// repoTasks is what this process knows of one ImageRepository's tasks beyond the metadata its
// cache holds: the content of each task it wrote or read, by task name.
//
// The manager watches SyncRepoTasks as metadata only (see SetupWithManager): a watch of the
// whole objects had the apiserver encode every task write to JSON for the manager and the
// manager decode it, which cost as much CPU as the writes themselves. A task's content is known
// from this process's own writes, whose answers carry it; a resourceVersion in the cache later
// than the known one is a write by someone else, and only then (and after a restart) is the
// task read.
type repoTasks struct {
	known map[string]knownTask
}

// knownTask is one task as this process last wrote or read it, or the UID of a task it deleted.
type knownTask struct {
	task       *swrv1.SyncRepoTask // nil for a delete
	deletedUID types.UID
	// inCache is set once the cache has shown this task (its UID): from then on, a cache
	// without it means that someone deleted it. Before, it means that the cache has not shown
	// this process's create yet, for at most unseenWriteGrace after rememberedAt.
	inCache      bool
	rememberedAt time.Time
}

// unseenWriteGrace is how long a task this process wrote is believed while the cache has never
// shown it. The cache shows a write within milliseconds; one it has not shown for a minute was
// lost to it (a delete inside a watch gap, which the relist does not report for an object it
// never had), and the task is judged as missing again: createTask then reads it if it exists.
const unseenWriteGrace = time.Minute

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

// listing is what one poll got from SWR: the policies, and what it learned of their sync jobs.
type listing struct {
	policies []swr.SyncRepo
	jobs     syncJobs
}

// rememberListing keeps the listing SWR returned for repo's current generation; its writes are
// pending until mirrored.
func (s repoState) rememberListing(repo *swrv1.ImageRepository, l listing) {
	taskStrings.internListing(&l) // before taking s.mu: the interner has its own lock
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

// rememberWrite records a task as the apiserver returned it from this process's write at now.
func (s repoState) rememberWrite(repo *swrv1.ImageRepository, written *swrv1.SyncRepoTask, now time.Time) {
	s.remember(repo, written, false, now)
}

// rememberRead records a task as a live read returned it at now; inCache says whether the cache
// shows it.
func (s repoState) rememberRead(repo *swrv1.ImageRepository, read *swrv1.SyncRepoTask, inCache bool, now time.Time) {
	s.remember(repo, read, inCache, now)
}

func (s repoState) remember(repo *swrv1.ImageRepository, task *swrv1.SyncRepoTask, inCache bool, now time.Time) {
	// Without managedFields, as the cache's transform drops them (the operator never reads them);
	// left out of the copy rather than copied and dropped: this runs for every task write.
	managed := task.ManagedFields
	task.ManagedFields = nil
	kept := task.DeepCopy()
	task.ManagedFields = managed
	taskStrings.internTask(kept)
	s.mu.Lock()
	defer s.mu.Unlock()
	known := s.knownLocked(repo)
	if before, ok := known[kept.Name]; ok && before.task != nil && before.task.UID == kept.UID {
		inCache = inCache || before.inCache
	}
	known[kept.Name] = knownTask{task: kept, inCache: inCache, rememberedAt: now}
}

// rememberDelete records that this process deleted the task name with uid.
func (s repoState) rememberDelete(repo *swrv1.ImageRepository, name string, uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knownLocked(repo)[name] = knownTask{deletedUID: uid}
}

// knownLocked returns the known tasks of repo, creating the map. The caller holds s.mu.
func (s repoState) knownLocked(repo *swrv1.ImageRepository) map[string]knownTask {
	rec := s.recordLocked(repo)
	if rec.object.known == nil {
		rec.object.known = map[string]knownTask{}
	}
	return rec.object.known
}

// believedTasks returns the tasks of repo as the apiserver holds them, as far as this process
// knows, given the metadata of the tasks the cache shows: the known content of each task whose
// cached version is not later than the known one (the cache may not show this process's own
// last write yet: judged by the cache, the reconcile that a write's event triggers would write
// again), and the known tasks that the cache has not shown yet (for unseenWriteGrace, by now).
// unknown names the cached tasks
// whose content must be read: those never written nor read by this process, and those someone
// else wrote since.
func (s repoState) believedTasks(repo *swrv1.ImageRepository, cached map[string]*metav1.PartialObjectMetadata, now time.Time) (believed map[string]*swrv1.SyncRepoTask, unknown []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := s.knownLocked(repo)
	believed = make(map[string]*swrv1.SyncRepoTask, len(cached))
	for name, k := range known {
		current, inCache := cached[name]
		switch {
		case k.task == nil && (!inCache || current.UID != k.deletedUID):
			delete(known, name) // the cache has seen the delete
		case k.task == nil:
			delete(cached, name) // deleted, though the cache still has it
		case !inCache && (k.inCache || now.Sub(k.rememberedAt) > unseenWriteGrace):
			// Deleted by someone else: the cache showed it and no longer does, or never showed
			// this process's write in all that time.
			delete(known, name)
		case !inCache:
			believed[name] = k.task.DeepCopy() // created by this process; the cache will show it
		case olderThan(k.task, current):
			delete(known, name) // written by someone else since
		default:
			// The cache shows this version or an earlier one (of this task, or of one this
			// process replaced).
			if current.UID == k.task.UID {
				k.inCache = true
				known[name] = k
			}
			believed[name] = k.task.DeepCopy()
			delete(cached, name)
		}
	}
	for name := range cached {
		if _, ok := believed[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	return believed, unknown
}

// isOwnWrite reports whether a task update event shows only this process's own write (or an
// earlier state), which needs no reconcile: the writer knew what it wrote.
func (s repoState) isOwnWrite(task client.Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, k, ok := s.knownTaskLocked(task)
	if !ok || k.task == nil || k.task.UID != task.GetUID() {
		return false
	}
	if !k.inCache {
		k.inCache = true
		rec.object.known[task.GetName()] = k
	}
	return !olderThan(k.task, task)
}

// isOwnDelete reports whether a task delete event is of a task this process deleted, and forgets
// the task.
func (s repoState) isOwnDelete(task client.Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, k, ok := s.knownTaskLocked(task)
	if !ok {
		return false
	}
	delete(rec.object.known, task.GetName())
	return k.task == nil && k.deletedUID == task.GetUID()
}

// knownTaskLocked finds the record of task's controlling ImageRepository and what this process
// knows of task in it. The caller holds s.mu.
func (s repoState) knownTaskLocked(task client.Object) (*objectRecord[repoTasks, repoListing], knownTask, bool) {
	owner := metav1.GetControllerOf(task)
	if owner == nil {
		return nil, knownTask{}, false
	}
	rec := s.records[types.NamespacedName{Namespace: task.GetNamespace(), Name: owner.Name}]
	if rec == nil || rec.uid != owner.UID {
		return nil, knownTask{}, false
	}
	k, ok := rec.object.known[task.GetName()]
	return rec, k, ok
}
