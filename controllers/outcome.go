package controllers

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// pollOutcome is the result of one poll: a mirrored listing, or a failure with its reason.
type pollOutcome struct {
	// tasks is the number of policies mirrored, on success.
	tasks int
	// changes counts the task writes of a successful poll.
	changes mirrorChanges
	// err is nil on success.
	err error
	// reason is the Ready reason of a failure.
	reason string
	// stalled marks a failure that only a person can fix: it is not retried with backoff.
	stalled bool
	// retryAfter is how long SWR asked the operator to wait, if it did.
	retryAfter time.Duration
	// drift marks a mirrored listing that does not satisfy spec.expectedPolicies.
	drift bool
	// mirrorPending marks a failure to write a listing SWR did return: the writes are retried
	// from that listing with backoff, without asking SWR again, stalled or not.
	mirrorPending bool
	// replication is the ReplicationHealthy condition the listing implies, nil to remove it;
	// meaningful only when hasReplication is set (an outcome with a listing).
	replication    *metav1.Condition
	hasReplication bool
	// targets are the tasks' replication states, for metrics.
	targets []targetReplication
}

// targetReplication is one task's replication state as metrics export it.
type targetReplication struct {
	target
	failedTags int
	// lastSuccess is the updatedAt of the newest successful job, "" when none.
	lastSuccess string
}

// listingOutcome is what a listing of policies implies, before its tasks are written: with
// statuses, the tasks' wanted statuses, the ImageRepository's ReplicationHealthy condition and the
// targets' replication for metrics; and whether the policies satisfy spec.expectedPolicies. A
// listing that does not is PolicyDrift, Stalled: only a person (in the SWR console) can change the
// policies. Its tasks are mirrored all the same.
func listingOutcome(repo *swrv1.ImageRepository, l listing, statuses []swrv1.SyncRepoTaskStatus) pollOutcome {
	out := pollOutcome{tasks: len(l.policies), hasReplication: true, replication: replicationHealth(repo.Name, statuses, l.jobs)}
	if l.jobs.observed && l.jobs.err == nil {
		for i := range statuses {
			t := target{statuses[i].RemoteRegionID, statuses[i].RemoteNamespace}
			out.targets = append(out.targets, targetReplication{target: t, failedTags: len(statuses[i].FailedTags),
				lastSuccess: replicationFor(l.jobs.jobs, t).lastSuccess})
		}
	}
	if diffs := policyDrift(&repo.Spec, l.policies); len(diffs) > 0 {
		out.err = fmt.Errorf("the sync policies differ from spec.expectedPolicies: %s", strings.Join(diffs, "; "))
		out.reason = swrv1.ReasonPolicyDrift
		out.stalled = true
		out.drift = true
	}
	return out
}

// mirrorOutcome is the outcome of mirroring a listing whose outcome before the writes is listed:
// that outcome with the writes' changes, or a MirrorFailed failure whose writes are retried.
// Refusals that only a person can lift (RBAC, admission, a ResourceQuota: Forbidden; a schema or
// webhook: Invalid) are Stalled, so that kstatus readers see them as failed rather than in
// progress.
func mirrorOutcome(listed pollOutcome, changes mirrorChanges, err error) pollOutcome {
	out := listed
	out.changes = changes
	if err != nil {
		out.err = summarizeWriteErrors(err)
		out.reason = swrv1.ReasonMirrorFailed
		out.stalled = apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
		out.mirrorPending = true
		out.drift = false
	}
	return out
}

// summarizeWriteErrors keeps a condition message to one line and a bounded length when many
// writes failed: the first refusal, which names the object and the apiserver's reason, and how
// many more there were.
func summarizeWriteErrors(err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) < 2 {
		return err
	}
	errs := joined.Unwrap()
	return fmt.Errorf("%w (and %d more refused writes)", errs[0], len(errs)-1)
}

// mirrorFailed reports whether the last outcome recorded in repo's status is a MirrorFailed one.
func mirrorFailed(repo *swrv1.ImageRepository) bool {
	ready := readyOf(repo)
	return ready != nil && ready.Reason == swrv1.ReasonMirrorFailed
}

func readyOf(repo *swrv1.ImageRepository) *metav1.Condition {
	return meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
}

