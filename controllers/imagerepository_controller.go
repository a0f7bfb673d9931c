package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// SWRReader is what the reconciler asks SWR: a repository's automatic sync policies and its
// newest sync jobs. *swr.Client implements it, and tests swap in their own.
type SWRReader interface {
	ListSyncRepos(ctx context.Context, target swr.Target, auth swr.Authenticator) ([]swr.SyncRepo, error)
	ListSyncJobs(ctx context.Context, target swr.Target, auth swr.Authenticator, limit int) (swr.SyncJobPage, error)
}

// ImageRepositoryReconciler polls SWR for each ImageRepository when a poll is due and mirrors the
// listed policies into SyncRepoTasks. Make one with NewImageRepositoryReconciler.
type ImageRepositoryReconciler struct {
	reconciler[repoState]
	SWR SWRReader
}

// NewImageRepositoryReconciler returns a reconciler that asks reader and is configured by o.
func NewImageRepositoryReconciler(o Options, reader SWRReader) *ImageRepositoryReconciler {
	return &ImageRepositoryReconciler{reconciler: newReconciler(o, newRepoState()), SWR: reader}
}

// Reconcile polls SWR for one ImageRepository when a poll is due, mirrors the listing and
// records the outcome in one status patch. Between polls it only puts back tasks that were
// deleted or edited by hand, and retries the writes that the Kubernetes API refused.
func (r *ImageRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cached := &swrv1.ImageRepository{}
	if found, err := r.fetch(ctx, req.NamespacedName, cached, r.forget); !found {
		return ctrl.Result{}, err
	}
	repo, base, unwritten := ownOutcome(r.state.objectState, cached)
	r.state.slots.seed(func() ([]slotObject, error) { return r.slotObjects(ctx) })
	// Suspended repositories keep their series: they still exist, and their tasks are kept.
	r.Metrics.observeRepository(repo, repo.PollInterval(r.MinInterval))
	r.state.setInterval(req.NamespacedName, repo.PollInterval(r.MinInterval))
	now := r.Clock.Now()
	// Consumed whatever happens next: a poll that was due anyway reads the Secret too.
	secretChanged := r.state.takeSecretChanged(repo)
	if repo.Spec.Suspend {
		markSuspended(repo, now)
		return ctrl.Result{}, r.patchStatus(ctx, base, repo)
	}
	if unwritten {
		// The status of the last poll could not be written: write it, rather than poll again.
		if err := r.patchStatus(ctx, base, repo); err != nil {
			return ctrl.Result{}, err
		}
	}

	secretDue := secretChanged && !r.nextPoll(repo, now).due && r.secretDataChanged(ctx, repo, &repo.Spec.SWRAccess)
	schedule := r.scheduleFor(repo, now, secretDue)
	if !schedule.due {
		return r.mirrorWanted(ctx, repo, now, schedule.wait)
	}

	// No status write before the poll: a new object's status defaults to observedGeneration -1
	// (see the CRD), which kstatus reads as in progress until the poll's outcome is written.
	before := repo.DeepCopy()
	log.FromContext(ctx).V(1).Info("polling SWR", "why", schedule.why)
	started := r.Clock.Now()
	outcome := r.poll(ctx, repo)
	r.Metrics.observePoll(outcome, r.Clock.Since(started))
	return r.recordOutcome(ctx, before, repo, outcome, now, true)
}

// forget drops everything this process knows of a deleted ImageRepository: its state and its
// metric series.
func (r *ImageRepositoryReconciler) forget(key types.NamespacedName) {
	r.state.forget(key)
	r.Metrics.forget(key)
}

