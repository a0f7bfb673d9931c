package helm_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// cluster is the control plane the chart is installed on, shared by the install specs.
type cluster struct {
	env *envtest.Environment
	// adminConfig, adminClient and clientset act as system:masters, for the test's own setup and
	// checks; the manager never uses them.
	adminConfig *rest.Config
	adminClient client.Client
	clientset   kubernetes.Interface
	// helmKubeconfig is the kubeconfig helm's actions use, a system:masters user as a cluster
	// administrator installing the chart would be.
	helmKubeconfig string
	dir            string
	managerBin     string
	swrServer      *swrtest.Server
}

// organization is the SWR organization of every ImageRepository; each uses its own repository
// in it, named after its namespace.
const organization = "acme"

// credentialsSecret is the Secret of every spec's namespace holding the SWR test server's token.
const credentialsSecret = "swr-credentials"

// helmConfiguration returns helm's action configuration for namespace, storing releases in
// Secrets as the helm CLI does.
func (c *cluster) helmConfiguration(namespace string) *action.Configuration {
	GinkgoHelper()
	cacheDir := filepath.Join(c.dir, "kube-cache")
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.helmKubeconfig
	flags.Namespace = &namespace
	flags.CacheDir = &cacheDir
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(
		slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn})))
	Expect(cfg.Init(flags, namespace, "secret")).To(Succeed())
	return cfg
}

// helmInstall installs the chart as `helm install releaseName dist/chart -n namespace
// --create-namespace -f values` does (server-side apply, no waiting: no kubelet runs the pod).
func (c *cluster) helmInstall(ctx context.Context, releaseName, namespace string, vals map[string]any) {
	GinkgoHelper()
	chrt, err := loader.Load(chartDir)
	Expect(err).NotTo(HaveOccurred())
	install := action.NewInstall(c.helmConfiguration(namespace))
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.CreateNamespace = true
	install.WaitStrategy = kube.HookOnlyStrategy
	install.Timeout = time.Minute
	if vals == nil {
		vals = map[string]any{}
	}
	_, err = install.RunWithContext(ctx, chrt, vals)
	Expect(err).NotTo(HaveOccurred(), "helm install %s", releaseName)
}

// helmUninstall uninstalls the release as `helm uninstall releaseName -n namespace` does.
func (c *cluster) helmUninstall(releaseName, namespace string) {
	GinkgoHelper()
	uninstall := action.NewUninstall(c.helmConfiguration(namespace))
	uninstall.WaitStrategy = kube.HookOnlyStrategy
	uninstall.Timeout = time.Minute
	_, err := uninstall.Run(releaseName)
	Expect(err).NotTo(HaveOccurred(), "helm uninstall %s", releaseName)
}

// waitCRDsEstablished waits until every CRD the chart installs serves its API.
func (c *cluster) waitCRDsEstablished(ctx context.Context) {
	GinkgoHelper()
	crds := ofKind(mustRender(ctx, defaultRelease, defaultNamespace, nil).objs, crdGroup, "CustomResourceDefinition")
	Expect(crds).NotTo(BeEmpty())
	for _, crd := range crds {
		Eventually(func(g Gomega) {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(crd.GroupVersionKind())
			g.Expect(c.adminClient.Get(ctx, client.ObjectKeyFromObject(crd), live)).To(Succeed())
			conditions, _, err := unstructured.NestedSlice(live.Object, "status", "conditions")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(conditions).To(ContainElement(And(
				HaveKeyWithValue("type", "Established"), HaveKeyWithValue("status", "True"))))
		}).WithContext(ctx).Should(Succeed(), "CRD %s established", crd.GetName())
	}
}

// access asks the apiserver whether the ServiceAccount may do what attrs describes.
func (c *cluster) access(ctx context.Context, saNamespace, saName string, attrs authorizationv1.ResourceAttributes) (bool, string) {
	GinkgoHelper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               serviceaccount.MakeUsername(saNamespace, saName),
		Groups:             append(serviceaccount.MakeGroupNames(saNamespace), "system:authenticated"),
		ResourceAttributes: &attrs,
	}}
	Expect(c.adminClient.Create(ctx, review)).To(Succeed())
	return review.Status.Allowed, review.Status.Reason
}

