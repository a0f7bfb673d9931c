// Package e2e_test runs the manager binary built from main.go, as a separate process, against a
// real kube-apiserver and the in-process SWR server, for what only a real process can show:
// being killed.
package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

var (
	testEnv    *envtest.Environment
	k8sClient  client.Client
	managerBin string
	kubeconfig string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(2 * time.Minute)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "E2E Suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	// Compiling the manager takes as long as starting the control plane: do both at once.
	dir := GinkgoT().TempDir()
	managerBin = filepath.Join(dir, "manager")
	finishBuild, err := controlplane.BuildManager(ctx, filepath.Join("..", ".."), managerBin, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())

	testEnv = controlplane.WithCRDs(filepath.Join("..", "..", "config", "crd", "bases"))
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start envtest: run 'make test', which builds the control plane and sets KUBEBUILDER_ASSETS")
	scheme, err := controlplane.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	kubeconfig = filepath.Join(dir, "kubeconfig")
	Expect(controlplane.WriteAdminKubeconfig(testEnv, "e2e-admin", kubeconfig)).To(Succeed())
	Expect(finishBuild()).To(Succeed())
})

var _ = AfterSuite(func() {
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// startManager runs the manager binary until the spec ends or it is killed.
func startManager(extraArgs ...string) *process.Process {
	args := append([]string{"--kubeconfig", kubeconfig, "--allow-insecure-endpoints",
		"--health-probe-bind-address=0", "--metrics-bind-address=0", "--min-interval=1s"}, extraArgs...)
	p, err := process.Start("manager", managerBin, args, process.Options{Out: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Stop)
	return p
}

func policies(organization, repository string, ids ...int64) []swr.SyncRepo {
	out := make([]swr.SyncRepo, 0, len(ids))
	for _, id := range ids {
		out = append(out, swr.SyncRepo{ID: id, Namespace: organization, RepoName: repository,
			RemoteRegionID: "cn-north-4", RemoteNamespace: "mirror-" + strconv.FormatInt(id, 10), SyncAuto: true})
	}
	return out
}

func idRange(from, to int64) []int64 {
	var ids []int64
	for id := from; id < to; id++ {
		ids = append(ids, id)
	}
	return ids
}

// mirroredIDs returns the policy ids of the tasks labelled for repository name, and how many
// tasks carry each id (duplicates would show as counts above 1).
func mirroredIDs(ctx context.Context, namespace, name string) map[int64]int {
	list := &swrv1.SyncRepoTaskList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(namespace),
		client.MatchingLabels{swrv1.ImageRepositoryLabel: name})).To(Succeed())
	ids := map[int64]int{}
	for _, t := range list.Items {
		ids[t.Status.ID]++
	}
	return ids
}

func countTasks(ctx context.Context, namespace string) int {
	list := &swrv1.SyncRepoTaskList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
	return len(list.Items)
}

var _ = Describe("A manager killed in the middle of mirroring", func() {
	It("converges after a restart to exactly the upstream set", func() {
		ctx := context.Background()
		server := swrtest.NewServer()
		DeferCleanup(server.Close)

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
		Expect(k8sClient.Create(ctx, ns)).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns.Name},
			StringData: map[string]string{"token": swrtest.DefaultToken}})).To(Succeed())

		const repos = 3
		upstream := map[string][]int64{}
		for i := range repos {
			name := fmt.Sprintf("app%d", i)
			upstream[name] = idRange(int64(i)*1000, int64(i)*1000+100)
			server.SetPolicies("acme", name, policies("acme", name, upstream[name]...)...)
			Expect(k8sClient.Create(ctx, &swrv1.ImageRepository{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name},
				Spec: swrv1.ImageRepositorySpec{
					SWRAccess:  swrv1.SWRAccess{Organization: "acme", Endpoint: server.URL(), SecretRef: swrv1.SecretReference{Name: "creds"}},
					Repository: name, Interval: &metav1.Duration{Duration: time.Hour}},
			})).To(Succeed())
		}

		By("a manager slowed to 20 API requests per second, killed part way")
		first := startManager("--kube-api-qps=20", "--kube-api-burst=1")
		Eventually(func() int { return countTasks(ctx, ns.Name) }).Should(BeNumerically(">=", 30))
		Expect(first.StillRunning()).To(Succeed())
		first.Stop() // SIGKILL, as a crash would, and waits for the end
		killedAt := countTasks(ctx, ns.Name)
		// Below 100 no repository can have finished its poll, so none recorded a successful poll.
		Expect(killedAt).To(BeNumerically("<", 100), "the kill must land mid-mirror to prove anything")

		By("upstream changing while the operator is down")
		upstream["app0"] = append(idRange(20, 100), idRange(5000, 5020)...) // 20 removed, 20 added
		server.SetPolicies("acme", "app0", policies("acme", "app0", upstream["app0"]...)...)
		// The restarted manager polls app0 again because the killed poll never recorded success.

		By("a new manager")
		startManager()
		for name, ids := range upstream {
			want := map[int64]int{}
			for _, id := range ids {
				want[id] = 1
			}
			Eventually(func() map[int64]int { return mirroredIDs(ctx, ns.Name, name) }).Should(Equal(want), "tasks of %s", name)
		}
		Expect(countTasks(ctx, ns.Name)).To(Equal(repos * 100))
		for name := range upstream {
			repo := &swrv1.ImageRepository{}
			Eventually(func() bool {
				Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: name}, repo)).To(Succeed())
				return meta.IsStatusConditionTrue(repo.Status.Conditions, swrv1.ConditionReady)
			}).Should(BeTrue())
			Expect(repo.Status.TaskCount).To(BeEquivalentTo(100))
		}
		GinkgoWriter.Printf("killed with %d of %d tasks mirrored\n", killedAt, repos*100)
	})
})
