package controllers_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// The suite runs one manager against a real kube-apiserver and etcd, and one in-process SWR
// server over TLS. Specs use their own namespaces and SWR repositories so they do not interfere.
var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client // not cached: assertions see the apiserver's truth
	scheme    *runtime.Scheme
	swrServer *swrtest.Server
	logs      = &process.SyncBuffer{} // every log line of the managers, for the no-secret-in-logs check
	stopMgr   context.CancelFunc
	mgrDone   chan struct{}
)

// testMinInterval lets specs use short intervals where they need periodic polls.
const testMinInterval = time.Second

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	// Polls, backoff retries and the apiserver's watch latency take seconds, not milliseconds.
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logger := zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, logs)), zap.UseDevMode(true), zap.Level(zapcore.DebugLevel))
	logf.SetLogger(logger)

	testEnv = controlplane.WithCRDs(filepath.Join("..", "config", "crd", "bases"))
	// Registered before Start, and run after AfterSuite whatever fails there, so that a failed
	// check never leaves etcd and kube-apiserver running.
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start envtest: run 'make test', which builds the control plane and sets KUBEBUILDER_ASSETS")

	scheme, err = controlplane.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	swrServer = swrtest.NewTLSServer()
	DeferCleanup(swrServer.Close)

	stopMgr, mgrDone = startManager(scheme, managerOptions{})
	// stopMgr and mgrDone may be replaced by a spec that restarts the manager: read them late.
	DeferCleanup(func() {
		stopMgr()
		Eventually(mgrDone, 30*time.Second).Should(BeClosed())
	})
})

var _ = AfterSuite(func() {
	Expect(secretValues).NotTo(BeEmpty(), "the suite put credentials in Secrets")
	expectNoSecretLeaked(context.Background())
})

// leaderElectionLabel marks ImageRepositories that only the leader-election specs' managers
// reconcile; the suite's main manager leaves them alone.
const leaderElectionLabel = "swr-test/leader-election"

// managerOptions vary the managers a spec starts.
type managerOptions struct {
	// userAgent tells this manager's SWR requests apart at the test server.
	userAgent string
	// selector limits the ImageRepositories the manager reconciles.
	selector labels.Selector
	// leaderElectionID, when set, turns leader election on with short timings.
	leaderElectionID string
}

// startManager runs a manager with the reconciler, as main.go wires it, until stop is called; done
// is closed once it has stopped. A second call stands for a restarted operator process. Stopping
// does not release a held Lease, as a killed process would not.
func startManager(scheme *runtime.Scheme, opts managerOptions) (stop context.CancelFunc, done chan struct{}) {
	selector := opts.selector
	if selector == nil {
		notLeaderElection, err := labels.Parse("!" + leaderElectionLabel)
		Expect(err).NotTo(HaveOccurred())
		selector = notLeaderElection
	}
	mgrOptions := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Each manager in the suite registers the same controller name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache: cache.Options{
			DefaultTransform: controllers.StripCachedMetadata,
			// As main.go: a read of a kind the manager does not watch fails the suite.
			ReaderFailOnMissingInformer: true,
			ByObject: map[client.Object]cache.ByObject{
				&swrv1.ImageRepository{}: {Label: selector},
			},
		},
	}
	if opts.leaderElectionID != "" {
		mgrOptions.LeaderElection = true
		mgrOptions.LeaderElectionID = opts.leaderElectionID
		mgrOptions.LeaderElectionNamespace = "default"
		mgrOptions.LeaseDuration = ptr.To(2 * time.Second)
		mgrOptions.RenewDeadline = ptr.To(1500 * time.Millisecond)
		mgrOptions.RetryPeriod = ptr.To(200 * time.Millisecond)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOptions)
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	swrOptions := []swr.Option{swr.WithHTTPClient(swrServer.Client())}
	if opts.userAgent != "" {
		swrOptions = append(swrOptions, swr.WithUserAgent(opts.userAgent))
	}
	swrClient := swr.NewClient(swrOptions...)
	options := controllers.Options{
		Client:      mgr.GetClient(),
		APIReader:   mgr.GetAPIReader(),
		Tokens:      swr.NewTokenCache(swr.WithTokenHTTPClient(swrServer.Client())),
		Recorder:    mgr.GetEventRecorder("swr-sync-operator"),
		MinInterval: testMinInterval,
	}
	reconciler := controllers.NewImageRepositoryReconciler(options, swrClient)
	Expect(reconciler.SetupWithManager(ctx, mgr, 4)).To(Succeed())
	discovery := controllers.NewImageOrganizationReconciler(options, swrClient)
	Expect(discovery.SetupWithManager(ctx, mgr, 4)).To(Succeed())
	done = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return cancel, done
}