// waitAllowed waits until the apiserver's authorizer, which learns roles and bindings from
// informers, lets the ServiceAccount do each of attrs: one rule per binding is enough to know the
// binding is seen. A manager started earlier would be refused its first requests for a reason
// no user would ever see.
func (c *cluster) waitAllowed(ctx context.Context, saNamespace, saName string, attrs ...authorizationv1.ResourceAttributes) {
	GinkgoHelper()
	for _, a := range attrs {
		Eventually(func() string {
			ok, reason := c.access(ctx, saNamespace, saName, a)
			if ok {
				return ""
			}
			return "refused: " + reason
		}).WithContext(ctx).Should(BeEmpty(), "ServiceAccount %s/%s may %+v", saNamespace, saName, a)
	}
}

// managerRun is the manager binary run as the ServiceAccount of a release's Deployment.
type managerRun struct {
	*process.Process
	namespace      string
	serviceAccount string
	metricsURL     string
	token          string
	// stopped is set when a spec stops the manager on purpose.
	stopped bool
}

// stop ends the manager on purpose: running checks no longer expect it.
func (m *managerRun) stop() {
	m.stopped = true
	m.Stop()
}

// running returns an error if the manager has ended without being stopped: a crash would
// otherwise show as a timeout in every later spec.
func (m *managerRun) running() error {
	if m.stopped {
		return nil
	}
	return m.StillRunning()
}

// startManager runs the manager with the container args of the Deployment the release
// installed, as its ServiceAccount, with only the changes running outside a pod needs: a
// kubeconfig holding the ServiceAccount's token, the Lease's namespace (a pod knows its own),
// loopback addresses, and plain http:// SWR endpoints (the test server speaks http). overrides
// replace further flags of the Deployment's; a flag given as "--name!" is dropped.
func (c *cluster) startManager(ctx context.Context, name, namespace, deploymentName string, overrides ...string) *managerRun {
	GinkgoHelper()
	var d appsv1.Deployment
	Expect(c.adminClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d)).To(Succeed())
	Expect(d.Spec.Template.Spec.Containers).To(HaveLen(1))
	sa := d.Spec.Template.Spec.ServiceAccountName
	token, err := controlplane.ServiceAccountToken(ctx, c.clientset, namespace, sa)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig := filepath.Join(c.dir, name+".kubeconfig")
	Expect(controlplane.WriteTokenKubeconfig(kubeconfig, c.adminConfig, token)).To(Succeed())
	port, err := controlplane.FreePort()
	Expect(err).NotTo(HaveOccurred())
	metricsAddr := "127.0.0.1:" + strconv.Itoa(port)

	args := withFlags(d.Spec.Template.Spec.Containers[0].Args, append([]string{
		"--kubeconfig=" + kubeconfig,
		"--leader-election-namespace=" + namespace,
		"--metrics-bind-address=" + metricsAddr,
		"--health-probe-bind-address=0",
		"--allow-insecure-endpoints",
	}, overrides...)...)
	p, err := process.Start(name, c.managerBin, args, process.Options{Out: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Stop)
	return &managerRun{Process: p, namespace: namespace, serviceAccount: sa, metricsURL: "https://" + metricsAddr + "/metrics", token: token}
}

// withFlags returns args with each of overrides in place of the flag of the same name: "--a=1"
// replaces every --a, "--a!" removes them.
func withFlags(args []string, overrides ...string) []string {
	flagName := func(arg string) string {
		name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		return strings.TrimSuffix(name, "!")
	}
	out := slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		return slices.ContainsFunc(overrides, func(o string) bool { return flagName(o) == flagName(a) })
	})
	for _, o := range overrides {
		if !strings.HasSuffix(o, "!") {
			out = append(out, o)
		}
	}
	return out
}

// refusals returns the lines of a manager's log where the apiserver refused it for lack of RBAC
// ("... is forbidden: User ... cannot ...").
func refusals(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			out = append(out, line)
		}
	}
	return out
}

