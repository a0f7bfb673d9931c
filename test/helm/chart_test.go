package helm_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/imagesync/swr-sync-operator/internal/devenv/manifests"
)

// A release named like the chart, in config/default's namespace, gets config/default's names.
const (
	defaultRelease   = "swr-sync-operator"
	defaultNamespace = "swr-sync-operator-system"
	rbacGroup        = "rbac.authorization.k8s.io"
	crdGroup         = "apiextensions.k8s.io"
	keepPolicy       = "helm.sh/resource-policy"
)

// goMemLimit is the manager's GOMEMLIMIT: the container's memory limit in bytes, which main.go
// lowers to 90% for the Go runtime.
var goMemLimit = corev1.EnvVar{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{
	ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "manager", Resource: "limits.memory", Divisor: resource.MustParse("1")},
}}

// generatedManagerRules returns the rules of config/rbac/role.yaml, which controller-gen
// generates from the controllers' RBAC markers.
func generatedManagerRules() []rbacv1.PolicyRule {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "config", "rbac", "role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var role rbacv1.ClusterRole
	Expect(yaml.UnmarshalStrict(data, &role)).To(Succeed())
	Expect(role.Rules).NotTo(BeEmpty())
	return role.Rules
}

// rulesOf returns the rules of a rendered Role or ClusterRole.
func rulesOf(u *unstructured.Unstructured) []rbacv1.PolicyRule {
	GinkgoHelper()
	var role rbacv1.ClusterRole // a Role has the same rules field
	into(u, &role)
	return role.Rules
}

// managerContainer returns the rendered Deployment and its manager container.
func managerContainer(objs []*unstructured.Unstructured) (appsv1.Deployment, corev1.Container) {
	GinkgoHelper()
	var d appsv1.Deployment
	into(theOne(objs, "apps", "Deployment"), &d)
	Expect(d.Spec.Template.Spec.Containers).To(HaveLen(1))
	c := d.Spec.Template.Spec.Containers[0]
	Expect(c.Name).To(Equal("manager"))
	return d, c
}

// expectHardenedPod checks what test/install checks of config/default's pod.
func expectHardenedPod(pod corev1.PodSpec) {
	GinkgoHelper()
	Expect(pod.SecurityContext).NotTo(BeNil())
	Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
	Expect(pod.SecurityContext.SeccompProfile).To(HaveValue(HaveField("Type", corev1.SeccompProfileTypeRuntimeDefault)))
	Expect(pod.HostNetwork || pod.HostPID || pod.HostIPC).To(BeFalse())
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		sc := c.SecurityContext
		Expect(sc).NotTo(BeNil(), c.Name)
		Expect(sc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), c.Name)
		Expect(sc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), c.Name)
		Expect(sc.Privileged).To(Or(BeNil(), HaveValue(BeFalse())), c.Name)
		Expect(sc.Capabilities).NotTo(BeNil(), c.Name)
		Expect(sc.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")), c.Name)
		Expect(sc.Capabilities.Add).To(BeEmpty(), c.Name)
	}
}

// expectNoWildcardOrEscalation checks every rendered role as test/install checks config/default's.
func expectNoWildcardOrEscalation(objs []*unstructured.Unstructured) {
	GinkgoHelper()
	for _, kind := range []string{"Role", "ClusterRole"} {
		for _, u := range ofKind(objs, rbacGroup, kind) {
			for _, r := range rulesOf(u) {
				for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs, r.ResourceNames} {
					Expect(field).NotTo(ContainElement(ContainSubstring("*")), "%s: %+v", id(u), r)
				}
				Expect(r.Verbs).NotTo(ContainElements("bind", "escalate", "impersonate"), "%s: %+v", id(u), r)
			}
		}
	}
}

// bindingsOf returns the ClusterRoleBindings and RoleBindings whose subjects include the
// ServiceAccount namespace/name.
func bindingsOf(objs []*unstructured.Unstructured, namespace, name string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, u := range ofKind(objs, rbacGroup, kind) {
			var b rbacv1.RoleBinding // a ClusterRoleBinding has the same fields
			into(u, &b)
			if slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
				return s.Kind == rbacv1.ServiceAccountKind && s.Namespace == namespace && s.Name == name
			}) {
				out = append(out, u)
			}
		}
	}
	return out
}

