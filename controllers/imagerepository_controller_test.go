package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

var _ = Describe("ImageRepository mirroring", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("mirrors the seed's example policy field for field, owned and labelled", func() {
		// The example response of "Querying Automatic Image Synchronization Tasks".
		seed := swr.SyncRepo{
			CreatedAt:       "2020-04-17T02:11:03.53183Z",
			DomainID:        "8b1e81************************633fb",
			DomainName:      "p*********59",
			ID:              45,
			Namespace:       "test",
			Override:        true,
			RemoteNamespace: "sdsad",
			RemoteRegionID:  "region1",
			RepoName:        "grpc-helloworld",
			SyncAuto:        true,
			UpdatedAt:       "2020-04-17T02:11:03.531831Z",
		}
		swrServer.SetPolicies("test", "grpc-helloworld", seed)
		repo := newImageRepository(ns, "test", "grpc-helloworld")
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())

		waitReady(ctx, repo, 1)
		task := &swrv1.SyncRepoTask{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: repo.Name + "-45"}, task)).To(Succeed())
		Expect(task.Status.SyncRepoPolicy).To(Equal(swrv1.SyncRepoPolicy{
			ID:              45,
			CreatedAt:       "2020-04-17T02:11:03.53183Z",
			UpdatedAt:       "2020-04-17T02:11:03.531831Z",
			DomainID:        "8b1e81************************633fb",
			DomainName:      "p*********59",
			Namespace:       "test",
			RepoName:        "grpc-helloworld",
			RemoteRegionID:  "region1",
			RemoteNamespace: "sdsad",
			Override:        true,
			SyncAuto:        true,
		}))
		Expect(task.Labels).To(HaveKeyWithValue(swrv1.ImageRepositoryLabel, repo.Name))
		owner := metav1.GetControllerOf(task)
		Expect(owner).NotTo(BeNil())
		current := fetch(ctx, repo)
		Expect(owner.UID).To(Equal(current.UID))
		Expect(owner.Kind).To(Equal("ImageRepository"))
		Expect(owner.BlockOwnerDeletion).To(Equal(ptr.To(true)))

		Expect(current.Status.TaskCount).To(BeEquivalentTo(1))
		Expect(current.Status.ObservedGeneration).To(Equal(current.Generation))
		Expect(current.Status.LastPollTime).NotTo(BeNil())
		Expect(current.Status.LastSuccessfulPollTime).NotTo(BeNil())
		Expect(condition(ctx, repo, swrv1.ConditionReconciling)()).To(BeNil())
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(BeNil())
		// One event for the first mirror: the Ready one, telling of the writes too.
		Eventually(eventsFor).WithArguments(ctx, repo).Should(ConsistOf(
			HaveField("Message", "1 sync task; created 1, updated 0, deleted 0 sync tasks")))
		Consistently(eventReasons(ctx, repo), "2s").Should(Equal([]string{swrv1.ReasonSucceeded}))
	})

	It("sends a repository name with '/' as '$' on the wire", func() {
		org := uniqueName("org")
		swrServer.SetPolicies(org, "library/nginx", policy(org, "library/nginx", 7, "cn-north-4"))
		repo := newImageRepository(ns, org, "library/nginx")
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())

		waitReady(ctx, repo, 1)
		Expect(tasksOf(ctx, repo)).To(HaveKey(repo.Name + "-7"))
		var paths []string
		for _, r := range swrServer.Requests() {
			if r.Organization == org {
				paths = append(paths, r.Path)
				Expect(r.ContentType).To(HavePrefix("application/json"))
				Expect(r.HasToken).To(BeTrue())
			}
		}
		Expect(paths).NotTo(BeEmpty())
		Expect(paths).To(ContainElement("/v2/manage/namespaces/" + org + "/repos/library$nginx/sync_repo"))
		Expect(paths).To(ContainElement("/v2/manage/namespaces/" + org + "/repos/library$nginx/sync_job"))
		Expect(paths).To(HaveEach(HavePrefix("/v2/manage/namespaces/" + org + "/repos/library$nginx/sync_")))
	})

	It("follows upstream additions, changes and removals, and writes nothing when nothing changed", func() {
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "cn-east-3"))

		By("an unchanged poll touching no task and writing the ImageRepository once")
		before := resourceVersions(tasksOf(ctx, repo))
		polls := swrServer.RequestCount(org, "app")
		events := eventCount(ctx, repo)
		requested, requestRV := requestPollAt(ctx, repo)
		// Every write of the ImageRepository after the request shows up on a watch from the
		// request's resourceVersion, even those made before the watch opened.
		writes := watchFrom(ctx, repo, requestRV)
		Eventually(writes).ShouldNot(BeEmpty())
		// The one status patch recording the poll, and nothing after it: no Progressing write
		// first, no second reconcile rewriting the status.
		Consistently(writes, "3s").Should(HaveLen(1))
		Expect(writes()).To(Equal([]string{"MODIFIED lastHandledReconcileAt=" + requested}))
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))
		Consistently(func() map[string]string { return resourceVersions(tasksOf(ctx, repo)) }, "2s").Should(Equal(before))
		Expect(eventCount(ctx, repo)).To(Equal(events), "a poll that changes nothing emits no event")
		Expect(writes()).To(HaveLen(1))

		By("an added policy, a changed one and a removed one")
		changed := policy(org, "app", 2, "cn-east-3")
		changed.Override = true
		changed.UpdatedAt = "2024-05-06T07:08:09.1Z"
		swrServer.SetPolicies(org, "app", changed, policy(org, "app", 3, "ap-southeast-3"))
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 2)
		Eventually(func() []string {
			var names []string
			for name := range tasksOf(ctx, repo) {
				names = append(names, name)
			}
			return names
		}).Should(ConsistOf(repo.Name+"-2", repo.Name+"-3"))
		tasks := tasksOf(ctx, repo)
		Expect(tasks[repo.Name+"-2"].Status.Override).To(BeTrue())
		Expect(tasks[repo.Name+"-2"].Status.UpdatedAt).To(Equal("2024-05-06T07:08:09.1Z"))
		Expect(tasks[repo.Name+"-3"].Status.RemoteRegionID).To(Equal("ap-southeast-3"))
		Expect(fetch(ctx, repo).Status.TaskCount).To(BeEquivalentTo(2))

		By("an empty listing removing every task")
		swrServer.SetPolicies(org, "app")
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 0)
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(BeEmpty())
	})

	It("puts back a task deleted or edited by hand without asking SWR again", func() {
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "cn-east-3"))
		polls := swrServer.RequestCount(org, "app")

		deleted := tasksOf(ctx, repo)[repo.Name+"-1"]
		Expect(k8sClient.Delete(ctx, &deleted)).To(Succeed())
		Eventually(func() types.UID {
			t := tasksOf(ctx, repo)[repo.Name+"-1"]
			return t.UID
		}).ShouldNot(SatisfyAny(BeEmpty(), Equal(deleted.UID)))

		By("a status edit, as kubectl patch --subresource=status makes it")
		edited := tasksOf(ctx, repo)[repo.Name+"-2"]
		patch := client.MergeFrom(edited.DeepCopy())
		edited.Status.RemoteRegionID = "tampered"
		Expect(k8sClient.Status().Patch(ctx, &edited, patch)).To(Succeed())
		Expect(edited.Status.RemoteRegionID).To(Equal("tampered"), "the apiserver took the edit")
		Eventually(func() string { return tasksOf(ctx, repo)[repo.Name+"-2"].Status.RemoteRegionID }).Should(Equal("cn-east-3"))

		By("a metadata edit: the owner label removed")
		unlabelled := tasksOf(ctx, repo)[repo.Name+"-2"]
		patch = client.MergeFrom(unlabelled.DeepCopy())
		delete(unlabelled.Labels, swrv1.ImageRepositoryLabel)
		Expect(k8sClient.Patch(ctx, &unlabelled, patch)).To(Succeed())
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveKey(repo.Name + "-2"))
		Expect(logs.String()).To(ContainSubstring("restored sync tasks changed outside the operator"))

		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls))
	})

	// Deleting an ImageRepository deletes its tasks through the garbage collector, which envtest
	// does not run: test/incluster proves it with a real kube-controller-manager, in background
	// and foreground deletion; the seed spec above checks the ownerReference it follows.

	It("polls on a new generation and on the interval, but not on unrelated changes", func() {
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))
		polls := swrServer.RequestCount(org, "app")

		// With a 1h interval a reconcile right after a poll would not poll anyway, whether the
		// predicate let the event through or not. Make the poll due first, through a status
		// write: the operator's own status writes must not reach the reconciler either.
		By("a status write making the poll look due (no new generation)")
		longAgo := metav1.NewTime(time.Now().Add(-2 * time.Hour).Truncate(time.Second))
		current := fetch(ctx, repo)
		patch := client.MergeFrom(current.DeepCopy())
		current.Status.LastPollTime = &longAgo
		Expect(k8sClient.Status().Patch(ctx, current, patch)).To(Succeed())
		Expect(fetch(ctx, repo).Generation).To(Equal(repo.Generation))
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "2s").Should(Equal(polls))

		By("a label change (no new generation) while the poll looks due")
		current = fetch(ctx, repo)
		patch = client.MergeFrom(current.DeepCopy())
		current.Labels = map[string]string{"team": "platform"}
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		// Without the predicate this event would reconcile, find the poll due and poll.
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "2s").Should(Equal(polls))
		Expect(fetch(ctx, repo).Status.LastPollTime.Time).To(BeTemporally("==", longAgo.Time),
			"no reconcile rewrote the status, so a reconcile would still find the poll due")

		By("a requested poll, which the predicate lets through, polling at once")
		pollAndWait(ctx, repo)
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))
		Expect(fetch(ctx, repo).Status.LastPollTime.Time).To(BeTemporally(">", longAgo.Time))
		polls = swrServer.RequestCount(org, "app")

		By("a spec change")
		current = fetch(ctx, repo)
		patch = client.MergeFrom(current.DeepCopy())
		current.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Second}
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		Eventually(func() int64 { return fetch(ctx, repo).Status.ObservedGeneration }).Should(Equal(current.Generation))
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))

		By("a short interval")
		polls = swrServer.RequestCount(org, "app")
		current = fetch(ctx, repo)
		patch = client.MergeFrom(current.DeepCopy())
		current.Spec.Interval = &metav1.Duration{Duration: 2 * time.Second}
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		// One poll for the new generation, then one about every 2s (+-10%).
		Eventually(func() int { return swrServer.RequestCount(org, "app") }, "15s").Should(BeNumerically(">=", polls+4))
	})

	It("stops polling while suspended and keeps the tasks", func() {
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))

		current := fetch(ctx, repo)
		patch := client.MergeFrom(current.DeepCopy())
		current.Spec.Suspend = true
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		// Pausing is not a failure: Ready keeps its status and says why nothing is polled.
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSuspended),
			HaveField("Message", ContainSubstring("suspended"))))
		polls := swrServer.RequestCount(org, "app")
		requestPoll(ctx, repo)
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "2s").Should(Equal(polls))
		Expect(tasksOf(ctx, repo)).To(HaveLen(1))

		current = fetch(ctx, repo)
		patch = client.MergeFrom(current.DeepCopy())
		current.Spec.Suspend = false
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		waitReady(ctx, repo, 1)
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))
	})

	It("reports a missing Secret and polls as soon as it is created", func() {
		org := uniqueName("org")
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		repo := newImageRepository(ns, org, "app")
		repo.Spec.SecretRef.Name = "created-later"
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonCredentialsNotFound),
			HaveField("Message", ContainSubstring(`"created-later"`))))
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonCredentialsNotFound))
		Expect(swrServer.RequestCount(org, "app")).To(BeZero())

		By("a Secret without credentials")
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "created-later", Namespace: ns},
			Data:       map[string][]byte{"api-key": []byte("not-a-credential")},
		}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonCredentialsInvalid),
			HaveField("Message", ContainSubstring(`holds no SWR credentials (keys: "api-key")`))))

		By("the token added")
		secret.Data = map[string][]byte{"token": []byte(swrtest.DefaultToken)}
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		waitReady(ctx, repo, 1)
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(BeNil())
	})

	It("refuses a plain http endpoint without --allow-insecure-endpoints", func() {
		repo := newImageRepository(ns, uniqueName("org"), "app")
		repo.Spec.Endpoint = "http://swr.example.test"
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonEndpointNotAllowed),
			HaveField("Message", ContainSubstring("--allow-insecure-endpoints"))))
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonEndpointNotAllowed))
	})
})

