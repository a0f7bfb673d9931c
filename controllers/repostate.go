package controllers

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// repoState is what the ImageRepository reconciler knows of each ImageRepository beyond its
// status (see objectState): besides what both reconcilers keep, what the last poll of its current
// generation wants its tasks to be.
type repoState struct {
	*objectState[struct{}, wantedTasks]
}

func newRepoState() repoState {
	return repoState{newObjectState[struct{}, wantedTasks]()}
}

// wantedTasks is what one generation's last poll wants: the status of each task, and the outcome
// its listing implies before any write. It is all that mirroring again needs: a task deleted or
// edited by hand is put back, and writes the apiserver refused are retried, without asking SWR
// again. The SWR pages themselves are not kept: a sync_job page is up to 100 jobs, far more than
// the few fields of them each task holds.
type wantedTasks struct {
	// statuses are the tasks' statuses in the order SWR listed their policies; byName finds the
	// index of a task's status by the task's name.
	statuses []swrv1.SyncRepoTaskStatus
	byName   map[string]int
	// listed is the outcome of the listing, before the writes (see listingOutcome).
	listed pollOutcome
	// ok is false until a poll of this generation listed the policies.
	ok bool
}

// rememberWanted keeps what the poll of repo's current generation that just listed its policies
// wants.
func (s repoState) rememberWanted(repo *swrv1.ImageRepository, statuses []swrv1.SyncRepoTaskStatus, listed pollOutcome) {
	byName := make(map[string]int, len(statuses))
	for i := range statuses {
		byName[TaskName(repo.Name, statuses[i].ID)] = i
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(repo).ofGeneration = wantedTasks{statuses: statuses, byName: byName, listed: listed, ok: true}
}

// wanted returns what the last poll of repo's current generation wants, and whether there is
// such a poll. The statuses are shared: callers only read them.
func (s repoState) wanted(repo *swrv1.ImageRepository) (wantedTasks, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.recordLocked(repo).ofGeneration
	return w, w.ok
}

// taskNeedsMirror reports whether a SyncRepoTask, as an event shows it, may need to be put back:
// it is not what its ImageRepository's last poll wants (someone else changed it, or it belongs to
// no known poll). The events of the operator's own writes show what is wanted, and so cause no
// reconcile.
func (s repoState) taskNeedsMirror(task *swrv1.SyncRepoTask) bool {
	owner := metav1.GetControllerOf(task)
	if owner == nil {
		return false // not controlled by an ImageRepository: nothing of the operator's
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.records[types.NamespacedName{Namespace: task.Namespace, Name: owner.Name}]
	if rec == nil || rec.uid != owner.UID || !rec.ofGeneration.ok {
		return true
	}
	w := rec.ofGeneration
	i, wanted := w.byName[task.Name]
	return !wanted || task.Labels[swrv1.ImageRepositoryLabel] != ImageRepositoryLabelValue(owner.Name) ||
		!equality.Semantic.DeepEqual(task.Status, w.statuses[i])
}