// lintMessages lints the chart with values as `helm lint --kube-version` does and returns the
// warnings and errors.
func lintMessages(vals map[string]any) []string {
	GinkgoHelper()
	kv, err := common.ParseKubeVersion(kubeVersion)
	Expect(err).NotTo(HaveOccurred())
	result := lint.RunAll(chartDir, vals, defaultNamespace, lint.WithKubeVersion(kv))
	var out []string
	for _, m := range result.Messages {
		if m.Severity >= support.WarningSev {
			out = append(out, m.Error())
		}
	}
	return out
}

// The value sets the issue names: default, namespace-scoped, and sharded.
var (
	namespacedValues = `
manager:
  watchNamespaces: [team-a, team-b]
`
	shardValues = `
manager:
  watchLabelSelector: shard=a
`
	restShardValues = `
crds:
  install: false
manager:
  watchLabelSelector: '!shard'
`
)

var _ = Describe("dist/chart with default values", Ordered, func() {
	var chart, kustomized []*unstructured.Unstructured
	var notes string

	BeforeAll(func(ctx SpecContext) {
		r := mustRender(ctx, defaultRelease, defaultNamespace, nil)
		chart, notes = r.objs, r.notes
		var err error
		kustomized, err = manifests.Render(filepath.Join(repoRoot, "config", "default"))
		Expect(err).NotTo(HaveOccurred())
	})

	It("lints clean, as do the namespace-scoped and sharded sets", func() {
		for name, vals := range map[string]map[string]any{
			"default": nil, "namespace-scoped": values(namespacedValues),
			"shard": values(shardValues), "rest shard": values(restShardValues),
		} {
			Expect(lintMessages(vals)).To(BeEmpty(), "helm lint with the %s values", name)
		}
	})

	It("installs what config/default installs, under the same names, but the namespace Helm is given", func() {
		want := ids(slices.DeleteFunc(slices.Clone(kustomized), func(o *unstructured.Unstructured) bool {
			return o.GetKind() == "Namespace"
		}))
		Expect(ids(chart)).To(ConsistOf(want))
	})

	It("installs config/crd/bases' CRDs unchanged, kept on uninstall", func() {
		crds := ofKind(chart, crdGroup, "CustomResourceDefinition")
		Expect(crds).To(HaveLen(len(ofKind(kustomized, crdGroup, "CustomResourceDefinition"))))
		for _, crd := range crds {
			source := named(kustomized, crdGroup, "CustomResourceDefinition", "", crd.GetName())
			Expect(crd.Object["spec"]).To(Equal(source.Object["spec"]), "spec of %s", crd.GetName())
			for k, v := range source.GetAnnotations() {
				Expect(crd.GetAnnotations()).To(HaveKeyWithValue(k, v), crd.GetName())
			}
			Expect(crd.GetAnnotations()).To(HaveKeyWithValue(keepPolicy, "keep"), crd.GetName())
		}
	})

	It("grants every role config/default's rules, the manager's those of the generated role.yaml", func() {
		for _, kind := range []string{"Role", "ClusterRole"} {
			for _, source := range ofKind(kustomized, rbacGroup, kind) {
				role := named(chart, rbacGroup, kind, source.GetNamespace(), source.GetName())
				Expect(rulesOf(role)).To(Equal(rulesOf(source)), id(role))
				for k, v := range source.GetLabels() {
					if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
						Expect(role.GetLabels()).To(HaveKeyWithValue(k, v), "aggregation of %s", id(role))
					}
				}
			}
		}
		managerRole := named(chart, rbacGroup, "ClusterRole", "", defaultRelease+"-manager-role")
		Expect(rulesOf(managerRole)).To(Equal(generatedManagerRules()))
		expectNoWildcardOrEscalation(chart)
	})

	It("binds the same roles to the same subjects", func() {
		for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
			for _, source := range ofKind(kustomized, rbacGroup, kind) {
				var want, got rbacv1.RoleBinding
				into(source, &want)
				into(named(chart, rbacGroup, kind, source.GetNamespace(), source.GetName()), &got)
				Expect(got.RoleRef).To(Equal(want.RoleRef), id(source))
				Expect(got.Subjects).To(Equal(want.Subjects), id(source))
			}
		}
	})

	It("runs config/manager's hardened pod, with its flags", func() {
		deployment, manager := managerContainer(chart)
		sourceDeployment, source := managerContainer(kustomized)
		pod, sourcePod := deployment.Spec.Template.Spec, sourceDeployment.Spec.Template.Spec
		expectHardenedPod(pod)
		Expect(pod.SecurityContext).To(Equal(sourcePod.SecurityContext))
		Expect(pod.TerminationGracePeriodSeconds).To(Equal(sourcePod.TerminationGracePeriodSeconds))
		Expect(pod.ServiceAccountName).To(Equal(sourcePod.ServiceAccountName))
		Expect(deployment.Spec.Replicas).To(Equal(sourceDeployment.Spec.Replicas))
		Expect(manager.SecurityContext).To(Equal(source.SecurityContext))
		Expect(manager.LivenessProbe).To(Equal(source.LivenessProbe))
		Expect(manager.ReadinessProbe).To(Equal(source.ReadinessProbe))
		Expect(manager.Resources).To(Equal(source.Resources))
		Expect(manager.Env).To(Equal(source.Env), "GOMEMLIMIT from the container's memory limit, as config/manager sets it")
		Expect(manager.Command).To(Equal(source.Command))
		Expect(manager.Ports).To(ConsistOf(source.Ports))
		// config/default leaves every other flag at main.go's default; the chart writes them out
		// (a spec of the install suite checks they are main.go's defaults).
		Expect(manager.Args).To(ContainElements(source.Args))
		Expect(manager.Args).To(ContainElement("--metrics-secure=true"))
		Expect(manager.Image).To(Equal("swr-sync-operator:0.1.0"), "the image tag defaults to the appVersion")
	})

	It("exposes the metrics through a Service that selects the manager's pods", func() {
		deployment, _ := managerContainer(chart)
		var svc, source corev1.Service
		into(theOne(chart, "", "Service"), &svc)
		into(theOne(kustomized, "", "Service"), &source)
		Expect(svc.Spec.Ports).To(Equal(source.Spec.Ports))
		Expect(labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(deployment.Spec.Template.Labels))).To(BeTrue())
		Expect(labels.SelectorFromSet(deployment.Spec.Selector.MatchLabels).Matches(labels.Set(deployment.Spec.Template.Labels))).To(BeTrue())
	})

	It("says in its notes how to check the install and grant metrics access", func() {
		Expect(notes).To(ContainSubstring("rollout status deployment/swr-sync-operator-controller-manager"))
		Expect(notes).To(ContainSubstring("--clusterrole=swr-sync-operator-metrics-reader"))
		Expect(notes).To(ContainSubstring("argocd-cm"))
	})
})