var _ = Describe("Upstream failures", func() {
	type failureCase struct {
		fault   swrtest.Fault
		timeout time.Duration
		reason  string
		stalled bool
	}
	DescribeTable("set the right condition, keep every task, and recover",
		func(c failureCase) {
			ctx := context.Background()
			ns := newNamespace(ctx)
			org := uniqueName("org")
			swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "cn-east-3"))
			repo := newImageRepository(ns, org, "app")
			if c.timeout > 0 {
				repo.Spec.Timeout = &metav1.Duration{Duration: c.timeout}
			}
			Expect(k8sClient.Create(ctx, repo)).To(Succeed())
			waitReady(ctx, repo, 2)
			Eventually(func() int { return len(tasksOf(ctx, repo)) }).Should(Equal(2))
			before := resourceVersions(tasksOf(ctx, repo))

			swrServer.SetFault(org, "app", c.fault)
			DeferCleanup(swrServer.ClearFault, org, "app")
			requestPoll(ctx, repo)
			Eventually(condition(ctx, repo, swrv1.ConditionReady), "20s").Should(haveStatusReason(metav1.ConditionFalse, c.reason))
			if c.stalled {
				Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, c.reason))
				Expect(condition(ctx, repo, swrv1.ConditionReconciling)()).To(BeNil())
			} else {
				Expect(condition(ctx, repo, swrv1.ConditionReconciling)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonRetrying))
				Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(BeNil())
			}
			Expect(resourceVersions(tasksOf(ctx, repo))).To(Equal(before), "a failed poll must not touch mirrored tasks")
			Expect(fetch(ctx, repo).Status.TaskCount).To(BeEquivalentTo(2))
			Eventually(eventReasons(ctx, repo)).Should(ContainElement(c.reason))

			swrServer.ClearFault(org, "app")
			if c.stalled {
				// A person fixed the cause and asks for a poll.
				requestPoll(ctx, repo)
			}
			// Transient failures recover on their own through the workqueue's backoff.
			waitReady(ctx, repo, 2)
			Expect(resourceVersions(tasksOf(ctx, repo))).To(Equal(before))
		},
		Entry("401 token expired", failureCase{
			fault:  swrtest.Fault{Status: http.StatusUnauthorized, Body: swrtest.NewErrorBody("SVCSTG.SWR.4010000", "token expired")},
			reason: swrv1.ReasonAuthenticationFailed, stalled: true}),
		Entry("403 no permission", failureCase{
			fault:  swrtest.Fault{Status: http.StatusForbidden, Body: swrtest.NewErrorBody("SVCSTG.SWR.4039002", "no permission")},
			reason: swrv1.ReasonAccessDenied, stalled: true}),
		Entry("404 organization gone", failureCase{
			fault:  swrtest.Fault{Status: http.StatusNotFound, Body: swrtest.OldErrorBody("SVCSTG.SWR.4040058", "namespace not found")},
			reason: swrv1.ReasonRepositoryNotFound, stalled: true}),
		Entry("400 bad request", failureCase{
			fault:  swrtest.Fault{Status: http.StatusBadRequest, Body: swrtest.OldErrorBody("SVCSTG.SWR.4001029", "invalid image name")},
			reason: swrv1.ReasonInvalidRequest, stalled: true}),
		Entry("429 with Retry-After", failureCase{
			fault:  swrtest.Fault{Status: http.StatusTooManyRequests, Body: swrtest.NewErrorBody("APIG.0308", "throttled"), Header: http.Header{"Retry-After": {"1"}}},
			reason: swrv1.ReasonThrottled}),
		Entry("403 throttling code", failureCase{
			fault:  swrtest.Fault{Status: http.StatusForbidden, Body: swrtest.NewErrorBody("SVCSTG.SWR.4031032", "request too frequent")},
			reason: swrv1.ReasonThrottled}),
		Entry("409 system busy", failureCase{
			fault:  swrtest.Fault{Status: http.StatusConflict, Body: swrtest.OldErrorBody("SVCSTG.SWR.4090023", "system busy")},
			reason: swrv1.ReasonThrottled}),
		Entry("500 with an HTML page", failureCase{
			fault:  swrtest.Fault{Status: http.StatusInternalServerError, Body: "<html><body>Internal Server Error</body></html>"},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("503 without a body", failureCase{
			fault:  swrtest.Fault{Status: http.StatusServiceUnavailable},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("a server that never answers", failureCase{
			fault: swrtest.Fault{Hang: true}, timeout: time.Second,
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("malformed JSON", failureCase{
			fault:  swrtest.Fault{RawBody: `[{"id": 1,`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("an object instead of an array", failureCase{
			fault:  swrtest.Fault{RawBody: `{"id": 1}`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("null", failureCase{
			fault:  swrtest.Fault{RawBody: `null`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("truncated JSON", failureCase{
			fault:  swrtest.Fault{RawBody: `[{"id": 1, "namespace": "a`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("an entry without an id", failureCase{
			fault:  swrtest.Fault{RawBody: `[{"id": 1}, {"namespace": "acme"}]`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("duplicate ids", failureCase{
			fault:  swrtest.Fault{RawBody: `[{"id": 1}, {"id": 1}]`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("a body over the size limit", failureCase{
			fault:  swrtest.Fault{RawBody: "[" + strings.Repeat(`{"id":1},`, 600000) + `{"id":2}]`},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("a body dripped slower than the timeout", failureCase{
			fault: swrtest.Fault{DripBody: 200 * time.Millisecond}, timeout: time.Second,
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("a connection reset mid-body", failureCase{
			fault:  swrtest.Fault{ResetMidBody: true},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("502 with the old error body", failureCase{
			fault:  swrtest.Fault{Status: http.StatusBadGateway, Body: swrtest.OldErrorBody("SVCSTG.SWR.5000001", "internal error")},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("500 with the new error body", failureCase{
			fault:  swrtest.Fault{Status: http.StatusInternalServerError, Body: swrtest.NewErrorBody("SVCSTG.SWR.5000001", "internal error")},
			reason: swrv1.ReasonUpstreamUnavailable}),
		Entry("403 the other throttling code", failureCase{
			fault:  swrtest.Fault{Status: http.StatusForbidden, Body: swrtest.NewErrorBody("SVCSTG.SWR.4031042", "too many requests")},
			reason: swrv1.ReasonThrottled}),
	)

	It("mirrors odd but valid listings losslessly, and flags a full page as possibly truncated", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))

		By("unknown fields, missing and null fields, an id beyond 2^53")
		swrServer.SetFault(org, "app", swrtest.Fault{RawBody: `[{"id": 9007199254740993, "namespace": "` + org +
			`", "repoName": "app", "remoteRegionId": null, "brandNew": {"x": 1}, "override": true}]`})
		DeferCleanup(swrServer.ClearFault, org, "app")
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 1)
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveKey(repo.Name + "-9007199254740993"))
		task := tasksOf(ctx, repo)[repo.Name+"-9007199254740993"]
		Expect(task.Status.SyncRepoPolicy).To(Equal(swrv1.SyncRepoPolicy{
			ID: 9007199254740993, Namespace: org, RepoName: "app", Override: true}))

		By("exactly 100 policies")
		swrServer.ClearFault(org, "app")
		var full []swr.SyncRepo
		for id := range int64(swr.MaxSyncReposPerList) {
			full = append(full, policy(org, "app", 1000+id, "cn-north-4"))
		}
		swrServer.SetPolicies(org, "app", full...)
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 100)
		Expect(condition(ctx, repo, swrv1.ConditionPossiblyTruncated)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonListingLimitReached))
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveLen(100))
		Eventually(eventReasons(ctx, repo)).Should(ContainElement(swrv1.ReasonListingLimitReached))

		swrServer.SetPolicies(org, "app", full[:99]...)
		pollAndWait(ctx, repo)
		waitReady(ctx, repo, 99)
		Expect(condition(ctx, repo, swrv1.ConditionPossiblyTruncated)()).To(BeNil())
	})
})

var _ = Describe("Secrets", func() {
	It("stay out of conditions and events when SWR refuses them", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		const wrongToken = "wrong-token-5f0c2e9a1b7d"
		createTokenSecretNamed(ctx, ns, "wrong", wrongToken)
		org := uniqueName("org")
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		repo := newImageRepository(ns, org, "app")
		repo.Spec.SecretRef.Name = "wrong"
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed))
		Eventually(eventReasons(ctx, repo)).Should(ContainElement(swrv1.ReasonAuthenticationFailed))
		// Logs, all events and all conditions are scanned for every secret value in AfterSuite.
		expectNoSecretLeaked(ctx)
	})
})

var _ = Describe("A restarted operator", func() {
	It("does not poll repositories whose poll is not due", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		var repos []*swrv1.ImageRepository
		for range 3 {
			repo := newImageRepository(ns, org, "app")
			Expect(k8sClient.Create(ctx, repo)).To(Succeed())
			repos = append(repos, repo)
		}
		for _, repo := range repos {
			waitReady(ctx, repo, 1)
		}
		polls := swrServer.RequestCount(org, "app")
		Expect(polls).To(Equal(3))

		By("the old process exiting")
		// Only one operator may run, or the new one's polls hide among the old one's.
		stopMgr()
		Eventually(mgrDone, 30*time.Second).Should(BeClosed())
		// Should the restart fail halfway, the specs that follow still get a suite manager.
		DeferCleanup(func() {
			select {
			case <-mgrDone:
				stopMgr, mgrDone = startManager(scheme, managerOptions{})
			default:
			}
		})

		By("a new process starting from nothing")
		// It lists every ImageRepository, task and Secret and reconciles each repository once.
		// It stays on as the suite's manager: AfterSuite stops it.
		workersStarted := func() int { return strings.Count(logs.String(), "Starting workers") }
		started := workersStarted()
		stopMgr, mgrDone = startManager(scheme, managerOptions{})
		// Its workers run, so the repositories' first reconciles happen within the window below.
		Eventually(workersStarted).Should(BeNumerically(">", started))
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "3s").Should(Equal(polls))

		By("while a requested poll still happens, exactly once")
		pollAndWait(ctx, repos[0])
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "2s").Should(Equal(polls + 1))
	})
})

var _ = Describe("A private CA", func() {
	It("is refused until spec.certSecretRef trusts it", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		private := swrtest.NewPrivateCAServer()
		DeferCleanup(private.Close)
		org := uniqueName("org")
		private.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))

		repo := newImageRepository(ns, org, "app")
		repo.Spec.Endpoint = private.URL()
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonUpstreamUnavailable),
			HaveField("Message", ContainSubstring("certificate"))))

		By("a certSecretRef without ca.crt")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "company-ca", Namespace: ns},
			Data: map[string][]byte{"tls.crt": private.CertificatePEM()}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		current := fetch(ctx, repo)
		patch := client.MergeFrom(current.DeepCopy())
		current.Spec.CertSecretRef = &swrv1.SecretReference{Name: "company-ca"}
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonCertificateInvalid),
			HaveField("Message", ContainSubstring(`no key "ca.crt"`))))

		By("the CA added")
		secret.Data = map[string][]byte{"ca.crt": private.CertificatePEM()}
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		waitReady(ctx, repo, 1)
	})
})

// requestPollAt sets the requested-at annotation to a new value, like requestPoll, and also
// returns the resourceVersion the apiserver gave that write.
func requestPollAt(ctx context.Context, repo *swrv1.ImageRepository) (value, resourceVersion string) {
	GinkgoHelper()
	value = "at-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	current := fetch(ctx, repo)
	patch := client.MergeFrom(current.DeepCopy())
	if current.Annotations == nil {
		current.Annotations = map[string]string{}
	}
	current.Annotations[swrv1.RequestedAtAnnotation] = value
	Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
	return value, current.ResourceVersion
}

// watchFrom watches repo on the apiserver from resourceVersion on, until the spec ends, and
// returns what it has seen so far: one event per write after that version, each as its type and
// the lastHandledReconcileAt it wrote (or the watch's error).
func watchFrom(ctx context.Context, repo *swrv1.ImageRepository, resourceVersion string) func() []string {
	GinkgoHelper()
	watcher, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := watcher.Watch(ctx, &swrv1.ImageRepositoryList{}, client.InNamespace(repo.Namespace),
		client.MatchingFields{"metadata.name": repo.Name},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: resourceVersion}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Stop)
	var (
		mu   sync.Mutex
		seen []string
	)
	go func() {
		for e := range w.ResultChan() {
			described := fmt.Sprintf("%s %v", e.Type, e.Object)
			if written, ok := e.Object.(*swrv1.ImageRepository); ok {
				described = fmt.Sprintf("%s lastHandledReconcileAt=%s", e.Type, written.Status.LastHandledReconcileAt)
			}
			mu.Lock()
			seen = append(seen, described)
			mu.Unlock()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}
