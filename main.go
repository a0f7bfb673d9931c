// Command swr-sync-operator runs the manager that mirrors Huawei Cloud SWR automatic sync
// policies into SyncRepoTask resources.
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// leaderElectionID names the Lease that replicas compete for.
const leaderElectionID = "swr-sync-operator.swr.imagesync.io"

func main() {
	var (
		metricsAddr            string
		probeAddr              string
		enableLeaderElection   bool
		concurrent             int
		minInterval            time.Duration
		allowInsecureEndpoints bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, e.g. :8080. \"0\" disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health probe endpoint binds to. \"0\" disables it.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Enable leader election, so that only one replica polls SWR at a time.")
	flag.IntVar(&concurrent, "concurrent", 4, "How many ImageRepositories are reconciled at once.")
	flag.DurationVar(&minInterval, "min-interval", 30*time.Second, "The shortest poll interval; a shorter spec.interval is raised to it.")
	flag.BoolVar(&allowInsecureEndpoints, "allow-insecure-endpoints", false, "Allow plain http:// SWR endpoints. For tests and local demos only: credentials travel unencrypted.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	// --kubeconfig is registered by controller-runtime's config package.
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	if err := run(ctrl.SetupSignalHandler(), managerOptions{
		metricsAddr:            metricsAddr,
		probeAddr:              probeAddr,
		leaderElection:         enableLeaderElection,
		concurrent:             concurrent,
		minInterval:            minInterval,
		allowInsecureEndpoints: allowInsecureEndpoints,
	}); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

type managerOptions struct {
	metricsAddr            string
	probeAddr              string
	leaderElection         bool
	concurrent             int
	minInterval            time.Duration
	allowInsecureEndpoints bool
}

func run(ctx context.Context, o managerOptions) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(swrv1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElection,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return err
	}
	reconciler := &controllers.ImageRepositoryReconciler{
		Client:                 mgr.GetClient(),
		APIReader:              mgr.GetAPIReader(),
		SWR:                    swr.NewClient(),
		Tokens:                 swr.NewTokenCache(),
		Recorder:               mgr.GetEventRecorder("swr-sync-operator"),
		MinInterval:            o.minInterval,
		AllowInsecureEndpoints: o.allowInsecureEndpoints,
	}
	if err := reconciler.SetupWithManager(ctx, mgr, o.concurrent); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("starting manager", "concurrent", o.concurrent, "minInterval", o.minInterval,
		"allowInsecureEndpoints", o.allowInsecureEndpoints)
	return mgr.Start(ctx)
}