// recordOutcome writes an outcome into repo's status in one patch, with its events, and returns
// when to come back.
func (r *ImageRepositoryReconciler) recordOutcome(ctx context.Context, before, repo *swrv1.ImageRepository, outcome pollOutcome, now time.Time, polled bool) (ctrl.Result, error) {
	applyOutcome(repo, outcome, now, polled)
	r.recordEvents(before, repo, outcome)
	// The gauges follow the outcome: should its status patch fail, it is remembered and written
	// by the next retry (see ownOutcome).
	if outcome.err == nil || outcome.drift {
		r.Metrics.recordStatus(repo)
	}
	r.Metrics.recordOutcome(repo, outcome)
	if err := r.patchStatus(ctx, before, repo); err != nil {
		return ctrl.Result{}, err
	}
	return r.resultFor(repo, outcome)
}

// slotObjects lists every ImageRepository the cache holds, to seed the poll slots.
func (r *ImageRepositoryReconciler) slotObjects(ctx context.Context) ([]slotObject, error) {
	list := &swrv1.ImageRepositoryList{}
	// Read-only: the cache's own objects, not copies of a thousand ImageRepositories.
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	objects := make([]slotObject, 0, len(list.Items))
	for i := range list.Items {
		repo := &list.Items[i]
		objects = append(objects, slotObject{key: client.ObjectKeyFromObject(repo), uid: repo.UID, interval: repo.PollInterval(r.MinInterval)})
	}
	return objects, nil
}

// nextPoll is nextPoll for repo at its slot.
func (r *ImageRepositoryReconciler) nextPoll(repo *swrv1.ImageRepository, now time.Time) pollSchedule {
	interval := repo.PollInterval(r.MinInterval)
	return nextPoll(repo, now, r.MinInterval, r.state.slots.phase(client.ObjectKeyFromObject(repo), repo.UID, interval))
}

// scheduleFor says whether a poll is due: by repo's status (see nextPoll), because a Secret it
// references changed its data, or because its last mirror failed and this process does not know
// what the poll wanted, to retry the writes (after a restart).
func (r *ImageRepositoryReconciler) scheduleFor(repo *swrv1.ImageRepository, now time.Time, secretDue bool) pollSchedule {
	schedule := r.nextPoll(repo, now)
	switch {
	case schedule.due:
	case secretDue:
		schedule = pollSchedule{due: true, why: "credentials Secret changed"}
	case mirrorFailed(repo):
		if _, ok := r.state.wanted(repo); !ok {
			schedule = pollSchedule{due: true, why: "the last mirror failed and this process does not know what it wanted"}
		}
	}
	return schedule
}