// failure classifies err into the Ready reason and whether a person must act.
func failure(err error) pollOutcome {
	out := pollOutcome{err: err}
	var credErr *credentials.Error
	var apiErr *swr.Error
	switch {
	case errors.As(err, &credErr):
		out.reason, out.stalled = reasonForProblem(credErr.Problem), true
	case errors.As(err, &apiErr):
		out.retryAfter = apiErr.RetryAfter
		out.reason, out.stalled = reasonForClass(apiErr.Class)
	default:
		// The Kubernetes API failed reading the Secret: retry, and tell a refusal that only a
		// person can lift from a passing failure.
		out.reason = swrv1.ReasonMirrorFailed
		out.stalled = apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
	}
	return out
}

// reasonForProblem maps what a person must fix about credentials or an endpoint to the Ready
// reason.
func reasonForProblem(p credentials.Problem) string {
	switch p {
	case credentials.NotFound:
		return swrv1.ReasonCredentialsNotFound
	case credentials.CertificateInvalid:
		return swrv1.ReasonCertificateInvalid
	case credentials.EndpointRefused:
		return swrv1.ReasonEndpointNotAllowed
	default:
		return swrv1.ReasonCredentialsInvalid
	}
}

// reasonForClass maps an SWR error class to the Ready reason, and says whether the failure needs
// a person (true) or is retried with backoff (false).
func reasonForClass(class swr.Class) (string, bool) {
	switch class {
	case swr.ClassUnauthorized:
		return swrv1.ReasonAuthenticationFailed, true
	case swr.ClassForbidden:
		return swrv1.ReasonAccessDenied, true
	case swr.ClassNotFound:
		return swrv1.ReasonRepositoryNotFound, true
	case swr.ClassBadRequest:
		return swrv1.ReasonInvalidRequest, true
	case swr.ClassThrottled:
		return swrv1.ReasonThrottled, false
	default:
		return swrv1.ReasonUpstreamUnavailable, false
	}
}

// applyOutcome writes an outcome into repo's status at now: the outcome of a poll of SWR made
// now when polled is true, or else of retrying the writes of the listing the last poll got.
func applyOutcome(repo *swrv1.ImageRepository, out pollOutcome, now time.Time, polled bool) {
	status := &repo.Status
	if polled {
		polledAt := metav1.NewTime(now.Truncate(time.Second))
		status.LastPollTime = &polledAt
		status.LastHandledReconcileAt = repo.GetRequestedAt()
	}
	gen := repo.Generation
	if out.hasReplication {
		if out.replication == nil {
			meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReplicationHealthy)
		} else {
			setCondition(repo, out.replication.Type, out.replication.Status, out.replication.Reason, out.replication.Message, now)
		}
	}
	switch {
	case out.drift:
		// Mirrored like a success; Ready says the policies are not the expected ones.
		status.LastSuccessfulPollTime = status.LastPollTime
		status.TaskCount = int32(out.tasks)
		status.ObservedGeneration = gen
		setCondition(repo, swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error(), now)
		setCondition(repo, swrv1.ConditionStalled, metav1.ConditionTrue, out.reason, out.err.Error(), now)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
		setTruncated(repo, out.tasks, now)
	case out.err == nil:
		status.LastSuccessfulPollTime = status.LastPollTime
		status.TaskCount = int32(out.tasks)
		status.ObservedGeneration = gen
		setCondition(repo, swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, taskCountMessage(out.tasks), now)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
		setTruncated(repo, out.tasks, now)
	case out.mirrorPending:
		// The listing of this generation is in hand; only its writes are pending, and they are
		// retried from it, so the generation is observed.
		status.ObservedGeneration = gen
		setCondition(repo, swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error(), now)
		if out.stalled {
			setCondition(repo, swrv1.ConditionStalled, metav1.ConditionTrue, out.reason, out.err.Error(), now)
			meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
		} else {
			setCondition(repo, swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying,
				fmt.Sprintf("retrying after %s", out.reason), now)
			meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
		}
	case out.stalled:
		status.ObservedGeneration = gen
		setCondition(repo, swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error(), now)
		setCondition(repo, swrv1.ConditionStalled, metav1.ConditionTrue, out.reason, out.err.Error(), now)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
	default:
		// observedGeneration is left alone: the outcome for this generation is not final yet.
		setCondition(repo, swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error(), now)
		setCondition(repo, swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying,
			fmt.Sprintf("retrying after %s", out.reason), now)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
	}
}

