package controllers_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// kstatusOf computes what GitOps tools (Flux, Argo CD's kstatus-based checks, kpt, cli-utils)
// conclude about obj as the apiserver holds it.
func kstatusOf(ctx context.Context, obj client.Object) func() status.Status {
	return func() status.Status {
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		Expect(err).NotTo(HaveOccurred())
		result, err := status.Compute(&unstructured.Unstructured{Object: content})
		Expect(err).NotTo(HaveOccurred())
		return result.Status
	}
}

var _ = Describe("kstatus", func() {
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

	It("is Current for a ready ImageRepository and for its SyncRepoTasks", func() {
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))
		Eventually(kstatusOf(ctx, repo)).Should(Equal(status.CurrentStatus))
		task := tasksOf(ctx, repo)[repo.Name+"-1"]
		Expect(task.Generation).To(BeEquivalentTo(1))

		// A task has neither conditions nor status.observedGeneration, so kstatus calls it
		// Current from its shape alone; what can go wrong is metadata.generation. Tools that
		// wait for generation to settle (or compare it with an observedGeneration) would see
		// every rewrite of a changed policy as a new desired state if the operator's writes
		// bumped it: that is why tasks are written through the status subresource. Change the
		// policy upstream so that the operator must rewrite the task.
		changed := policy(org, "app", 1, "cn-north-4")
		changed.Override = true
		changed.UpdatedAt = "2024-05-06T07:08:09.1Z"
		swrServer.SetPolicies(org, "app", changed)
		pollAndWait(ctx, repo)
		Eventually(func() swrv1.SyncRepoPolicy { return tasksOf(ctx, repo)[repo.Name+"-1"].Status.SyncRepoPolicy }).
			Should(Equal(swrv1.SyncRepoPolicy(changed)))
		task = tasksOf(ctx, repo)[repo.Name+"-1"]
		Expect(task.Generation).To(BeEquivalentTo(1),
			"a status write must not move metadata.generation, or tools comparing it see the task in progress")
		Expect(kstatusOf(ctx, &task)()).To(Equal(status.CurrentStatus))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.CurrentStatus))
	})

	It("is InProgress while the first poll is pending", func() {
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		swrServer.SetFault(org, "app", swrtest.Fault{Hang: true})
		DeferCleanup(swrServer.ClearFault, org, "app")
		repo := newImageRepository(ns, org, "app")
		repo.Spec.Timeout = &metav1.Duration{Duration: time.Minute}
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		// The CRD's default observedGeneration -1 is what kstatus reads: no status write before
		// the poll.
		Expect(fetch(ctx, repo).Status.ObservedGeneration).To(BeEquivalentTo(-1))
		Consistently(kstatusOf(ctx, repo), "2s").Should(Equal(status.InProgressStatus))
		Expect(fetch(ctx, repo).Status.Conditions).To(BeEmpty())
	})

	It("is InProgress while a transient failure is retried", func() {
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))
		swrServer.SetFault(org, "app", swrtest.Fault{Status: http.StatusBadGateway})
		DeferCleanup(swrServer.ClearFault, org, "app")
		requestPoll(ctx, repo)
		Eventually(condition(ctx, repo, swrv1.ConditionReconciling)).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonRetrying))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.InProgressStatus))
	})

	It("is Failed when a person must act", func() {
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		createTokenSecretNamed(ctx, ns, "revoked", "revoked-token-8d1f")
		repo := newImageRepository(ns, org, "app")
		repo.Spec.SecretRef.Name = "revoked"
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		Eventually(kstatusOf(ctx, repo)).Should(Equal(status.FailedStatus))
	})
})