// poll asks SWR for the repository's policies (and sync jobs), works out the tasks they call
// for, remembers them, and mirrors them.
func (r *ImageRepositoryReconciler) poll(ctx context.Context, repo *swrv1.ImageRepository) pollOutcome {
	conn, err := r.connect(ctx, repo, &repo.Spec.SWRAccess)
	if err != nil {
		return failure(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, repo.RequestTimeout())
	defer cancel()
	target := swr.Target{
		Endpoint:     conn.endpoint,
		Organization: repo.Spec.Organization,
		Repository:   repo.Spec.Repository,
		CABundle:     conn.CABundle,
	}
	policies, err := r.SWR.ListSyncRepos(callCtx, target, conn.Auth)
	if err != nil {
		// A failed listing says nothing about which policies exist: keep every task.
		return failure(err)
	}
	l := listing{policies: policies}
	if repo.SyncJobsMode() == swrv1.SyncJobsObserve {
		// Jobs are asked for only once the policies are known: without them there is nothing to
		// attribute jobs to. A failed job listing still mirrors the policies.
		l.jobs = syncJobs{observed: true, limit: repo.SyncJobsLimit()}
		page, err := r.SWR.ListSyncJobs(callCtx, target, conn.Auth, l.jobs.limit)
		l.jobs.jobs, l.jobs.err = page.Jobs, err
	}
	existing, err := r.ownedTasks(ctx, repo)
	if err != nil {
		return failure(err)
	}
	statuses := wantedStatuses(l, existing, repo.Name, r.Clock.Now())
	listed := listingOutcome(repo, l, statuses)
	r.state.rememberWanted(repo, statuses, listed)
	changes, err := r.mirror(ctx, repo, statuses)
	return mirrorOutcome(listed, changes, err)
}

// listing is what one poll got from SWR: the policies, and what it learned of their sync jobs.
type listing struct {
	policies []swr.SyncRepo
	jobs     syncJobs
}

// mirrorWanted mirrors again what the last poll of repo's generation wanted, between polls: a
// task deleted or edited by hand comes back without another call to SWR, and writes that the
// Kubernetes API refused are retried (with the workqueue's backoff) until they succeed. After a
// restart nothing is known yet, and the next poll restores the tasks.
func (r *ImageRepositoryReconciler) mirrorWanted(ctx context.Context, repo *swrv1.ImageRepository, now time.Time, wait time.Duration) (ctrl.Result, error) {
	w, ok := r.state.wanted(repo)
	if !ok {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	before := repo.DeepCopy()
	changes, err := r.mirror(ctx, repo, w.statuses)
	if err == nil && !mirrorFailed(repo) {
		if changes.any() {
			log.FromContext(ctx).Info("restored sync tasks changed outside the operator", "changes", changes.String())
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.recordOutcome(ctx, before, repo, mirrorOutcome(w.listed, changes, err), now, false)
}

// resultFor turns a poll outcome into the reconcile result: the next due poll after a final
// outcome, or the workqueue's backoff (at least SWR's Retry-After) after a transient failure and
// after every failed mirror, which is retried until the refusal is lifted.
func (r *ImageRepositoryReconciler) resultFor(repo *swrv1.ImageRepository, out pollOutcome) (ctrl.Result, error) {
	if out.err != nil && (!out.stalled || out.mirrorPending) {
		if out.retryAfter > 0 {
			r.state.setRetryAfter(client.ObjectKeyFromObject(repo), out.retryAfter)
		}
		return ctrl.Result{}, fmt.Errorf("%s: %w", out.reason, out.err)
	}
	next := r.nextPoll(repo, r.Clock.Now())
	return ctrl.Result{RequeueAfter: max(next.wait, time.Second)}, nil
}

// patchStatus writes the status difference between base and repo (see writeStatusPatch).
func (r *ImageRepositoryReconciler) patchStatus(ctx context.Context, base, repo *swrv1.ImageRepository) error {
	return writeStatusPatch(ctx, r.Client, r.state.objectState, base, repo, equality.Semantic.DeepEqual(base.Status, repo.Status))
}

// recordEvents emits an event when the Ready condition changes and when tasks were written, but
// not for polls that change nothing; one event, not two, when both happen (as on the first
// mirror): the Ready one, with the writes in its message.
func (r *ImageRepositoryReconciler) recordEvents(before, after *swrv1.ImageRepository, out pollOutcome) {
	was, is := readyOf(before), readyOf(after)
	readyChanged := is != nil && (was == nil || was.Status != is.Status || was.Reason != is.Reason)
	if out.changes.any() && !readyChanged {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, ReasonTasksMirrored, "Mirror", "%s", out.changes.String())
	}
	if truncated := meta.FindStatusCondition(after.Status.Conditions, swrv1.ConditionPossiblyTruncated); truncated != nil &&
		!meta.IsStatusConditionTrue(before.Status.Conditions, swrv1.ConditionPossiblyTruncated) {
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, truncated.Reason, "Poll", "%s", truncated.Message)
	}
	if !readyChanged {
		return
	}
	eventType := corev1.EventTypeNormal
	if is.Status != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
	}
	message := is.Message
	if out.changes.any() {
		message += "; " + out.changes.String()
	}
	r.Recorder.Eventf(after, nil, eventType, is.Reason, "Poll", "%s", message)
}

// ReasonTasksMirrored is the reason of the event that tells of task writes when Ready stays the
// same.
const ReasonTasksMirrored = "TasksMirrored"
