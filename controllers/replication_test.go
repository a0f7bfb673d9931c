package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// jobTime is a job timestamp minute minutes after a fixed start, in SWR's format.
func jobTime(minute int) string {
	return time.Date(2026, 11, 30, 8, minute, 0, 123456000, time.UTC).Format("2006-01-02T15:04:05.000000Z")
}

// syncJob is a job of organization/app to region/namespace for tag, created at minute.
func syncJob(organization string, id int64, region, namespace, tag, status string, minute int) swr.SyncJob {
	return swr.SyncJob{ID: id, CreatedAt: jobTime(minute), UpdatedAt: jobTime(minute + 1), Namespace: organization, RepoName: "app",
		RemoteRegionID: region, RemoteNamespace: namespace, Status: status, Tag: tag, DomainName: "domain-name"}
}

// taskCondition returns the Replicated condition of the task name of repo, as the apiserver holds it.
func replicated(ctx context.Context, repo *swrv1.ImageRepository, name string) func() *metav1.Condition {
	return func() *metav1.Condition {
		task := tasksOf(ctx, repo)[name]
		return meta.FindStatusCondition(task.Status.Conditions, swrv1.ConditionReplicated)
	}
}

// taskEventReasons lists the reasons of the events of the task name, found as `kubectl describe`
// finds them: by the task's UID.
func taskEventReasons(ctx context.Context, namespace, name string) func() []string {
	return func() []string {
		task := &swrv1.SyncRepoTask{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, task)).To(Succeed())
		var reasons []string
		for _, e := range describedEvents(ctx, task, "SyncRepoTask") {
			reasons = append(reasons, e.Type+"/"+e.Reason)
		}
		return reasons
	}
}

