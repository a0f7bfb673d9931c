package install_test

import (
	"context"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apply server-side applies a copy of obj as the field owner "install-test". Pass
// client.DryRunAll to have the apiserver validate and admit it without storing it.
func apply(ctx context.Context, obj *unstructured.Unstructured, opts ...client.ApplyOption) error {
	opts = append([]client.ApplyOption{client.FieldOwner("install-test"), client.ForceOwnership}, opts...)
	return k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), opts...)
}

var _ = Describe("config/default", Ordered, ContinueOnFailure, func() {
	var namespace string

	BeforeAll(func(ctx SpecContext) {
		ns := theOne(rendered, "", "Namespace")
		namespace = ns.GetName()
		// Namespaced objects can be applied, even in a dry run, only in a namespace that exists.
		Expect(k8sClient.Create(ctx, ns.DeepCopy())).To(Succeed())
	})

	It("renders a complete install: namespace, CRDs, RBAC, metrics Service and Deployment", func() {
		kinds := map[schema.GroupKind]int{}
		for _, obj := range rendered {
			kinds[obj.GroupVersionKind().GroupKind()]++
		}
		Expect(kinds).To(Equal(map[schema.GroupKind]int{
			{Kind: "Namespace"}: 1,
			{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: 3,
			{Kind: "ServiceAccount"}:                                  1,
			{Group: "rbac.authorization.k8s.io", Kind: "Role"}:        1,
			{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: 1,
			// manager, metrics auth, metrics reader, and five aggregated roles for users.
			{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        8,
			{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: 2,
			{Kind: "Service"}:                   1,
			{Group: "apps", Kind: "Deployment"}: 1,
		}))
		Expect(named(rendered, "apiextensions.k8s.io", "CustomResourceDefinition", "imagerepositories.swr.imagesync.io")).NotTo(BeNil())
		Expect(named(rendered, "apiextensions.k8s.io", "CustomResourceDefinition", "syncrepotasks.swr.imagesync.io")).NotTo(BeNil())
		Expect(named(rendered, "apiextensions.k8s.io", "CustomResourceDefinition", "imageorganizations.swr.imagesync.io")).NotTo(BeNil())
	})

	It("puts every namespaced object into its own namespace", func() {
		for _, obj := range rendered {
			namespaced, err := k8sClient.IsObjectNamespaced(obj)
			Expect(err).NotTo(HaveOccurred(), describe(obj))
			if namespaced {
				Expect(obj.GetNamespace()).To(Equal(namespace), describe(obj))
			} else {
				Expect(obj.GetNamespace()).To(BeEmpty(), describe(obj))
			}
		}
	})

	It("is accepted object by object by the kube-apiserver, without warnings", func(ctx SpecContext) {
		for _, obj := range rendered {
			if obj.GetKind() == "Namespace" {
				continue // created for real above
			}
			wctx, w := withWarnings(ctx)
			Expect(apply(wctx, obj, client.DryRunAll)).To(Succeed(), describe(obj))
			// The namespace enforces and warns about the restricted Pod Security Standard: a
			// Deployment whose pods would be refused is admitted with a warning only.
			Expect(w.Messages()).To(BeEmpty(), describe(obj))
		}
	})

	It("runs a namespace that would refuse a weakened manager pod", func(ctx SpecContext) {
		// The negative control of the spec above: without it, an apiserver that skipped the
		// Pod Security check would pass that spec too.
		deployment := theOne(rendered, "apps", "Deployment").DeepCopy()
		unstructured.RemoveNestedField(deployment.Object, "spec", "template", "spec", "securityContext")
		wctx, w := withWarnings(ctx)
		Expect(apply(wctx, deployment, client.DryRunAll)).To(Succeed())
		Expect(w.Messages()).To(ContainElement(ContainSubstring(`would violate PodSecurity "restricted:latest"`)))
	})

	It("gives the manager's ServiceAccount what it needs and no more, by the apiserver's RBAC", func(ctx SpecContext) {
		// The RBAC specs read the rendered rules; this asks the real authorizer, which also
		// resolves bindings, aggregation and scopes.
		sa := theOne(rendered, "", "ServiceAccount")
		for _, obj := range rendered {
			if obj.GetKind() == "ServiceAccount" || obj.GroupVersionKind().Group == rbacv1.GroupName {
				Expect(apply(ctx, obj)).To(Succeed(), describe(obj))
			}
		}
		user := serviceaccount.MakeUsername(sa.GetNamespace(), sa.GetName())
		groups := append(serviceaccount.MakeGroupNames(sa.GetNamespace()), "system:authenticated")
		allowed := func(verb, group, resource, ns string) (bool, error) {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group},
			}}
			sar.Spec.ResourceAttributes.Resource, sar.Spec.ResourceAttributes.Subresource, _ = strings.Cut(resource, "/")
			err := k8sClient.Create(ctx, sar)
			return sar.Status.Allowed, err
		}
		const elsewhere = "some-team"
		type access struct{ verb, group, resource, namespace string }
		// The authorizer learns bindings from an informer, so wait until it allows everything the
		// manager needs before trusting a denial.
		for _, a := range []access{
			{"watch", "swr.imagesync.io", "imagerepositories", elsewhere},
			{"patch", "swr.imagesync.io", "imagerepositories/status", elsewhere},
			{"create", "swr.imagesync.io", "syncrepotasks", elsewhere},
			{"delete", "swr.imagesync.io", "syncrepotasks", elsewhere},
			{"get", "", "secrets", elsewhere},
			{"create", "events.k8s.io", "events", elsewhere},
			{"update", "coordination.k8s.io", "leases", namespace},
			{"create", "authentication.k8s.io", "tokenreviews", ""},
			{"create", "authorization.k8s.io", "subjectaccessreviews", ""},
		} {
			Eventually(allowed).WithContext(ctx).WithArguments(a.verb, a.group, a.resource, a.namespace).
				Should(BeTrue(), "%+v", a)
		}
		for _, a := range []access{
			{"create", "", "secrets", elsewhere},
			{"patch", "", "secrets", namespace},
			{"delete", "", "secrets", elsewhere},
			{"update", "swr.imagesync.io", "imagerepositories", elsewhere},
			{"update", "coordination.k8s.io", "leases", elsewhere},
			{"get", "", "configmaps", elsewhere},
			{"create", "", "pods", namespace},
			{"update", "rbac.authorization.k8s.io", "clusterroles", ""},
		} {
			Expect(allowed(a.verb, a.group, a.resource, a.namespace)).To(BeFalse(), "%+v", a)
		}
	})

	It("installs the CRDs that config/samples are valid against", func(ctx SpecContext) {
		for _, crd := range ofKind(rendered, "apiextensions.k8s.io", "CustomResourceDefinition") {
			Expect(apply(ctx, crd)).To(Succeed(), describe(crd))
			Eventually(func(g Gomega) {
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(crd.GroupVersionKind())
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(crd), live)).To(Succeed())
				conditions, _, err := unstructured.NestedSlice(live.Object, "status", "conditions")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(conditions).To(ContainElement(And(
					HaveKeyWithValue("type", "Established"), HaveKeyWithValue("status", "True"))))
			}).WithContext(ctx).Should(Succeed(), describe(crd))
		}

		samples := render(filepath.Join(repoRoot, "config", "samples"))
		for _, sample := range samples {
			s := sample.DeepCopy()
			s.SetNamespace(namespace)
			Expect(apply(ctx, s, client.DryRunAll)).To(Succeed(), describe(s))
		}

		// The negative control: the dry run does run the CRD's validation.
		broken := samples[0].DeepCopy()
		broken.SetNamespace(namespace)
		Expect(unstructured.SetNestedField(broken.Object, "Not--Valid", "spec", "organization")).To(Succeed())
		err := apply(ctx, broken, client.DryRunAll)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
	})
})
