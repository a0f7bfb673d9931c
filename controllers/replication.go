package controllers

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// maxFailedTags bounds status.failedTags: enough to act on, small enough for every task.
const maxFailedTags = 10

// syncJobs is what a poll learned of SWR's sync jobs.
type syncJobs struct {
	// observed is false with spec.syncJobs.mode Ignore: no job was asked for.
	observed bool
	// jobs is the page SWR returned, newest first; meaningful only when err is nil.
	jobs []swr.SyncJob
	// limit is how many jobs were asked for, for messages.
	limit int
	// err is the failure of the job listing; the tasks then keep their last job state.
	err error
}

// target names a policy's destination, the pair that attributes a job to its policy.
type target struct{ region, namespace string }

func (t target) String() string { return t.region + "/" + t.namespace }

// replication is one target's state as the job page shows it.
type replication struct {
	last       *swr.SyncJob
	failedTags []string
	// lastSuccess is the updatedAt of the newest job that succeeded, "" when none did.
	lastSuccess string
}

// replicationFor reads the jobs of t from a page. Jobs are ordered newest first by creation
// time (then id), whatever order SWR sent them in; a tag counts as failed when its newest job
// failed, timed out or was cancelled, so a later success clears it.
func replicationFor(jobs []swr.SyncJob, t target) replication {
	var mine []swr.SyncJob
	for _, j := range jobs {
		if (target{j.RemoteRegionID, j.RemoteNamespace}) == t {
			mine = append(mine, j)
		}
	}
	slices.SortStableFunc(mine, func(a, b swr.SyncJob) int {
		if c := compareJobTimes(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	var rep replication
	seenTags := map[string]bool{}
	for i := range mine {
		j := &mine[i]
		if rep.last == nil {
			rep.last = j
		}
		if rep.lastSuccess == "" && jobSucceeded(j.Status) {
			rep.lastSuccess = j.UpdatedAt
		}
		if seenTags[j.Tag] {
			continue
		}
		seenTags[j.Tag] = true
		if jobFailed(j.Status) && len(rep.failedTags) < maxFailedTags {
			rep.failedTags = append(rep.failedTags, j.Tag)
		}
	}
	return rep
}

// compareJobTimes orders SWR's UTC time strings, which vary in their number of fraction digits,
// by time; a string that does not parse sorts as the oldest.
func compareJobTimes(a, b string) int {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return ta.Compare(tb)
}

func jobFailed(status string) bool {
	return status == swr.SyncJobFailed || status == swr.SyncJobTimeout || status == swr.SyncJobCancel
}

// jobSucceeded counts "existed" (the target had the image already) as a success.
func jobSucceeded(status string) bool {
	return status == swr.SyncJobSuccess || status == swr.SyncJobExisted
}

// replicatedCondition is the task's Replicated condition for rep.
func replicatedCondition(rep replication, t target, limit int) (metav1.ConditionStatus, string, string) {
	switch {
	case len(rep.failedTags) > 0:
		return metav1.ConditionFalse, swrv1.ReasonSyncFailed,
			fmt.Sprintf("%s failed to sync to %s: %s", plural(len(rep.failedTags), "tag"), t, strings.Join(rep.failedTags, ", "))
	case rep.last == nil:
		return metav1.ConditionUnknown, swrv1.ReasonNoSyncJobs,
			fmt.Sprintf("none of the newest %d sync jobs of the repository goes to %s", limit, t)
	case jobSucceeded(rep.last.Status):
		return metav1.ConditionTrue, swrv1.ReasonSucceeded, fmt.Sprintf("tag %s synced to %s", rep.last.Tag, t)
	default:
		// waiting, running, or a status SWR has not documented: not known to have worked yet.
		return metav1.ConditionUnknown, swrv1.ReasonSyncInProgress,
			fmt.Sprintf("the sync job of tag %s to %s is %s", rep.last.Tag, t, rep.last.Status)
	}
}

// withReplication sets the job fields of a task's desired status: from the job page when there
// is one; kept from current when the job listing failed (a failed listing says nothing about
// replication); cleared when jobs are not observed.
func withReplication(status *swrv1.SyncRepoTaskStatus, current *swrv1.SyncRepoTask, jobs syncJobs, now time.Time) {
	switch {
	case !jobs.observed:
		return
	case jobs.err != nil:
		if current != nil {
			status.LastSyncJob = current.Status.LastSyncJob.DeepCopy()
			status.FailedTags = slices.Clone(current.Status.FailedTags)
			status.Conditions = slices.Clone(current.Status.Conditions)
		}
		return
	}
	t := target{status.RemoteRegionID, status.RemoteNamespace}
	rep := replicationFor(jobs.jobs, t)
	if rep.last != nil {
		status.LastSyncJob = &swrv1.SyncJobSummary{ID: rep.last.ID, Tag: rep.last.Tag, Status: rep.last.Status,
			CreatedAt: rep.last.CreatedAt, UpdatedAt: rep.last.UpdatedAt}
	}
	status.FailedTags = rep.failedTags
	if current != nil {
		// meta.SetStatusCondition keeps lastTransitionTime while the status stays the same.
		status.Conditions = slices.Clone(current.Status.Conditions)
	}
	condStatus, reason, message := replicatedCondition(rep, t, jobs.limit)
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type: swrv1.ConditionReplicated, Status: condStatus, Reason: reason, Message: message,
		LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	})
}

// replicationHealth is the ImageRepository's ReplicationHealthy condition over the wanted
// statuses of its tasks (named after repoName); nil when jobs are not observed, so that the condition is removed.
func replicationHealth(repoName string, statuses []swrv1.SyncRepoTaskStatus, jobs syncJobs) *metav1.Condition {
	if !jobs.observed {
		return nil
	}
	if jobs.err != nil {
		return &metav1.Condition{Type: swrv1.ConditionReplicationHealthy, Status: metav1.ConditionUnknown,
			Reason: swrv1.ReasonJobsUnavailable, Message: "listing the sync jobs failed: " + jobs.err.Error()}
	}
	var failing []string
	for i := range statuses {
		status := &statuses[i]
		if meta.IsStatusConditionFalse(status.Conditions, swrv1.ConditionReplicated) {
			failing = append(failing, fmt.Sprintf("%s (to %s/%s: %s)", TaskName(repoName, status.ID), status.RemoteRegionID,
				status.RemoteNamespace, strings.Join(status.FailedTags, ", ")))
		}
	}
	if len(failing) > 0 {
		slices.Sort(failing)
		return &metav1.Condition{Type: swrv1.ConditionReplicationHealthy, Status: metav1.ConditionFalse, Reason: swrv1.ReasonSyncFailed,
			Message: fmt.Sprintf("%d of %s failing: %s", len(failing), plural(len(statuses), "sync task"), strings.Join(failing, "; "))}
	}
	return &metav1.Condition{Type: swrv1.ConditionReplicationHealthy, Status: metav1.ConditionTrue, Reason: swrv1.ReasonSucceeded,
		Message: fmt.Sprintf("no failed tags in the newest %d sync jobs", jobs.limit)}
}

// policyDrift lists how policies differ from spec.expectedPolicies: each expected target that is
// missing or has another syncAuto or override, and with spec.unexpectedPolicies Report each
// listed target that is not expected. Nothing is drift while expectedPolicies is empty.
func policyDrift(spec *swrv1.ImageRepositorySpec, policies []swr.SyncRepo) []string {
	if len(spec.ExpectedPolicies) == 0 {
		return nil
	}
	listed := make(map[target]swr.SyncRepo, len(policies))
	for _, p := range policies {
		listed[target{p.RemoteRegionID, p.RemoteNamespace}] = p
	}
	var diffs []string
	expected := map[target]bool{}
	for _, e := range spec.ExpectedPolicies {
		t := target{e.RemoteRegionID, e.RemoteNamespace}
		expected[t] = true
		p, ok := listed[t]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("no policy to %s", t))
			continue
		case e.SyncAuto != nil && p.SyncAuto != *e.SyncAuto:
			diffs = append(diffs, fmt.Sprintf("the policy to %s has syncAuto %t, expected %t", t, p.SyncAuto, *e.SyncAuto))
		}
		if e.Override != nil && p.Override != *e.Override {
			diffs = append(diffs, fmt.Sprintf("the policy to %s has override %t, expected %t", t, p.Override, *e.Override))
		}
	}
	if spec.UnexpectedPolicies == swrv1.UnexpectedPoliciesReport {
		for _, p := range policies {
			if t := (target{p.RemoteRegionID, p.RemoteNamespace}); !expected[t] {
				diffs = append(diffs, fmt.Sprintf("unexpected policy %d to %s", p.ID, t))
			}
		}
	}
	return diffs
}

// plural returns "1 tag", "2 tags".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