var _ = Describe("Replication health", func() {
	var (
		ctx context.Context
		ns  string
		org string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		org = uniqueName("org")
	})

	// twoTargets mirrors policies 1 (cn-north-4) and 2 (ap-southeast-3) of org/app.
	twoTargets := func(jobs ...swr.SyncJob) (*swrv1.ImageRepository, string, string) {
		swrServer.SetSyncJobs(org, "app", jobs...)
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "ap-southeast-3"))
		return repo, repo.Name + "-1", repo.Name + "-2"
	}

	It("attributes jobs to their policy's target, lists failed tags, and follows a tag that failed then succeeded", func() {
		mirror := org + "-mirror"
		repo, healthy, failing := twoTargets(
			syncJob(org, 11, "cn-north-4", mirror, "v1", swr.SyncJobFailed, 1),
			syncJob(org, 12, "cn-north-4", mirror, "v1", swr.SyncJobSuccess, 2), // v1 failed, then succeeded
			syncJob(org, 13, "cn-north-4", mirror, "v2", swr.SyncJobExisted, 3),
			syncJob(org, 21, "ap-southeast-3", mirror, "v1", swr.SyncJobFailed, 1),
			syncJob(org, 22, "ap-southeast-3", mirror, "v2", swr.SyncJobTimeout, 3),
			syncJob(org, 23, "ap-southeast-3", mirror, "v0", swr.SyncJobCancel, 0),
		)

		Eventually(replicated(ctx, repo, healthy)).Should(And(
			haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded),
			HaveField("Message", "tag v2 synced to cn-north-4/"+mirror)))
		task := tasksOf(ctx, repo)[healthy]
		Expect(task.Status.LastSyncJob).To(Equal(&swrv1.SyncJobSummary{ID: 13, Tag: "v2", Status: "existed",
			CreatedAt: jobTime(3), UpdatedAt: jobTime(4)}))
		Expect(task.Status.FailedTags).To(BeEmpty())

		Eventually(replicated(ctx, repo, failing)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSyncFailed),
			HaveField("Message", "3 tags failed to sync to ap-southeast-3/"+mirror+": v2, v1, v0")))
		Expect(tasksOf(ctx, repo)[failing].Status.FailedTags).To(Equal([]string{"v2", "v1", "v0"}))
		Expect(tasksOf(ctx, repo)[failing].Status.LastSyncJob.ID).To(BeEquivalentTo(22))

		Eventually(condition(ctx, repo, swrv1.ConditionReplicationHealthy)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSyncFailed),
			HaveField("Message", ContainSubstring("1 of 2 sync tasks failing: "+failing+" (to ap-southeast-3/"+mirror+": v2, v1, v0)"))))
		// Replication is not the policies: they were listed and mirrored, so Ready stays True.
		Expect(condition(ctx, repo, swrv1.ConditionReady)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
		Eventually(taskEventReasons(ctx, ns, failing)).Should(ConsistOf("Warning/" + swrv1.ReasonSyncFailed))
		Expect(taskEventReasons(ctx, ns, healthy)()).To(BeEmpty(), "a task that never failed has nothing to report")

		By("the failed tags succeeding later")
		swrServer.SetSyncJobs(org, "app", append(swrServer.SyncJobs(org, "app"),
			syncJob(org, 24, "ap-southeast-3", mirror, "v2", swr.SyncJobSuccess, 5),
			syncJob(org, 25, "ap-southeast-3", mirror, "v1", swr.SyncJobSuccess, 6),
			syncJob(org, 26, "ap-southeast-3", mirror, "v0", swr.SyncJobSuccess, 7))...)
		pollAndWait(ctx, repo)
		Eventually(replicated(ctx, repo, failing)).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
		Expect(tasksOf(ctx, repo)[failing].Status.FailedTags).To(BeEmpty())
		Eventually(condition(ctx, repo, swrv1.ConditionReplicationHealthy)).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
		Eventually(taskEventReasons(ctx, ns, failing)).Should(ConsistOf("Warning/"+swrv1.ReasonSyncFailed, "Normal/"+swrv1.ReasonSucceeded))
	})

	It("tells two policies to one region apart by their organization", func() {
		swrServer.SetSyncJobs(org, "app",
			syncJob(org, 1, "cn-north-4", "team-a", "v1", swr.SyncJobFailed, 1),
			syncJob(org, 2, "cn-north-4", "team-b", "v1", swr.SyncJobSuccess, 1))
		a := policy(org, "app", 1, "cn-north-4")
		a.RemoteNamespace = "team-a"
		b := policy(org, "app", 2, "cn-north-4")
		b.RemoteNamespace = "team-b"
		repo := mirroredRepository(ctx, ns, org, a, b)
		Eventually(replicated(ctx, repo, repo.Name+"-1")).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSyncFailed))
		Eventually(replicated(ctx, repo, repo.Name+"-2")).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
	})

	It("says Unknown while the newest job runs and when the page holds none for a target", func() {
		mirror := org + "-mirror"
		repo, running, none := twoTargets(
			syncJob(org, 1, "cn-north-4", mirror, "v1", swr.SyncJobSuccess, 1),
			syncJob(org, 2, "cn-north-4", mirror, "v2", swr.SyncJobRunning, 2))
		Eventually(replicated(ctx, repo, running)).Should(And(
			haveStatusReason(metav1.ConditionUnknown, swrv1.ReasonSyncInProgress),
			HaveField("Message", ContainSubstring("v2"))))
		Eventually(replicated(ctx, repo, none)).Should(And(
			haveStatusReason(metav1.ConditionUnknown, swrv1.ReasonNoSyncJobs),
			HaveField("Message", "none of the newest 100 sync jobs of the repository goes to ap-southeast-3/"+mirror)))
		Expect(tasksOf(ctx, repo)[none].Status.LastSyncJob).To(BeNil())
		Eventually(condition(ctx, repo, swrv1.ConditionReplicationHealthy)).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
	})

	It("asks for jobs once per poll, and an unchanged page writes nothing", func() {
		mirror := org + "-mirror"
		repo, _, _ := twoTargets(syncJob(org, 1, "cn-north-4", mirror, "v1", swr.SyncJobSuccess, 1))
		Eventually(condition(ctx, repo, swrv1.ConditionReplicationHealthy)).ShouldNot(BeNil())
		Expect(swrServer.SyncJobRequestCount(org, "app")).To(Equal(swrServer.RequestCount(org, "app")))
		var query string
		for _, r := range swrServer.Requests() {
			if r.Organization == org && r.Kind == swrtest.RequestKindSyncJob {
				query = r.Query
			}
		}
		Expect(query).To(Equal("filter=limit%3A%3A100%7Coffset%3A%3A0%7Corder%3A%3Adesc"))

		before := resourceVersions(tasksOf(ctx, repo))
		polls, jobs := swrServer.RequestCount(org, "app"), swrServer.SyncJobRequestCount(org, "app")
		pollAndWait(ctx, repo)
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))
		Expect(swrServer.SyncJobRequestCount(org, "app")).To(Equal(jobs + 1))
		Consistently(func() map[string]string { return resourceVersions(tasksOf(ctx, repo)) }, "2s").Should(Equal(before))
	})

	It("keeps the tasks' last job state when only the job listing fails", func() {
		mirror := org + "-mirror"
		repo, failing, _ := twoTargets(syncJob(org, 1, "cn-north-4", mirror, "v1", swr.SyncJobFailed, 1))
		Eventually(replicated(ctx, repo, failing)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSyncFailed))
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveLen(2))
		before := resourceVersions(tasksOf(ctx, repo))

		// A credential without swr:repo:getSyncRepoJobInfo lists policies but not jobs.
		swrServer.SetSyncJobFault(org, "app", swrtest.Fault{Status: http.StatusForbidden,
			Body: swrtest.NewErrorBody("SVCSTG.SWR.4039002", "no permission")})
		DeferCleanup(swrServer.ClearSyncJobFault, org, "app")
		pollAndWait(ctx, repo)
		Eventually(condition(ctx, repo, swrv1.ConditionReplicationHealthy)).Should(And(
			haveStatusReason(metav1.ConditionUnknown, swrv1.ReasonJobsUnavailable),
			HaveField("Message", ContainSubstring("4039002"))))
		Expect(condition(ctx, repo, swrv1.ConditionReady)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
		Expect(resourceVersions(tasksOf(ctx, repo))).To(Equal(before), "the tasks keep lastSyncJob, failedTags and Replicated")
		Expect(replicated(ctx, repo, failing)()).To(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSyncFailed))

		swrServer.ClearSyncJobFault(org, "app")
		pollAndWait(ctx, repo)
		Eventually(condition(ctx, repo, swrv1.ConditionReplicationHealthy)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSyncFailed))
	})

	It("never calls sync_job with mode Ignore, and says nothing about replication", func() {
		swrServer.SetSyncJobs(org, "app", syncJob(org, 1, "cn-north-4", org+"-mirror", "v1", swr.SyncJobFailed, 1))
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		repo := newImageRepository(ns, org, "app")
		repo.Spec.SyncJobs.Mode = swrv1.SyncJobsIgnore
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		waitReady(ctx, repo, 1)
		Expect(swrServer.SyncJobRequestCount(org, "app")).To(BeZero())
		Expect(condition(ctx, repo, swrv1.ConditionReplicationHealthy)()).To(BeNil())
		task := tasksOf(ctx, repo)[repo.Name+"-1"]
		Expect(task.Status.Conditions).To(BeEmpty())
		Expect(task.Status.LastSyncJob).To(BeNil())
	})
})

