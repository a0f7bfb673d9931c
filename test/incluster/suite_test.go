// Package incluster_test proves that the operator works in a cluster as it is installed: with only
// the RBAC that config/default ships, on a control plane configured like a hardened cluster.
//
// Every other suite runs the manager as system:masters on a bare kube-apiserver, where no
// request is ever refused and nothing collects garbage. Here:
//
//   - the kube-apiserver enforces OwnerReferencesPermissionEnforcement (on in OpenShift and many
//     hardened clusters) besides its default admission plugins, ResourceQuota among them;
//   - a real kube-controller-manager runs the garbage collector and the resource quota
//     controller, so ownerReferences and quotas behave as in a cluster;
//   - config/default is rendered with kustomize and applied as a user would apply it;
//   - the manager binary built from main.go runs as a separate process whose kubeconfig holds
//     nothing but a token of the ServiceAccount the install created, so every request it makes is
//     authorized by the shipped ClusterRoles and Roles, and nothing else.
//
// The specs then check what only such a setup can show: tasks survive admission, events and the
// leader-election Lease are written, the metrics endpoint authorizes scrapers through the shipped
// metrics-reader ClusterRole, tasks go with their ImageRepository through the real garbage
// collector, a quota that refuses task writes is reported and recovered from, and the manager was
// refused nothing for lack of RBAC.
package incluster_test

import (
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// repoRoot is the repository's root, relative to this package: go test runs in test/incluster.
var repoRoot = filepath.Join("..", "..")

// Names that config/default gives the operator's objects (its namePrefix and namespace applied).
const (
	operatorNamespace      = "swr-sync-operator-system"
	operatorServiceAccount = "swr-sync-operator-controller-manager"
	metricsReaderRole      = "swr-sync-operator-metrics-reader"
	// leaderElectionLease is the Lease of the unsharded operator (main.go's leaderElectionID).
	leaderElectionLease = "swr-sync-operator.swr.imagesync.io"
	// fieldManager owns what the suite applies, as kubectl would own what a user applies.
	fieldManager = "incluster-test"
	// organization is the SWR organization of every ImageRepository; each spec uses its own
	// repository in it, named after its namespace.
	organization = "acme"
)

var (
	testEnv *envtest.Environment
	// adminConfig and adminClient act as system:masters, for the test's own setup and checks;
	// the manager never uses them.
	adminConfig *rest.Config
	adminClient client.Client
	clientset   kubernetes.Interface
	swrServer   *swrtest.Server

	kubeControllerManager *process.Process
	manager               *process.Process
	// metricsURL is the manager's HTTPS metrics endpoint.
	metricsURL string
)

func TestInCluster(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	SetDefaultConsistentlyDuration(2 * time.Second)
	SetDefaultConsistentlyPollingInterval(200 * time.Millisecond)
	// Every Eventually gets the spec's context; without this it would then wait for that
	// context alone, which never ends, instead of the default timeout.
	EnforceDefaultTimeoutsWhenUsingContexts()
	RunSpecs(t, "In-cluster Suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	Expect(devenv.CheckControlPlaneAssets("test")).To(Succeed())
	kubeControllerManagerBin, err := controlplane.KubeControllerManagerBinary()
	Expect(err).NotTo(HaveOccurred())

	// Compiling the manager takes as long as starting the control plane: do both at once.
	dir := GinkgoT().TempDir()
	managerBin := filepath.Join(dir, "manager")
	finishBuild := buildManager(ctx, managerBin)

	startControlPlane()
	// DeferCleanup in BeforeSuite runs after AfterSuite, last registered first: the manager and
	// the controller manager are killed before the apiserver stops, even when a step fails.
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })

	rendered := renderInstall()
	applyCRDsAndWaitEstablished(ctx, rendered)
	// Started once the CRDs exist, so that its garbage collector and quota monitors cover
	// SyncRepoTasks from their first discovery instead of 30 seconds later.
	kubeControllerManager = startKubeControllerManager(dir, kubeControllerManagerBin)
	applyTheRest(ctx, rendered)
	waitForManagerRBAC(ctx)

	swrServer = swrtest.NewServer()
	DeferCleanup(swrServer.Close)

	finishBuild()
	manager, metricsURL = startManager(ctx, dir, managerBin)
})

// newScheme returns the scheme of the test's clients: the built-in kinds and the operator's.
func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(swrv1.AddToScheme(scheme)).To(Succeed())
	return scheme
}
