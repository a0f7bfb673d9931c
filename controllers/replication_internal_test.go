package controllers

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

func job(id int64, region, namespace, tag, status, createdAt string) swr.SyncJob {
	return swr.SyncJob{ID: id, RemoteRegionID: region, RemoteNamespace: namespace, Tag: tag, Status: status,
		CreatedAt: createdAt, UpdatedAt: createdAt}
}

func TestReplicationForOrdersByTimeNotBySWRsOrder(t *testing.T) {
	a := target{"cn-north-4", "mirror"}
	jobs := []swr.SyncJob{
		// Oldest first, with fraction digits that sort wrongly as strings.
		job(1, "cn-north-4", "mirror", "v1", swr.SyncJobFailed, "2026-11-30T08:00:00.9Z"),
		job(2, "cn-north-4", "mirror", "v1", swr.SyncJobSuccess, "2026-11-30T08:00:01.12Z"),
		job(3, "cn-north-4", "mirror", "v2", swr.SyncJobTimeout, "2026-11-30T08:00:02Z"),
		job(4, "cn-north-4", "other", "v3", swr.SyncJobFailed, "2026-11-30T09:00:00Z"),
		job(5, "cn-east-3", "mirror", "v4", swr.SyncJobFailed, "2026-11-30T09:00:00Z"),
	}
	rep := replicationFor(jobs, a)
	if rep.last == nil || rep.last.ID != 3 {
		t.Fatalf("newest job %+v, want id 3", rep.last)
	}
	if !slices.Equal(rep.failedTags, []string{"v2"}) {
		t.Errorf("failed tags %v, want [v2]: v1 succeeded after failing, v3 and v4 go elsewhere", rep.failedTags)
	}
	if rep.lastSuccess != "2026-11-30T08:00:01.12Z" {
		t.Errorf("last success %q", rep.lastSuccess)
	}
}

func TestReplicationForCapsFailedTags(t *testing.T) {
	var jobs []swr.SyncJob
	for i := range 15 {
		jobs = append(jobs, job(int64(i), "r", "n", "v"+string(rune('a'+i)), swr.SyncJobFailed,
			time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339)))
	}
	rep := replicationFor(jobs, target{"r", "n"})
	if len(rep.failedTags) != maxFailedTags || rep.failedTags[0] != "vo" {
		t.Fatalf("failed tags %v, want the 10 newest, newest first", rep.failedTags)
	}
}

func TestReplicatedConditionStates(t *testing.T) {
	tgt := target{"r", "n"}
	for _, c := range []struct {
		name   string
		jobs   []swr.SyncJob
		status metav1.ConditionStatus
		reason string
	}{
		{"no jobs", nil, metav1.ConditionUnknown, swrv1.ReasonNoSyncJobs},
		{"waiting", []swr.SyncJob{job(1, "r", "n", "v1", swr.SyncJobWaiting, "2026-01-01T00:00:00Z")}, metav1.ConditionUnknown, swrv1.ReasonSyncInProgress},
		{"an undocumented status", []swr.SyncJob{job(1, "r", "n", "v1", "paused", "2026-01-01T00:00:00Z")}, metav1.ConditionUnknown, swrv1.ReasonSyncInProgress},
		{"existed", []swr.SyncJob{job(1, "r", "n", "v1", swr.SyncJobExisted, "2026-01-01T00:00:00Z")}, metav1.ConditionTrue, swrv1.ReasonSucceeded},
		{"cancelled, then another tag running", []swr.SyncJob{
			job(1, "r", "n", "v1", swr.SyncJobCancel, "2026-01-01T00:00:00Z"),
			job(2, "r", "n", "v2", swr.SyncJobRunning, "2026-01-01T00:01:00Z")}, metav1.ConditionFalse, swrv1.ReasonSyncFailed},
	} {
		status, reason, _ := replicatedCondition(replicationFor(c.jobs, tgt), tgt, 100)
		if status != c.status || reason != c.reason {
			t.Errorf("%s: %s %s, want %s %s", c.name, status, reason, c.status, c.reason)
		}
	}
}

func TestWithReplicationKeepsTheTransitionTimeAndTheLastStateOnAFailedListing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jobs := syncJobs{observed: true, limit: 100, jobs: []swr.SyncJob{job(1, "r", "n", "v1", swr.SyncJobFailed, "2026-01-01T00:00:00Z")}}
	first := swrv1.SyncRepoTaskStatus{SyncRepoPolicy: swrv1.SyncRepoPolicy{RemoteRegionID: "r", RemoteNamespace: "n"}}
	withReplication(&first, nil, jobs, t0)
	current := &swrv1.SyncRepoTask{Status: first}

	again := swrv1.SyncRepoTaskStatus{SyncRepoPolicy: first.SyncRepoPolicy}
	withReplication(&again, current, jobs, t0.Add(time.Hour))
	if got := meta.FindStatusCondition(again.Conditions, swrv1.ConditionReplicated).LastTransitionTime.Time; !got.Equal(t0) {
		t.Errorf("an unchanged condition moved its lastTransitionTime to %v", got)
	}

	failed := swrv1.SyncRepoTaskStatus{SyncRepoPolicy: first.SyncRepoPolicy}
	withReplication(&failed, current, syncJobs{observed: true, err: &swr.Error{Class: swr.ClassServer}}, t0.Add(time.Hour))
	if !slices.Equal(failed.FailedTags, []string{"v1"}) || failed.LastSyncJob == nil || len(failed.Conditions) != 1 {
		t.Errorf("a failed job listing lost the task's job state: %+v", failed)
	}

	ignored := swrv1.SyncRepoTaskStatus{SyncRepoPolicy: first.SyncRepoPolicy}
	withReplication(&ignored, current, syncJobs{}, t0)
	if ignored.LastSyncJob != nil || ignored.FailedTags != nil || ignored.Conditions != nil {
		t.Errorf("mode Ignore kept job state: %+v", ignored)
	}
}