var _ = Describe("dist/chart's values", func() {
	render := func(ctx SpecContext, text string) []*unstructured.Unstructured {
		GinkgoHelper()
		return mustRender(ctx, defaultRelease, defaultNamespace, values(text)).objs
	}
	args := func(objs []*unstructured.Unstructured) []string {
		GinkgoHelper()
		_, c := managerContainer(objs)
		return c.Args
	}

	It("passes every manager flag and the extra environment", func(ctx SpecContext) {
		objs := render(ctx, `
manager:
  concurrent: 16
  minInterval: 1m30s
  watchLabelSelector: "shard in (b,c)"
  allowedEndpointHosts: [.myhuaweicloud.com, swr.example.com]
  swrQPS: 2.5
  swrBurst: 5
  kubeAPIQPS: 1000000
  kubeAPIBurst: 2000
  logLevel: debug
env:
- name: HTTPS_PROXY
  value: http://proxy.example.com:3128
`)
		Expect(args(objs)).To(ContainElements(
			"--concurrent=16", "--min-interval=1m30s", "--watch-label-selector=shard in (b,c)",
			"--allowed-endpoint-hosts=.myhuaweicloud.com,swr.example.com",
			"--swr-qps=2.5", "--swr-burst=5", "--kube-api-qps=1e+06", "--kube-api-burst=2000", "--zap-log-level=debug"))
		_, c := managerContainer(objs)
		Expect(c.Env).To(Equal([]corev1.EnvVar{goMemLimit, {Name: "HTTPS_PROXY", Value: "http://proxy.example.com:3128"}}))
	})

	It("places and sizes the pod as told, keeping the container hardened", func(ctx SpecContext) {
		objs := render(ctx, `
replicaCount: 2
image: {repository: registry.example.com/swr-sync-operator, tag: v9, pullPolicy: Always}
imagePullSecrets: [{name: regcred}]
resources: {requests: {cpu: 50m, memory: 128Mi}, limits: {cpu: "1", memory: 512Mi}}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: operators, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [ops]}]}]}}}
podSecurityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
`)
		d, c := managerContainer(objs)
		pod := d.Spec.Template.Spec
		Expect(d.Spec.Replicas).To(HaveValue(BeEquivalentTo(2)))
		Expect(c.Image).To(Equal("registry.example.com/swr-sync-operator:v9"))
		Expect(c.ImagePullPolicy).To(Equal(corev1.PullAlways))
		Expect(pod.ImagePullSecrets).To(ConsistOf(corev1.LocalObjectReference{Name: "regcred"}))
		Expect(c.Resources.Limits.Memory().String()).To(Equal("512Mi"))
		Expect(c.Env).To(Equal([]corev1.EnvVar{goMemLimit}), "GOMEMLIMIT follows whatever memory limit is set")
		Expect(pod.NodeSelector).To(HaveKeyWithValue("kubernetes.io/os", "linux"))
		Expect(pod.Tolerations).To(HaveLen(1))
		Expect(pod.Affinity.NodeAffinity).NotTo(BeNil())
		Expect(pod.SecurityContext.RunAsUser).To(HaveValue(BeEquivalentTo(65532)))
		expectHardenedPod(pod)
	})

	It("refuses several replicas without leader election", func(ctx SpecContext) {
		_, err := renderChart(ctx, defaultRelease, defaultNamespace, values("replicaCount: 2\nleaderElection: {enabled: false}"))
		Expect(err).To(MatchError(ContainSubstring("replicaCount above 1 needs leaderElection.enabled")))
		objs := render(ctx, "leaderElection: {enabled: false}")
		Expect(args(objs)).NotTo(ContainElement("--leader-elect"))
		Expect(ofKind(objs, rbacGroup, "Role")).To(BeEmpty(), "no Lease, no leader-election Role")
	})

	It("drops the CRDs' keep policy with crds.keep=false, and the CRDs with crds.install=false", func(ctx SpecContext) {
		crds := ofKind(render(ctx, "crds: {keep: false}"), crdGroup, "CustomResourceDefinition")
		Expect(crds).NotTo(BeEmpty())
		for _, crd := range crds {
			Expect(crd.GetAnnotations()).NotTo(HaveKey(keepPolicy), crd.GetName())
		}
		Expect(ofKind(render(ctx, "crds: {install: false}"), crdGroup, "CustomResourceDefinition")).To(BeEmpty())
	})

	It("leaves RBAC and the ServiceAccount to the user when told", func(ctx SpecContext) {
		objs := render(ctx, "rbac: {create: false}\nserviceAccount: {create: false, name: swr-operator}")
		for _, kind := range []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"} {
			Expect(ofKind(objs, rbacGroup, kind)).To(BeEmpty(), kind)
		}
		Expect(ofKind(objs, "", "ServiceAccount")).To(BeEmpty())
		d, _ := managerContainer(objs)
		Expect(d.Spec.Template.Spec.ServiceAccountName).To(Equal("swr-operator"))

		objs = render(ctx, "serviceAccount: {name: swr-operator, annotations: {eks.amazonaws.com/role-arn: arn}}")
		sa := theOne(objs, "", "ServiceAccount")
		Expect(sa.GetName()).To(Equal("swr-operator"))
		Expect(sa.GetAnnotations()).To(HaveKeyWithValue("eks.amazonaws.com/role-arn", "arn"))
		for _, b := range ofKind(objs, rbacGroup, "ClusterRoleBinding") {
			var binding rbacv1.ClusterRoleBinding
			into(b, &binding)
			Expect(binding.Subjects).To(ConsistOf(HaveField("Name", "swr-operator")), id(b))
		}
	})

	It("serves plain HTTP metrics only when asked, or none", func(ctx SpecContext) {
		objs := render(ctx, "metrics: {secure: false, port: 8080}")
		Expect(args(objs)).To(ContainElements("--metrics-bind-address=:8080", "--metrics-secure=false"))
		Expect(theOne(objs, "", "Service").Object).To(HaveKeyWithValue("spec", HaveKeyWithValue("ports",
			ConsistOf(And(HaveKeyWithValue("name", "http"), HaveKeyWithValue("port", BeEquivalentTo(8080)))))))
		Expect(find(objs, rbacGroup, "ClusterRole", "", defaultRelease+"-metrics-auth-role")).To(BeNil(), "no reviews without authentication")

		objs = render(ctx, "metrics: {enabled: false}")
		Expect(args(objs)).To(ContainElement("--metrics-bind-address=0"))
		Expect(ofKind(objs, "", "Service")).To(BeEmpty())
		_, err := renderChart(ctx, defaultRelease, defaultNamespace, values("metrics: {enabled: false}\nserviceMonitor: {enabled: true}"))
		Expect(err).To(MatchError(ContainSubstring("serviceMonitor.enabled needs metrics.enabled")))
	})

	It("renders a ServiceMonitor that scrapes the metrics Service as config/prometheus does", func(ctx SpecContext) {
		objs := render(ctx, "serviceMonitor: {enabled: true, labels: {release: prometheus}, interval: 30s}")
		monitor := theOne(objs, "monitoring.coreos.com", "ServiceMonitor")
		Expect(monitor.GetLabels()).To(HaveKeyWithValue("release", "prometheus"))
		endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		Expect(endpoints).To(ConsistOf(And(
			HaveKeyWithValue("port", "https"), HaveKeyWithValue("scheme", "https"), HaveKeyWithValue("interval", "30s"),
			HaveKeyWithValue("honorLabels", true), HaveKeyWithValue("tlsConfig", HaveKeyWithValue("insecureSkipVerify", true)),
			HaveKeyWithValue("bearerTokenFile", "/var/run/secrets/kubernetes.io/serviceaccount/token"))))
		selector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
		svc := theOne(objs, "", "Service")
		Expect(labels.SelectorFromSet(selector).Matches(labels.Set(svc.GetLabels()))).To(BeTrue(), "selects the metrics Service")
	})

	DescribeTable("the schema refuses a wrong value, naming it",
		func(ctx SpecContext, text string, want ...string) {
			_, err := renderChart(ctx, defaultRelease, defaultNamespace, values(text))
			Expect(err).To(HaveOccurred())
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
			Expect(lintMessages(values(text))).NotTo(BeEmpty(), "helm lint refuses it too")
		},
		Entry("a string for a number", `manager: {concurrent: "four"}`, "at '/manager/concurrent'", "got string, want integer"),
		Entry("a misspelt value", `manager: {concurent: 4}`, "at '/manager'", "concurent"),
		Entry("a kube-api-qps of 0, which client-go would turn into 5", `manager: {kubeAPIQPS: 0}`, "at '/manager/kubeAPIQPS'"),
		Entry("a namespace name no namespace can have", `manager: {watchNamespaces: [Team_A]}`, "at '/manager/watchNamespaces/0'"),
		Entry("a duration without a unit", `manager: {minInterval: "30"}`, "at '/manager/minInterval'"),
		Entry("a host with a scheme", `manager: {allowedEndpointHosts: ["https://swr.example.com"]}`, "at '/manager/allowedEndpointHosts/0'"),
		Entry("an unknown log level", `manager: {logLevel: verbose}`, "at '/manager/logLevel'"),
	)
})

