package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

const (
	// benchUser is the kubeconfig user the manager runs as; system:masters spares RBAC setup,
	// which costs the apiserver nothing measurable either way.
	benchUser = "bench-admin"
)

// checkPlatform refuses to start where /proc cannot tell the manager's RSS and CPU time.
func checkPlatform() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the benchmark reads /proc for the manager's memory and CPU time, so it runs on Linux only (this is %s)", runtime.GOOS)
	}
	return nil
}

// controlPlane is one envtest kube-apiserver and etcd with the CRDs installed.
type controlPlane struct {
	env        *envtest.Environment
	cfg        *rest.Config // the admin's, with no client-side rate limit
	kubeconfig string       // for the manager
	client     client.Client
	clientset  *kubernetes.Clientset
	scheme     *k8sruntime.Scheme
}

// startControlPlane starts a fresh control plane and writes a kubeconfig for the manager into
// dir. The caller must call stop, also when this fails: envtest may have started processes.
func startControlPlane(root, dir, name string) (*controlPlane, error) {
	cp := &controlPlane{env: controlplane.WithCRDs(filepath.Join(root, "config", "crd", "bases"))}
	cfg, err := cp.env.Start()
	if err != nil {
		return cp, fmt.Errorf("starting the control plane: %w", err)
	}
	cp.kubeconfig = filepath.Join(dir, name+".kubeconfig")
	if err := controlplane.WriteAdminKubeconfig(cp.env, benchUser, cp.kubeconfig); err != nil {
		return cp, err
	}

	// The benchmark's own setup and measurements must not be throttled client-side.
	cp.cfg = rest.CopyConfig(cfg)
	cp.cfg.QPS, cp.cfg.Burst = -1, 1000
	if cp.scheme, err = controlplane.NewScheme(); err != nil {
		return cp, err
	}
	if cp.client, err = client.New(cp.cfg, client.Options{Scheme: cp.scheme}); err != nil {
		return cp, fmt.Errorf("creating a client: %w", err)
	}
	if cp.clientset, err = kubernetes.NewForConfig(cp.cfg); err != nil {
		return cp, fmt.Errorf("creating a clientset: %w", err)
	}
	return cp, nil
}

// phase is how every timed phase starts: a fresh control plane holding the workload's
// ImageRepositories, watched by the benchmark's readiness informer. The baselines are watched
// too, so that every phase pays the apiserver for that watch alike.
type phase struct {
	cp        *controlPlane
	repos     []*swrv1.ImageRepository
	ready     *readiness
	stopWatch func()
}

// startPhase starts the control plane name of size s, creates the workload's ImageRepositories
// polling endpoint every interval, and watches their readiness. The caller must call stopPhase,
// also when this fails.
func (b *bench) startPhase(ctx context.Context, s size, name, endpoint string, interval time.Duration) (*phase, error) {
	p := &phase{}
	var err error
	if p.cp, err = startControlPlane(b.root, b.work, s.String()+"-"+name); err != nil {
		return p, err
	}
	if p.repos, err = createWorkload(ctx, p.cp.client, s, endpoint, interval); err != nil {
		return p, err
	}
	p.ready, p.stopWatch, err = watchReadiness(ctx, p.cp, s)
	return p, err
}

// stopPhase stops the readiness informer and the control plane.
func (b *bench) stopPhase(p *phase) {
	if p.stopWatch != nil {
		p.stopWatch()
	}
	b.warnIf("stopping the control plane", p.cp.stop())
}

// stop stops kube-apiserver and etcd and removes their data.
func (cp *controlPlane) stop() error {
	return cp.env.Stop()
}

// Resources whose requests the tables count, as the apiserver's metrics name them.
var (
	imageRepositories  = schema.GroupResource{Group: swrv1.GroupVersion.Group, Resource: "imagerepositories"}
	syncRepoTasks      = schema.GroupResource{Group: swrv1.GroupVersion.Group, Resource: "syncrepotasks"}
	imageOrganizations = schema.GroupResource{Group: swrv1.GroupVersion.Group, Resource: "imageorganizations"}
)

// requestCounts reads the apiserver's apiserver_request_total counters of the resources an
// operator run can touch (see operatorResources).
func (cp *controlPlane) requestCounts(ctx context.Context) (requestCounts, error) {
	raw, err := cp.clientset.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the apiserver's /metrics: %w", err)
	}
	counts, err := parseRequestCounts(raw)
	if err != nil {
		return nil, err
	}
	return counts.of(operatorResources), nil
}

// processCPU returns the CPU seconds used so far by the control plane's processes, by name.
func (cp *controlPlane) processCPU() map[string]float64 {
	cpu := map[string]float64{}
	for _, p := range process.Children() {
		if p.Name == "kube-apiserver" || p.Name == "etcd" {
			if s, err := process.ReadStat(p.PID); err == nil {
				cpu[p.Name] += s.CPUSeconds()
			}
		}
	}
	return cpu
}

// profileCPU fetches a CPU profile of the apiserver's next d into path; failures are returned
// for the caller to warn about.
func (cp *controlPlane) profileCPU(ctx context.Context, path string, d time.Duration) error {
	raw, err := cp.clientset.RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(int(d.Seconds()))).Timeout(d + 30*time.Second).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("profiling the apiserver: %w", err)
	}
	return os.WriteFile(path, raw, 0o644)
}

// profileAPIServer starts profiling the apiserver for -cpu-profile-for when -apiserver-profile
// is set; the returned function waits for the profile.
func (b *bench) profileAPIServer(ctx context.Context, cp *controlPlane, phase string) (wait func()) {
	if b.opts.apiserverProfile == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := b.opts.apiserverProfile + "." + phase
		b.warnIf("profiling the apiserver", cp.profileCPU(ctx, path, b.opts.cpuProfileFor))
	}()
	return func() { <-done }
}
