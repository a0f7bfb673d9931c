package helm_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// Names the chart gives a release named like the chart (config/default's names), and main.go's
// Lease of the unsharded operator.
const (
	managerDeployment   = defaultRelease + "-controller-manager"
	managerSA           = defaultRelease + "-controller-manager"
	metricsReaderRole   = defaultRelease + "-metrics-reader"
	leaderElectionLease = "swr-sync-operator.swr.imagesync.io"
)

// The install specs share one control plane. The release with default values goes first, then
// is uninstalled (its CRDs stay) and its manager stopped, so that the namespace-scoped release
// that follows is the only operator running.
var _ = Describe("dist/chart installed with helm on a hardened control plane", Ordered, ContinueOnFailure, func() {
	c := &cluster{}

	BeforeAll(func(ctx SpecContext) {
		Expect(devenv.CheckControlPlaneAssets("test")).To(Succeed())
		kubeControllerManagerBin, err := controlplane.KubeControllerManagerBinary()
		Expect(err).NotTo(HaveOccurred())

		// Compiling the manager takes as long as starting the control plane: do both at once.
		c.dir = GinkgoT().TempDir()
		c.managerBin = filepath.Join(c.dir, "manager")
		finishBuild, err := controlplane.BuildManager(ctx, repoRoot, c.managerBin, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())

		c.env, c.adminConfig, err = controlplane.StartHardened()
		Expect(err).NotTo(HaveOccurred())
		// Cleanups run last registered first: processes stop before the apiserver does.
		DeferCleanup(func() { Expect(c.env.Stop()).To(Succeed()) })
		c.adminClient, err = client.New(c.adminConfig, client.Options{Scheme: newScheme()})
		Expect(err).NotTo(HaveOccurred())
		c.clientset, err = kubernetes.NewForConfig(c.adminConfig)
		Expect(err).NotTo(HaveOccurred())
		c.helmKubeconfig = filepath.Join(c.dir, "helm.kubeconfig")
		Expect(controlplane.WriteAdminKubeconfig(c.env, "helm-test-admin", c.helmKubeconfig)).To(Succeed())

		// The namespace a careful administrator prepares: the manager needs nothing beyond the
		// "restricted" Pod Security Standard, so it is enforced (helm --create-namespace keeps it).
		Expect(c.adminClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:   defaultNamespace,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"},
		}})).To(Succeed())
		c.helmInstall(ctx, defaultRelease, defaultNamespace, nil)
		c.waitCRDsEstablished(ctx)
		// Started once the CRDs exist, so that its garbage collector and quota monitors cover the
		// operator's kinds from their first discovery instead of 30 seconds later.
		kcm, err := controlplane.StartKubeControllerManager(c.env, c.dir, kubeControllerManagerBin, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(kcm.Stop)

		c.swrServer = swrtest.NewServer()
		DeferCleanup(c.swrServer.Close)
		Expect(finishBuild()).To(Succeed())
	})

	Describe("with default values", Ordered, func() {
		var manager *managerRun

		BeforeAll(func(ctx SpecContext) {
			c.waitAllowed(ctx, defaultNamespace, managerSA,
				authorizationv1.ResourceAttributes{Verb: "watch", Group: swrv1.GroupVersion.Group, Resource: "imagerepositories"},
				authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
				authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: defaultNamespace})
			manager = c.startManager(ctx, "manager", defaultNamespace, managerDeployment)
		})
		AfterEach(func() {
			Expect(manager.running()).To(Succeed())
		})

		It("mirrors each policy into a SyncRepoTask owned by its ImageRepository, and reports Ready", func(ctx SpecContext) {
			ns := c.newNamespace(ctx, "mirror")
			repo := c.createImageRepository(ctx, ns, "app", 101, 102)
			Eventually(c.tasksIn(ctx, ns)).WithContext(ctx).Should(HaveLen(2))
			c.expectReady(ctx, repo, 2)
			live := &swrv1.ImageRepository{}
			Expect(c.adminClient.Get(ctx, client.ObjectKeyFromObject(repo), live)).To(Succeed())
			for _, task := range c.tasksIn(ctx, ns)(Default) {
				// Admitted by OwnerReferencesPermissionEnforcement: the chart's role may update the
				// owner's finalizers.
				Expect(task.OwnerReferences).To(ConsistOf(And(
					HaveField("UID", live.UID), HaveField("BlockOwnerDeletion", HaveValue(BeTrue())))), task.Name)
				Expect(task.Status.ID).To(BeElementOf(int64(101), int64(102)))
			}
		})

		It("runs a pod that the restricted Pod Security Standard admits", func(ctx SpecContext) {
			var d appsv1.Deployment
			Expect(c.adminClient.Get(ctx, client.ObjectKey{Namespace: defaultNamespace, Name: managerDeployment}, &d)).To(Succeed())
			pod := func(spec corev1.PodSpec) *corev1.Pod {
				return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "manager-", Namespace: defaultNamespace}, Spec: spec}
			}
			// A dry run goes through admission, PodSecurity's among it, and stores nothing.
			Expect(c.adminClient.Create(ctx, pod(d.Spec.Template.Spec), client.DryRunAll)).To(Succeed())
			// The negative control: the same pod without its pod securityContext is refused, so
			// the namespace does enforce the standard.
			weakened := *d.Spec.Template.Spec.DeepCopy()
			weakened.SecurityContext = nil
			err := c.adminClient.Create(ctx, pod(weakened), client.DryRunAll)
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
			Expect(err.Error()).To(ContainSubstring("violates PodSecurity"))
		})

		It("has its tasks removed by the garbage collector when the ImageRepository is deleted", func(ctx SpecContext) {
			ns := c.newNamespace(ctx, "gc")
			repo := c.createImageRepository(ctx, ns, "app", 301, 302)
			Eventually(c.tasksIn(ctx, ns)).WithContext(ctx).Should(HaveLen(2))
			Expect(c.adminClient.Delete(ctx, repo, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
			// Only kube-controller-manager's garbage collector deletes them.
			Eventually(c.tasksIn(ctx, ns)).WithContext(ctx).Should(BeEmpty())
		})

		It("holds the leader-election Lease in the release namespace with the chart's Role", func(ctx SpecContext) {
			lease := &coordinationv1.Lease{}
			Eventually(func(g Gomega) *string {
				g.Expect(c.adminClient.Get(ctx, client.ObjectKey{Namespace: defaultNamespace, Name: leaderElectionLease}, lease)).To(Succeed())
				return lease.Spec.HolderIdentity
			}).WithContext(ctx).Should(HaveValue(Not(BeEmpty())))
		})

		It("serves its metrics to the chart's metrics-reader ClusterRole only", func(ctx SpecContext) {
			ns := c.newNamespace(ctx, "metrics")
			c.expectReady(ctx, c.createImageRepository(ctx, ns, "app", 501), 1)
			for _, name := range []string{"scraper", "stranger"} {
				Expect(c.adminClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
			}
			Expect(c.adminClient.Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "helm-metrics-scraper-"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
			})).To(Succeed())
			scraper, err := controlplane.ServiceAccountToken(ctx, c.clientset, ns, "scraper")
			Expect(err).NotTo(HaveOccurred())
			stranger, err := controlplane.ServiceAccountToken(ctx, c.clientset, ns, "stranger")
			Expect(err).NotTo(HaveOccurred())

			httpClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's self-signed certificate
			}}
			type answer struct {
				Status int
				Body   string
			}
			scrape := func(token string) func(Gomega) answer {
				return func(g Gomega) answer {
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, manager.metricsURL, http.NoBody)
					g.Expect(err).NotTo(HaveOccurred())
					if token != "" {
						req.Header.Set("Authorization", "Bearer "+token)
					}
					resp, err := httpClient.Do(req)
					g.Expect(err).NotTo(HaveOccurred())
					defer resp.Body.Close()
					body, err := io.ReadAll(resp.Body)
					g.Expect(err).NotTo(HaveOccurred())
					return answer{resp.StatusCode, string(body)}
				}
			}
			// Eventually: the authorizer learns the new binding from an informer.
			Eventually(scrape(scraper)).WithContext(ctx).Should(And(
				HaveField("Status", http.StatusOK), HaveField("Body", ContainSubstring("swr_sync_"))))
			Expect(scrape(stranger)(Default)).To(HaveField("Status", http.StatusForbidden), "a ServiceAccount with no binding")
			Expect(scrape("")(Default)).To(HaveField("Status", http.StatusUnauthorized), "no token")
		})

		It("writes out main.go's defaults for the flags config/default leaves unset", func(ctx SpecContext) {
			help, _ := exec.CommandContext(ctx, c.managerBin, "-help").CombinedOutput()
			defaults := flagDefaults(string(help), "concurrent", "min-interval", "swr-qps", "swr-burst",
				"kube-api-qps", "kube-api-burst", "metrics-secure", "health-probe-bind-address")
			_, container := managerContainer(mustRender(ctx, defaultRelease, defaultNamespace, nil).objs)
			for name, value := range defaults {
				Expect(container.Args).To(ContainElement("--"+name+"="+value), "main.go's default of --%s", name)
			}
		})

		It("was refused nothing for lack of RBAC", func() {
			log := manager.Output()
			Expect(log).To(ContainSubstring("starting manager"), "the captured output is the manager's")
			Expect(refusals(log)).To(BeEmpty(), "the chart's RBAC lacks a rule")
		})

		It("is uninstalled by helm, which keeps the CRDs and the objects of their kinds", func(ctx SpecContext) {
			manager.stop()
			ns := c.newNamespace(ctx, "kept")
			repo := c.createImageRepository(ctx, ns, "app")
			c.helmUninstall(defaultRelease, defaultNamespace)

			for _, gone := range []client.Object{
				&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: defaultRelease + "-manager-role"}},
				&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: defaultRelease + "-manager-rolebinding"}},
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: managerSA, Namespace: defaultNamespace}},
			} {
				Eventually(func() error {
					return c.adminClient.Get(ctx, client.ObjectKeyFromObject(gone), gone)
				}).WithContext(ctx).Should(Satisfy(apierrors.IsNotFound), "%T %s deleted", gone, gone.GetName())
			}
			crds := &apiextensionsv1.CustomResourceDefinitionList{}
			Expect(c.adminClient.List(ctx, crds)).To(Succeed())
			Expect(crds.Items).To(ContainElement(HaveField("Name", "imagerepositories.swr.imagesync.io")))
			for _, crd := range crds.Items {
				Expect(crd.DeletionTimestamp).To(BeNil(), crd.Name)
			}
			Expect(c.adminClient.Get(ctx, client.ObjectKeyFromObject(repo), &swrv1.ImageRepository{})).To(Succeed(), "ImageRepositories stay")
		})
	})

	Describe("in the namespace-scoped mode", Ordered, func() {
		const scopedRelease, scopedNamespace = "scoped", "scoped-system"
		// The chart's names for a release that does not contain the chart's name.
		scopedSA := scopedRelease + "-swr-sync-operator-controller-manager"
		var watched []string
		var outside string
		var manager *managerRun
		var outsideRepo *swrv1.ImageRepository

		BeforeAll(func(ctx SpecContext) {
			watched = []string{c.newNamespace(ctx, "team-a"), c.newNamespace(ctx, "team-b")}
			outside = c.newNamespace(ctx, "outside")
			// The second release of the cluster: the first one's CRDs, kept, serve it.
			c.helmInstall(ctx, scopedRelease, scopedNamespace, map[string]any{
				"crds":    map[string]any{"install": false},
				"manager": map[string]any{"watchNamespaces": []any{watched[0], watched[1]}},
			})
			for _, ns := range watched {
				c.waitAllowed(ctx, scopedNamespace, scopedSA,
					authorizationv1.ResourceAttributes{Verb: "watch", Group: swrv1.GroupVersion.Group, Resource: "imagerepositories", Namespace: ns})
			}
			c.waitAllowed(ctx, scopedNamespace, scopedSA,
				authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
				authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: scopedNamespace})
			outsideRepo = c.createImageRepository(ctx, outside, "app", 901)
			manager = c.startManager(ctx, "scoped-manager", scopedNamespace, scopedRelease+"-swr-sync-operator-controller-manager")
			Expect(manager.serviceAccount).To(Equal(scopedSA))
		})
		AfterEach(func() {
			Expect(manager.running()).To(Succeed())
		})

		// untouched checks that nothing reconciled the ImageRepository outside the watched
		// namespaces: no status, no finalizer, no task, and SWR never asked about it.
		untouched := func(ctx SpecContext) func(Gomega) {
			return func(g Gomega) {
				live := &swrv1.ImageRepository{}
				g.Expect(c.adminClient.Get(ctx, client.ObjectKeyFromObject(outsideRepo), live)).To(Succeed())
				g.Expect(live.Status.Conditions).To(BeEmpty())
				g.Expect(live.Status.ObservedGeneration).To(BeEquivalentTo(-1), "the CRD's default: no status was ever written")
				g.Expect(live.Finalizers).To(BeEmpty())
				g.Expect(c.tasksIn(ctx, outside)(g)).To(BeEmpty())
				g.Expect(c.swrServer.RequestCount(organization, outside)).To(BeZero())
			}
		}

		It("reconciles the ImageRepositories of the namespaces it watches", func(ctx SpecContext) {
			for i, ns := range watched {
				c.expectReady(ctx, c.createImageRepository(ctx, ns, "app", int64(700+i)), 1)
			}
			Expect(manager.Output()).To(ContainSubstring(`"watchNamespaces":["%s","%s"]`, watched[0], watched[1]), "the chart's --watch-namespace")
		})

		It("never touches an ImageRepository in another namespace", func(ctx SpecContext) {
			// The watched ones are Ready (the spec above), so the manager has long been running.
			Consistently(untouched(ctx)).WithContext(ctx).WithTimeout(3 * time.Second).Should(Succeed())
		})

		It("is refused every other namespace by RBAC, not only by its flags", func(ctx SpecContext) {
			for _, a := range []authorizationv1.ResourceAttributes{
				{Verb: "list", Group: swrv1.GroupVersion.Group, Resource: "imagerepositories"},
				{Verb: "list", Group: swrv1.GroupVersion.Group, Resource: "imagerepositories", Namespace: outside},
				{Verb: "patch", Group: swrv1.GroupVersion.Group, Resource: "imagerepositories", Subresource: "status", Namespace: outside},
				{Verb: "create", Group: swrv1.GroupVersion.Group, Resource: "syncrepotasks", Namespace: outside},
				{Verb: "get", Resource: "secrets", Namespace: outside},
				{Verb: "list", Resource: "secrets"},
			} {
				allowed, _ := c.access(ctx, scopedNamespace, scopedSA, a)
				Expect(allowed).To(BeFalse(), "the namespace-scoped manager may %+v", a)
			}
			// With the manager's own token, as the apiserver answers it.
			saClient, err := client.New(controlplane.TokenConfig(c.adminConfig, manager.token), client.Options{Scheme: newScheme()})
			Expect(err).NotTo(HaveOccurred())
			for namespace, want := range map[string]func(error) bool{
				watched[0]: func(err error) bool { return err == nil },
				outside:    apierrors.IsForbidden,
				"":         apierrors.IsForbidden,
			} {
				err := saClient.List(ctx, &swrv1.ImageRepositoryList{}, client.InNamespace(namespace))
				Expect(want(err)).To(BeTrue(), "listing ImageRepositories in %q: %v", namespace, err)
			}
			Expect(apierrors.IsForbidden(saClient.Get(ctx, client.ObjectKey{Namespace: outside, Name: credentialsSecret}, &corev1.Secret{}))).
				To(BeTrue(), "the Secret of another namespace")

			// The negative control: the same ServiceAccount running a manager told to watch every
			// namespace is refused at once, and still touches nothing outside.
			unscoped := c.startManager(ctx, "unscoped-manager", scopedNamespace, scopedRelease+"-swr-sync-operator-controller-manager",
				"--watch-namespace!", "--leader-elect=false", "--metrics-bind-address=0")
			Eventually(unscoped.Output).WithContext(ctx).Should(MatchRegexp(
				`imagerepositories\.swr\.imagesync\.io is forbidden: User \\?"system:serviceaccount:%s:%s\\?" cannot (list|watch) resource \\?"imagerepositories\\?" in API group \\?"swr\.imagesync\.io\\?" at the cluster scope`,
				scopedNamespace, scopedSA))
			Consistently(untouched(ctx)).WithContext(ctx).WithTimeout(2 * time.Second).Should(Succeed())
			unscoped.stop()
		})

		It("was refused nothing for lack of RBAC", func() {
			log := manager.Output()
			Expect(log).To(ContainSubstring("starting manager"))
			Expect(refusals(log)).To(BeEmpty(), "the namespace-scoped RBAC lacks a rule the manager needs")
		})
	})
})