var _ = Describe("dist/chart in the namespace-scoped mode", func() {
	It("grants the manager Roles in the watched namespaces and no ClusterRole of its own, and watches only them", func(ctx SpecContext) {
		r := mustRender(ctx, defaultRelease, defaultNamespace, values(namespacedValues))
		objs := r.objs
		_, manager := managerContainer(objs)
		Expect(manager.Args).To(ContainElement("--watch-namespace=team-a,team-b"))

		for _, ns := range []string{"team-a", "team-b"} {
			role := named(objs, rbacGroup, "Role", ns, defaultRelease+"-manager-role")
			Expect(rulesOf(role)).To(Equal(generatedManagerRules()), id(role))
			var binding rbacv1.RoleBinding
			into(named(objs, rbacGroup, "RoleBinding", ns, defaultRelease+"-manager-rolebinding"), &binding)
			Expect(binding.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "Role", Name: defaultRelease + "-manager-role"}))
			Expect(binding.Subjects).To(ConsistOf(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: defaultRelease + "-controller-manager", Namespace: defaultNamespace}))
		}
		Expect(find(objs, rbacGroup, "ClusterRole", "", defaultRelease+"-manager-role")).To(BeNil())
		Expect(find(objs, rbacGroup, "ClusterRoleBinding", "", defaultRelease+"-manager-rolebinding")).To(BeNil())

		// What stays cluster-wide: the create-only reviews of the metrics endpoint.
		for _, b := range bindingsOf(objs, defaultNamespace, defaultRelease+"-controller-manager") {
			if b.GetKind() != "ClusterRoleBinding" {
				Expect(b.GetNamespace()).To(BeElementOf("team-a", "team-b", defaultNamespace), id(b))
				continue
			}
			var binding rbacv1.ClusterRoleBinding
			into(b, &binding)
			for _, rule := range rulesOf(named(objs, rbacGroup, "ClusterRole", "", binding.RoleRef.Name)) {
				Expect(rule.Verbs).To(Equal([]string{"create"}), id(b))
				Expect(rule.Resources).To(BeElementOf([]string{"tokenreviews"}, []string{"subjectaccessreviews"}), id(b))
			}
		}
		expectNoWildcardOrEscalation(objs)
		Expect(r.notes).To(ContainSubstring("watches only the namespaces team-a, team-b"))
	})
})