// flagDefaults returns the defaults that the manager's -help prints for the named flags.
func flagDefaults(help string, names ...string) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	for _, name := range names {
		// flag.PrintDefaults: "  -name type\n    \tusage ... (default value)\n"
		block := regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(name) + `(?: \S+)?\n((?:    \t.*\n)+)`).FindStringSubmatch(help)
		Expect(block).NotTo(BeNil(), "-help describes -%s", name)
		def := regexp.MustCompile(`\(default (.*)\)\n$`).FindStringSubmatch(block[1])
		Expect(def).NotTo(BeNil(), "-help gives the default of -%s", name)
		value := def[1]
		if unquoted, err := strconv.Unquote(value); err == nil {
			value = unquoted
		}
		out[name] = value
	}
	return out
}

// newNamespace creates a namespace with the SWR credentials Secret in it. Namespaces are not
// deleted afterwards: that takes the namespace controller, which is not run.
func (c *cluster) newNamespace(ctx context.Context, prefix string) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "helm-" + prefix + "-"}}
	Expect(c.adminClient.Create(ctx, ns)).To(Succeed())
	Expect(c.adminClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: credentialsSecret, Namespace: ns.Name},
		StringData: map[string]string{"token": swrtest.DefaultToken},
	})).To(Succeed())
	return ns.Name
}

// createImageRepository makes the SWR test server list policies with the given ids for a
// repository named after the namespace, and creates an ImageRepository for it polled hourly.
func (c *cluster) createImageRepository(ctx context.Context, namespace, name string, ids ...int64) *swrv1.ImageRepository {
	GinkgoHelper()
	repository := namespace
	policies := make([]swr.SyncRepo, 0, len(ids))
	for _, id := range ids {
		policies = append(policies, swr.SyncRepo{
			ID: id, CreatedAt: "2026-01-02T03:04:05Z", UpdatedAt: "2026-02-03T04:05:06Z",
			DomainID: "0a1b2c3d4e5f", DomainName: "acme-cloud", Namespace: organization, RepoName: repository,
			RemoteRegionID: "cn-north-4", RemoteNamespace: fmt.Sprintf("mirror-%d", id), SyncAuto: true,
		})
	}
	c.swrServer.SetPolicies(organization, repository, policies...)
	repo := &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: swrv1.ImageRepositorySpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: organization,
				Endpoint:     c.swrServer.URL(),
				SecretRef:    swrv1.SecretReference{Name: credentialsSecret},
			},
			Repository: repository,
			Interval:   &metav1.Duration{Duration: time.Hour},
		},
	}
	Expect(c.adminClient.Create(ctx, repo)).To(Succeed())
	return repo
}

// expectReady waits until the ImageRepository is Ready=True with reason Succeeded and counts
// the given number of tasks.
func (c *cluster) expectReady(ctx context.Context, repo *swrv1.ImageRepository, tasks int) {
	GinkgoHelper()
	key := client.ObjectKeyFromObject(repo)
	Eventually(func(g Gomega) *metav1.Condition {
		live := &swrv1.ImageRepository{}
		g.Expect(c.adminClient.Get(ctx, key, live)).To(Succeed())
		return meta.FindStatusCondition(live.Status.Conditions, swrv1.ConditionReady)
	}).WithContext(ctx).Should(HaveValue(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", swrv1.ReasonSucceeded))), "ImageRepository %s Ready", key)
	live := &swrv1.ImageRepository{}
	Expect(c.adminClient.Get(ctx, key, live)).To(Succeed())
	Expect(live.Status.TaskCount).To(BeEquivalentTo(tasks), "status.taskCount of %s", key)
}

// tasksIn returns a function for Eventually that lists every SyncRepoTask of the namespace.
func (c *cluster) tasksIn(ctx context.Context, namespace string) func(Gomega) []swrv1.SyncRepoTask {
	return func(g Gomega) []swrv1.SyncRepoTask {
		list := &swrv1.SyncRepoTaskList{}
		g.Expect(c.adminClient.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
		return list.Items
	}
}