func TestPolicyDrift(t *testing.T) {
	policies := []swr.SyncRepo{
		{ID: 1, RemoteRegionID: "a", RemoteNamespace: "x", SyncAuto: true},
		{ID: 2, RemoteRegionID: "b", RemoteNamespace: "x", Override: true},
	}
	spec := &swrv1.ImageRepositorySpec{}
	if diffs := policyDrift(spec, policies); diffs != nil {
		t.Errorf("no expectations, yet drift %v", diffs)
	}
	spec.ExpectedPolicies = []swrv1.ExpectedPolicy{
		{RemoteRegionID: "a", RemoteNamespace: "x", SyncAuto: ptr.To(true), Override: ptr.To(false)},
		{RemoteRegionID: "b", RemoteNamespace: "x"},
	}
	if diffs := policyDrift(spec, policies); diffs != nil {
		t.Errorf("satisfied expectations, yet drift %v", diffs)
	}
	spec.ExpectedPolicies[0].SyncAuto = ptr.To(false)
	spec.ExpectedPolicies[1].RemoteNamespace = "y"
	spec.UnexpectedPolicies = swrv1.UnexpectedPoliciesReport
	want := []string{"the policy to a/x has syncAuto true, expected false", "no policy to b/y", "unexpected policy 2 to b/x"}
	if diffs := policyDrift(spec, policies); !slices.Equal(diffs, want) {
		t.Errorf("drift %q, want %q", diffs, want)
	}
}

func TestAbsoluteStatusPatchClearsWhatIsAbsent(t *testing.T) {
	const id = 1<<60 + 1 // beyond float64's exact integers
	patch, err := absoluteStatusPatch(swrv1.SyncRepoTaskStatus{SyncRepoPolicy: swrv1.SyncRepoPolicy{ID: id}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), `"id":1152921504606846977`) {
		t.Errorf("the patch changed the id: %s", patch)
	}
	var got struct {
		Status map[string]any `json:"status"`
	}
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"lastSyncJob", "failedTags", "conditions"} {
		if v, ok := got.Status[field]; !ok || v != nil {
			t.Errorf("%s is %v (present %t), want null so that the merge patch removes it", field, v, ok)
		}
	}
	for _, field := range []string{"id", "remoteRegionId", "override", "syncAuto"} {
		if _, ok := got.Status[field]; !ok {
			t.Errorf("%s missing: the patch must set every field", field)
		}
	}
}

func TestAbsoluteStatusPatchSetsWhatIsPresent(t *testing.T) {
	status := swrv1.SyncRepoTaskStatus{
		SyncRepoPolicy: swrv1.SyncRepoPolicy{ID: 7, RemoteRegionID: "cn-north-4"},
		LastSyncJob:    &swrv1.SyncJobSummary{Tag: "1.25"},
		FailedTags:     []string{"1.25"},
		Conditions: []metav1.Condition{{Type: swrv1.ConditionReplicated, Status: metav1.ConditionFalse, Reason: "SyncFailed",
			LastTransitionTime: metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))}},
	}
	patch, err := absoluteStatusPatch(status)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status swrv1.SyncRepoTaskStatus `json:"status"`
	}
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatalf("the patch is not JSON: %v: %s", err, patch)
	}
	if !equality.Semantic.DeepEqual(got.Status, status) {
		t.Errorf("the patch sets %+v, want %+v", got.Status, status)
	}
	if strings.Contains(string(patch), "null") {
		t.Errorf("a status with every optional field set has no null to send: %s", patch)
	}
}

func TestReplicationCollectorExportsEachTargetOnce(t *testing.T) {
	c := newReplicationCollector()
	key := types.NamespacedName{Namespace: "team", Name: "app"}
	same := target{"cn-north-4", "mirror"}
	c.set(key, []targetReplication{
		{target: same, failedTags: 3},
		{target: same, failedTags: 1, lastSuccess: "2026-12-01T10:00:00Z"},
		{target: target{"ap-southeast-1", "mirror"}, failedTags: 0},
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if n, err := testutil.GatherAndCount(reg, "swr_sync_replication_failed_tags"); err != nil || n != 2 {
		t.Fatalf("%d failed-tags series (err %v), want one per target", n, err)
	}
	want := `
# HELP swr_sync_replication_last_success_timestamp_seconds Unix time of the newest successful sync job to the policy's target (its updatedAt), per ImageRepository and target. Absent while the newest jobs hold no success.
# TYPE swr_sync_replication_last_success_timestamp_seconds gauge
swr_sync_replication_last_success_timestamp_seconds{name="app",namespace="team",remote_namespace="mirror",remote_region="cn-north-4"} 1.7961192e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "swr_sync_replication_last_success_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	c.set(key, nil)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("%d series left (err %v) after the targets went", n, err)
	}
}
