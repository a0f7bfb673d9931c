package controllers_test

import (
	"context"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// setSuspend patches spec.suspend of obj, an ImageRepository or an ImageOrganization.
func setSuspend(ctx context.Context, obj client.Object, suspend bool) {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	switch o := obj.(type) {
	case *swrv1.ImageRepository:
		o.Spec.Suspend = suspend
	case *swrv1.ImageOrganization:
		o.Spec.Suspend = suspend
	}
	Expect(k8sClient.Patch(ctx, obj, patch)).To(Succeed())
}

// haveNoneTrue matches conditions that hold none of condTypes as True.
func haveNoneTrue(condTypes ...string) OmegaMatcher {
	return WithTransform(func(conditions []metav1.Condition) []string {
		var trueTypes []string
		for _, condType := range condTypes {
			if meta.IsStatusConditionTrue(conditions, condType) {
				trueTypes = append(trueTypes, condType)
			}
		}
		return trueTypes
	}, BeEmpty())
}

var _ = Describe("Suspending", func() {
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

	It("keeps a ready ImageRepository Ready, Current for kstatus, and says it is suspended", func() {
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "af-south-1"))
		wasReady := condition(ctx, repo, swrv1.ConditionReady)()

		setSuspend(ctx, repo, true)
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSuspended),
			HaveField("Message", "polling is suspended (spec.suspend); 2 sync tasks kept; before: Succeeded: 2 sync tasks"),
			HaveField("LastTransitionTime", wasReady.LastTransitionTime)))
		suspended := fetch(ctx, repo)
		Expect(suspended.Status.Conditions).To(haveNoneTrue(swrv1.ConditionReconciling, swrv1.ConditionStalled))
		Expect(suspended.Status.ObservedGeneration).To(Equal(suspended.Generation))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.CurrentStatus))

		By("reconciles while suspended: no poll, and the message is not wrapped again")
		polls := swrServer.RequestCount(org, "app")
		requestPoll(ctx, repo)
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "2s").Should(Equal(polls))
		Expect(condition(ctx, repo, swrv1.ConditionReady)()).To(Equal(meta.FindStatusCondition(suspended.Status.Conditions, swrv1.ConditionReady)))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.CurrentStatus))
		Expect(tasksOf(ctx, repo)).To(HaveLen(2))

		By("unsuspended: polls again, and Ready has its own reason")
		setSuspend(ctx, repo, false)
		waitReady(ctx, repo, 2)
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls + 1))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.CurrentStatus))
	})

	It("keeps a failing ImageRepository not Ready, and polls again once unsuspended", func() {
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))
		swrServer.SetFault(org, "app", swrtest.Fault{Status: http.StatusUnauthorized, Body: swrtest.NewErrorBody("SVCSTG.SWR.4010000", "token expired")})
		DeferCleanup(swrServer.ClearFault, org, "app")
		requestPoll(ctx, repo)
		Eventually(condition(ctx, repo, swrv1.ConditionStalled)).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonAuthenticationFailed))
		failed := condition(ctx, repo, swrv1.ConditionReady)()
		Expect(failed).To(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed))

		setSuspend(ctx, repo, true)
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonSuspended),
			HaveField("Message", And(ContainSubstring("suspended"), ContainSubstring("before: AuthenticationFailed: "+failed.Message))),
			HaveField("LastTransitionTime", failed.LastTransitionTime)))
		// Nothing waits for a person while nothing is polled: the failure shows in Ready alone.
		// Without Reconciling or Stalled, kstatus falls back to Ready, and reads False as
		// InProgress (as it read every suspended object before Ready kept its status).
		Expect(fetch(ctx, repo).Status.Conditions).To(haveNoneTrue(swrv1.ConditionReconciling, swrv1.ConditionStalled))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.InProgressStatus))

		By("unsuspended with SWR still refusing: the failure is back")
		polls := swrServer.RequestCount(org, "app")
		setSuspend(ctx, repo, false)
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed))
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonAuthenticationFailed))
		Expect(swrServer.RequestCount(org, "app")).To(BeNumerically(">", polls))
		Expect(kstatusOf(ctx, repo)()).To(Equal(status.FailedStatus))
	})

	It("keeps a ready ImageOrganization Ready and Current for kstatus, and discovers again once unsuspended", func() {
		swrServer.SetRepositories(org, repositories(org, "app")...)
		o := newImageOrganization(ns, org)
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(orgReady(ctx, o)).Should(And(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded), HaveField("Message", "1 repository")))
		wasReady := orgReady(ctx, o)()

		setSuspend(ctx, o, true)
		Eventually(orgReady(ctx, o)).Should(And(
			haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSuspended),
			HaveField("Message", "discovery is suspended (spec.suspend); 1 ImageRepository kept; before: Succeeded: 1 repository"),
			HaveField("LastTransitionTime", wasReady.LastTransitionTime)))
		suspended := fetchOrg(ctx, o)
		Expect(suspended.Status.Conditions).To(haveNoneTrue(swrv1.ConditionReconciling, swrv1.ConditionStalled))
		Expect(kstatusOf(ctx, o)()).To(Equal(status.CurrentStatus))

		By("reconciles while suspended: no discovery, and the message is not wrapped again")
		listings := swrServer.RepositoryListRequestCount(org)
		patch := client.MergeFrom(suspended.DeepCopy())
		metav1.SetMetaDataAnnotation(&suspended.ObjectMeta, swrv1.RequestedAtAnnotation, uniqueName("now"))
		Expect(k8sClient.Patch(ctx, suspended, patch)).To(Succeed())
		Consistently(func() int { return swrServer.RepositoryListRequestCount(org) }, "2s").Should(Equal(listings))
		Expect(orgReady(ctx, o)()).To(Equal(meta.FindStatusCondition(suspended.Status.Conditions, swrv1.ConditionReady)))
		Expect(generated(ctx, o)()).To(HaveLen(1))

		By("unsuspended")
		setSuspend(ctx, o, false)
		Eventually(orgReady(ctx, o)).Should(And(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded), HaveField("Message", "1 repository")))
		Expect(swrServer.RepositoryListRequestCount(org)).To(Equal(listings + 1))
		Expect(kstatusOf(ctx, o)()).To(Equal(status.CurrentStatus))
	})
})