// markSuspended records that polling is suspended (see suspendConditions); mirrored tasks stay
// as they are.
func markSuspended(repo *swrv1.ImageRepository, now time.Time) {
	repo.Status.ObservedGeneration = repo.Generation
	suspendConditions(&repo.Status.Conditions, repo.Generation, "polling",
		taskCountMessage(int(repo.Status.TaskCount)), now)
}

// maxConditionMessage is the longest message the apiserver accepts in a metav1.Condition.
const maxConditionMessage = 32768

// suspendConditions records in conditions, at generation, that activity ("polling",
// "discovery") is suspended by spec.suspend while kept (e.g. "2 sync tasks") stays as it is.
//
// Pausing on purpose is neither a failure nor progress, so Ready keeps its status and with it its
// lastTransitionTime: alerts and GitOps health on Ready=False do not fire, and a failure that was
// there before the suspension is not hidden. Ready's reason becomes Suspended, and its message
// (the Status printer column, kubectl describe) says so and carries the last outcome. Reconciling
// and Stalled are removed, the kstatus way of saying False: nothing is in progress, and nothing
// waits for a person. A Ready condition that already says Suspended is left as it is, so that
// reconciles while suspended never wrap the last outcome twice. Before any outcome Ready is
// absent; it becomes Unknown, which is what an absent condition means, so that the reason shows.
func suspendConditions(conditions *[]metav1.Condition, generation int64, activity, kept string, now time.Time) {
	ready := meta.FindStatusCondition(*conditions, swrv1.ConditionReady)
	status := metav1.ConditionUnknown
	message := fmt.Sprintf("%s is suspended (spec.suspend); %s kept", activity, kept)
	switch {
	case ready == nil:
		message += "; no outcome yet"
	case ready.Reason == swrv1.ReasonSuspended:
		status, message = ready.Status, ready.Message
	default:
		status = ready.Status
		message += fmt.Sprintf("; before: %s: %s", ready.Reason, ready.Message)
	}
	setConditionOf(conditions, generation, swrv1.ConditionReady, status, swrv1.ReasonSuspended, truncateMessage(message), now)
	meta.RemoveStatusCondition(conditions, swrv1.ConditionReconciling)
	meta.RemoveStatusCondition(conditions, swrv1.ConditionStalled)
}

// truncateMessage shortens a condition message to what the apiserver accepts, on a rune
// boundary: the last outcome quoted in a Suspended message may already be long.
func truncateMessage(message string) string {
	if len(message) <= maxConditionMessage {
		return message
	}
	const ellipsis = "..."
	cut := maxConditionMessage - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(message[cut]) {
		cut--
	}
	return message[:cut] + ellipsis
}

func setCondition(repo *swrv1.ImageRepository, condType string, status metav1.ConditionStatus, reason, message string, now time.Time) {
	setConditionOf(&repo.Status.Conditions, repo.Generation, condType, status, reason, message, now)
}

// setConditionOf sets a condition of an object at generation, keeping its lastTransitionTime
// while its status stays the same.
func setConditionOf(conditions *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string, now time.Time) {
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
		LastTransitionTime: metav1.NewTime(now),
	})
}

func taskCountMessage(n int) string {
	if n == 1 {
		return "1 sync task"
	}
	return fmt.Sprintf("%d sync tasks", n)
}

// setTruncated flags a listing as full as SWR makes one: the call documents no paging, so a full
// page may hide more policies.
func setTruncated(repo *swrv1.ImageRepository, tasks int, now time.Time) {
	if tasks >= swr.MaxSyncReposPerList {
		setCondition(repo, swrv1.ConditionPossiblyTruncated, metav1.ConditionTrue, swrv1.ReasonListingLimitReached,
			fmt.Sprintf("SWR returned %d policies, the most one listing holds; more may exist and are not mirrored", tasks), now)
		return
	}
	meta.RemoveStatusCondition(&repo.Status.Conditions, swrv1.ConditionPossiblyTruncated)
}