var _ = Describe("dist/chart sharded between releases", func() {
	It("gives each shard its selector, its own names and pods, and the CRDs to one of them", func(ctx SpecContext) {
		a := mustRender(ctx, "swr-shard-a", defaultNamespace, values(shardValues)).objs
		rest := mustRender(ctx, "swr-shard-rest", defaultNamespace, values(restShardValues)).objs

		_, managerA := managerContainer(a)
		_, managerRest := managerContainer(rest)
		Expect(managerA.Args).To(ContainElement("--watch-label-selector=shard=a"))
		Expect(managerRest.Args).To(ContainElement("--watch-label-selector=!shard"))
		Expect(ofKind(a, crdGroup, "CustomResourceDefinition")).NotTo(BeEmpty())
		Expect(ofKind(rest, crdGroup, "CustomResourceDefinition")).To(BeEmpty())

		for _, name := range ids(a) {
			Expect(ids(rest)).NotTo(ContainElement(name), "both releases would own it")
		}
		deploymentA, _ := managerContainer(a)
		deploymentRest, _ := managerContainer(rest)
		for _, pair := range [][2]appsv1.Deployment{{deploymentA, deploymentRest}, {deploymentRest, deploymentA}} {
			Expect(labels.SelectorFromSet(pair[0].Spec.Selector.MatchLabels).Matches(labels.Set(pair[1].Spec.Template.Labels))).
				To(BeFalse(), "Deployment %s selects the pods of %s", pair[0].Name, pair[1].Name)
		}
	})
})