var _ = Describe("Policy drift", func() {
	It("is Ready=False and Stalled PolicyDrift naming each difference, mirrors anyway, and clears once satisfied", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		mirror := org + "-mirror"
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "eu-west-101"))
		repo := newImageRepository(ns, org, "app")
		repo.Spec.ExpectedPolicies = []swrv1.ExpectedPolicy{
			{RemoteRegionID: "cn-north-4", RemoteNamespace: mirror, SyncAuto: ptr.To(true), Override: ptr.To(true)},
			{RemoteRegionID: "ap-southeast-3", RemoteNamespace: mirror},
		}
		repo.Spec.UnexpectedPolicies = swrv1.UnexpectedPoliciesReport
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())

		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonPolicyDrift),
			HaveField("Message", ContainSubstring("the policy to cn-north-4/"+mirror+" has override false, expected true")),
			HaveField("Message", ContainSubstring("no policy to ap-southeast-3/"+mirror)),
			HaveField("Message", ContainSubstring("unexpected policy 2 to eu-west-101/"+mirror)),
		))
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonPolicyDrift))
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveLen(2), "we observe, and still mirror exactly")
		Expect(fetch(ctx, repo).Status.TaskCount).To(BeEquivalentTo(2))
		Eventually(eventReasons(ctx, repo)).Should(ContainElement(swrv1.ReasonPolicyDrift))

		By("SWR brought in line")
		fixed := policy(org, "app", 1, "cn-north-4")
		fixed.Override = true
		swrServer.SetPolicies(org, "app", fixed, policy(org, "app", 3, "ap-southeast-3"))
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 2)
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(BeNil())

		By("an unexpected target is no drift with the default Ignore")
		current := fetch(ctx, repo)
		patch := client.MergeFrom(current.DeepCopy())
		current.Spec.UnexpectedPolicies = ""
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		swrServer.SetPolicies(org, "app", fixed, policy(org, "app", 3, "ap-southeast-3"), policy(org, "app", 4, "eu-west-101"))
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 3)
		Expect(fetch(ctx, repo).Spec.UnexpectedPolicies).To(Equal(swrv1.UnexpectedPoliciesIgnore), "the schema's default")
	})

	It("is refused by the schema with a readable message for a bad target", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		repo := newImageRepository(ns, uniqueName("org"), "app")
		repo.Spec.ExpectedPolicies = []swrv1.ExpectedPolicy{{RemoteRegionID: "cn-north-4", RemoteNamespace: "Team_"}}
		Expect(k8sClient.Create(ctx, repo)).To(MatchError(ContainSubstring("remoteNamespace must be an SWR organization name")))
		repo.Spec.ExpectedPolicies = []swrv1.ExpectedPolicy{
			{RemoteRegionID: "cn-north-4", RemoteNamespace: "team"}, {RemoteRegionID: "cn-north-4", RemoteNamespace: "team"}}
		Expect(k8sClient.Create(ctx, repo)).To(MatchError(ContainSubstring("Duplicate value")))
		repo.Spec.ExpectedPolicies = nil
		repo.Spec.SyncJobs.Limit = 101
		Expect(k8sClient.Create(ctx, repo)).To(MatchError(ContainSubstring(fmt.Sprintf("should be less than or equal to %d", 100))))
	})
})
