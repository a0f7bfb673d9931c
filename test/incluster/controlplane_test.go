package incluster_test

import (
	"context"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/manifests"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

// startControlPlane starts etcd and a kube-apiserver that enforce what a hardened cluster does
// (controlplane.StartHardened: OwnerReferencesPermissionEnforcement besides the default
// plugins, ResourceQuota among them), and connects the admin clients.
func startControlPlane() {
	var err error
	testEnv, adminConfig, err = controlplane.StartHardened()
	Expect(err).NotTo(HaveOccurred())
	adminClient, err = client.New(adminConfig, client.Options{Scheme: newScheme()})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(adminConfig)
	Expect(err).NotTo(HaveOccurred())
}

// startKubeControllerManager runs kube-controller-manager's garbage collector and resource quota
// controllers against the control plane, as a cluster administrator, until the suite ends.
func startKubeControllerManager(dir, bin string) *process.Process {
	p, err := controlplane.StartKubeControllerManager(testEnv, dir, bin, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Stop)
	return p
}

// renderInstall renders config/default as `kubectl kustomize config/default` does.
func renderInstall() []*unstructured.Unstructured {
	objs, err := manifests.Render(filepath.Join(repoRoot, "config", "default"))
	Expect(err).NotTo(HaveOccurred())
	return objs
}

// apply server-side applies a copy of obj, as `kubectl apply --server-side` would.
func apply(ctx context.Context, obj *unstructured.Unstructured) error {
	return adminClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()),
		client.FieldOwner(fieldManager), client.ForceOwnership)
}

func isCRD(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().GroupKind().String() == "CustomResourceDefinition.apiextensions.k8s.io"
}

// applyCRDsAndWaitEstablished applies the rendered CRDs and waits until their APIs are served.
func applyCRDsAndWaitEstablished(ctx context.Context, rendered []*unstructured.Unstructured) {
	crds := slices.DeleteFunc(slices.Clone(rendered), func(o *unstructured.Unstructured) bool { return !isCRD(o) })
	Expect(crds).To(HaveLen(3), "config/default installs the ImageRepository, SyncRepoTask and ImageOrganization CRDs")
	for _, crd := range crds {
		Expect(apply(ctx, crd)).To(Succeed(), "apply CRD %s", crd.GetName())
	}
	for _, crd := range crds {
		Eventually(func(g Gomega) {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(crd.GroupVersionKind())
			g.Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(crd), live)).To(Succeed())
			conditions, _, err := unstructured.NestedSlice(live.Object, "status", "conditions")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(conditions).To(ContainElement(And(
				HaveKeyWithValue("type", "Established"), HaveKeyWithValue("status", "True"))))
		}).WithContext(ctx).Should(Succeed(), "CRD %s established", crd.GetName())
	}
}

// applyTheRest applies every rendered object but the CRDs: the Namespace first, since the
// namespaced objects need it, then the rest in kustomize's order. The Deployment is accepted
// and never runs (there is no kubelet): the suite runs the manager itself, as that Deployment's
// ServiceAccount.
func applyTheRest(ctx context.Context, rendered []*unstructured.Unstructured) {
	rest := slices.DeleteFunc(slices.Clone(rendered), isCRD)
	slices.SortStableFunc(rest, func(a, b *unstructured.Unstructured) int {
		isNamespace := func(o *unstructured.Unstructured) bool {
			return o.GroupVersionKind().GroupKind().String() == "Namespace"
		}
		switch {
		case isNamespace(a) && !isNamespace(b):
			return -1
		case isNamespace(b) && !isNamespace(a):
			return 1
		}
		return 0
	})
	for _, obj := range rest {
		Expect(apply(ctx, obj)).To(Succeed(), "apply %s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}
}

// waitForManagerRBAC waits until the apiserver's authorizer, which learns roles and bindings
// from informers, has seen each binding of the manager's ServiceAccount that the install made.
// A manager started earlier would be refused its first requests for a reason no user would ever
// see, and the spec that checks it was refused nothing would fail for no fault of the operator.
// One rule per binding is enough to know the binding is seen; whether the rules are complete is
// what the specs, and that last one, find out.
func waitForManagerRBAC(ctx context.Context) {
	user := serviceaccount.MakeUsername(operatorNamespace, operatorServiceAccount)
	groups := append(serviceaccount.MakeGroupNames(operatorNamespace), "system:authenticated")
	for binding, attrs := range map[string]authorizationv1.ResourceAttributes{
		"ClusterRoleBinding swr-sync-operator-manager-rolebinding": {
			Verb: "watch", Group: "swr.imagesync.io", Resource: "imagerepositories"},
		"ClusterRoleBinding swr-sync-operator-metrics-auth-rolebinding": {
			Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
		"RoleBinding swr-sync-operator-leader-election-rolebinding": {
			Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: operatorNamespace},
	} {
		Eventually(func(g Gomega) {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: groups, ResourceAttributes: &attrs,
			}}
			g.Expect(adminClient.Create(ctx, review)).To(Succeed())
			g.Expect(review.Status.Allowed).To(BeTrue(), "%s", review.Status.Reason)
		}).WithContext(ctx).Should(Succeed(), "the %s lets the manager %+v", binding, attrs)
	}
}
