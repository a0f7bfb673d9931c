// Command swr-sync-operator runs the manager that mirrors Huawei Cloud SWR automatic sync
// policies into SyncRepoTask resources.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// leaderElectionID names the Lease that replicas compete for when every ImageRepository is
// watched; each shard of --watch-label-selector gets its own (see leaderElectionIDFor).
const leaderElectionID = "swr-sync-operator.swr.imagesync.io"

// selectorHashLength is how many hex digits of the selector's SHA-256 tell shards' Leases apart.
const selectorHashLength = 8

// main parses the flags and runs the manager until SIGINT or SIGTERM.
func main() {
	o := bindFlags(flag.CommandLine)
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	// --kubeconfig is registered by controller-runtime's config package.
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := o.validate(); err != nil {
		ctrl.Log.Error(err, "invalid flags")
		os.Exit(2)
	}
	setGCPercent()
	if limit, ok := setMemoryLimit(); ok {
		ctrl.Log.Info("Go runtime memory limit set from the container's", "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"), "bytes", limit)
	}

	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

// managerOptions are the manager's own flags, filled in when the flag set is parsed.
type managerOptions struct {
	metricsAddr            string
	secureMetrics          bool
	enableHTTP2            bool
	probeAddr              string
	pprofAddr              string
	leaderElection         bool
	leaderElectionNS       string
	concurrent             int
	minInterval            time.Duration
	allowInsecureEndpoints bool
	allowedEndpointHosts   hostsFlag
	watchNamespaces        namespacesFlag
	watchSelector          selectorFlag
	kubeAPIQPS             float64
	kubeAPIBurst           int
	swrQPS                 float64
	swrBurst               int
}

// defaultGCPercent is the manager's GOGC unless the environment sets one. Its heap is mostly
// its informer caches, which live as long as the process: with Go's default of 100 the heap grows
// to twice them between collections. 50 keeps it at one and a half. Measured with make bench at
// 10,000 tasks: peak RSS 140 MiB -> 114 MiB, for 14% more manager CPU in the cold mirror (the
// manager is a small part of a cold mirror's CPU; the apiserver is most of it).
const defaultGCPercent = 50

// setGCPercent applies defaultGCPercent unless GOGC is set, which then wins.
func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// memoryLimitPercent is the share of the container's memory limit that the Go runtime's soft
// memory limit is set to. The runtime's limit counts the memory it manages (heap, goroutine
// stacks, its own metadata), not what else the cgroup charges the container for: the binary's
// text and data pages, kernel memory such as socket buffers and page tables. The rest is headroom
// for those, so that the runtime collects harder before the kernel's limit is reached rather than
// at it, where the OOM killer ends the process.
const memoryLimitPercent = 90

// setMemoryLimit lowers the Go runtime's soft memory limit to memoryLimitPercent of GOMEMLIMIT
// when GOMEMLIMIT is a plain byte count, which is how the Deployment sets it from the container's
// memory limit (the downward API's limits.memory, with divisor 1). The runtime has read
// GOMEMLIMIT itself at start-up; any other value (a size with a unit, such as 230MiB, or off) is
// a person's choice and stays as the runtime read it. It returns the limit it set, and whether it
// set one. Below the limit GOGC (defaultGCPercent) still decides when the heap is collected.
func setMemoryLimit() (int64, bool) {
	limit, ok := memoryLimitFrom(os.Getenv("GOMEMLIMIT"))
	if ok {
		debug.SetMemoryLimit(limit)
	}
	return limit, ok
}

// memoryLimitFrom returns memoryLimitPercent of a GOMEMLIMIT value that is a positive plain byte
// count, and false for any other value.
func memoryLimitFrom(value string) (int64, bool) {
	containerLimit, err := strconv.ParseInt(value, 10, 64)
	if err != nil || containerLimit <= 0 {
		return 0, false
	}
	// Divided first, so that no limit near math.MaxInt64 overflows.
	return containerLimit/100*memoryLimitPercent + containerLimit%100*memoryLimitPercent/100, true
}

// bindFlags registers the manager's flags on fs and returns the options they fill in once fs is
// parsed. It is separate from main so that tests can parse flags into a fresh FlagSet.
func bindFlags(fs *flag.FlagSet) *managerOptions {
	o := &managerOptions{}
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (with --metrics-secure=false). \"0\" disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, only to clients whose bearer token the apiserver authenticates (TokenReview) and authorizes for GET /metrics (SubjectAccessReview). false serves plain HTTP to anyone who can connect.")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false, "Allow HTTP/2 on the metrics server. Off by default because of the HTTP/2 Stream Cancellation and Rapid Reset vulnerabilities (CVE-2023-44487, CVE-2023-39325).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "The address the health probe endpoint binds to. \"0\" disables it.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "The address Go's profiling endpoints (/debug/pprof/) bind to, e.g. 127.0.0.1:6060, for a person studying the manager's CPU or memory. "+
		"Plain HTTP without authentication: bind it to loopback. \"0\" (the default) disables it.")
	fs.BoolVar(&o.leaderElection, "leader-elect", false, "Enable leader election, so that only one replica polls SWR at a time.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "The namespace of the leader-election Lease. Empty means the namespace the manager's pod runs in, "+
		"which a manager run outside a pod (e.g. with --kubeconfig from a workstation) does not have: set it there, to the namespace whose Role grants the Lease.")
	fs.IntVar(&o.concurrent, "concurrent", 4, "How many ImageRepositories are reconciled at once.")
	fs.DurationVar(&o.minInterval, "min-interval", 30*time.Second, "The shortest poll interval; a shorter spec.interval is raised to it.")
	fs.BoolVar(&o.allowInsecureEndpoints, "allow-insecure-endpoints", false, "Allow plain http:// SWR endpoints. For tests and local demos only: credentials travel unencrypted.")
	fs.Var(&o.allowedEndpointHosts, "allowed-endpoint-hosts", "Send credentials only to these SWR and IAM hosts: an entry starting with '.' allows every host under that domain "+
		"(e.g. .myhuaweicloud.com,.myhuaweicloud.eu), any other entry one host. Repeat the flag or separate entries with commas. "+
		"Unset allows any host, so whoever may create an ImageRepository can point the operator, with the Secret it names, at any endpoint.")
	fs.Var(&o.watchNamespaces, "watch-namespace", "Watch only this namespace: ImageRepositories, SyncRepoTasks and Secrets elsewhere are neither cached nor reconciled. "+
		"Repeat the flag, or separate names with commas, for several. Unset watches every namespace.")
	fs.Var(&o.watchSelector, "watch-label-selector", "Reconcile only the ImageRepositories and ImageOrganizations whose labels match this selector, e.g. 'shard=a', 'shard in (b,c)' or '!shard'. "+
		"This shards the work between several deployments of the operator: give each deployment its own selector, and make the selectors cover every ImageRepository exactly once "+
		"(e.g. 'shard=a', 'shard=b' and '!shard'); an ImageRepository no selector matches is never polled, one that two match is polled twice. "+
		"Give an ImageOrganization's spec.template.metadata.labels the shard's label, so that the ImageRepositories it generates are in its shard. "+
		"Each shard elects its own leader, on the Lease "+leaderElectionID+"-<first 8 hex digits of the SHA-256 of the normalized selector>. Unset reconciles every ImageRepository.")
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", -1, "The sustained requests per second to the Kubernetes API that the manager allows itself, e.g. 50. "+
		"Negative (the default, as in controller-runtime) sets no client-side limit and leaves fairness to the apiserver's API Priority and Fairness, "+
		"so that the first sync of thousands of ImageRepositories is not throttled. 0 is refused: client-go would silently turn it into 5.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 100, "The burst of requests to the Kubernetes API allowed above a positive --kube-api-qps.")
	fs.Float64Var(&o.swrQPS, "swr-qps", 10, "The sustained requests per second the manager sends to each SWR endpoint host, so that a cold start of many ImageRepositories "+
		"cannot flood one regional API. Polls of one endpoint need about <ImageRepositories>/<interval> per second: keep this above that. 0 or negative sets no limit.")
	fs.IntVar(&o.swrBurst, "swr-burst", 20, "The burst of requests to one SWR endpoint host allowed above --swr-qps.")
	return o
}

// validate refuses option values that the libraries would silently replace with something else.
func (o *managerOptions) validate() error {
	switch {
	case o.kubeAPIQPS == 0:
		return errors.New("--kube-api-qps must be positive, or negative for no client-side limit")
	case o.kubeAPIQPS > 0 && o.kubeAPIBurst < 1:
		return errors.New("--kube-api-burst must be at least 1")
	case o.swrQPS > 0 && o.swrBurst < 1:
		return errors.New("--swr-burst must be at least 1")
	}
	return nil
}

// run builds the manager and the reconciler from o and runs them until ctx ends.
func run(ctx context.Context, o *managerOptions) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(swrv1.AddToScheme(scheme))

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS = float32(o.kubeAPIQPS)
	restConfig.Burst = o.kubeAPIBurst
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsServerOptions(o.metricsAddr, o.secureMetrics, o.enableHTTP2),
		HealthProbeBindAddress:        o.probeAddr,
		PprofBindAddress:              o.pprofAddr,
		Cache:                         cacheOptions(o.watchNamespaces, o.watchSelector.selector),
		LeaderElection:                o.leaderElection,
		LeaderElectionID:              leaderElectionIDFor(o.watchSelector.selector),
		LeaderElectionNamespace:       o.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return err
	}
	m, err := controllers.NewMetrics(metrics.Registry)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	// One SWR client and one token cache for both reconcilers: discovery and the repositories'
	// own polls share the per-endpoint rate limit and the IAM tokens.
	swrClient := swr.NewClient(swr.WithRequestObserver(m.ObserveSWRRequest), swr.WithRateLimit(o.swrQPS, o.swrBurst))
	tokens := swr.NewTokenCache(swr.WithTokenRequestObserver(m.ObserveTokenRequest))
	options := controllers.Options{
		Client:      mgr.GetClient(),
		APIReader:   mgr.GetAPIReader(),
		Tokens:      tokens,
		Recorder:    mgr.GetEventRecorder("swr-sync-operator"),
		MinInterval: o.minInterval,
		Endpoints:   credentials.EndpointPolicy{AllowInsecure: o.allowInsecureEndpoints, AllowedHosts: o.allowedEndpointHosts},
		Metrics:     m,
	}
	if err := controllers.NewImageRepositoryReconciler(options, swrClient).SetupWithManager(ctx, mgr, o.concurrent); err != nil {
		return err
	}
	discovery := controllers.NewImageOrganizationReconciler(options, swrClient)
	if err := discovery.SetupWithManager(ctx, mgr, o.concurrent); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("starting manager", "concurrent", o.concurrent, "minInterval", o.minInterval,
		"allowInsecureEndpoints", o.allowInsecureEndpoints, "allowedEndpointHosts", o.allowedEndpointHosts, "watchNamespaces", o.watchNamespaces,
		"watchLabelSelector", o.watchSelector.String(), "secureMetrics", o.secureMetrics)
	return mgr.Start(ctx)
}

// metricsServerOptions configures the metrics endpoint at addr. Secure serving uses a
// self-signed certificate, which Prometheus scrapes with insecure_skip_verify unless a
// certificate is mounted, and lets only authenticated and authorized clients read.
func metricsServerOptions(addr string, secure, enableHTTP2 bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr, SecureServing: secure}
	if secure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if !enableHTTP2 {
		// Offering only HTTP/1.1 in ALPN keeps clients from negotiating HTTP/2.
		opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	return opts
}

// cacheOptions restricts the manager's cache, and so every watch, to namespaces (all when
// empty), and its ImageRepositories to those matching selector (all when nil). Secrets and
// SyncRepoTasks are not filtered by label: they carry no shard label, and their events are mapped
// to ImageRepositories that the cache then filters.
func cacheOptions(namespaces []string, selector labels.Selector) cache.Options {
	opts := cache.Options{
		DefaultTransform: controllers.StripCachedMetadata,
		// A read of a kind nobody watches fails instead of quietly starting an informer (and a
		// watch of every object of that kind in the watched namespaces).
		ReaderFailOnMissingInformer: true,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	if selector != nil {
		// ByObject inherits DefaultNamespaces, so both restrictions apply together.
		// ImageOrganizations are sharded like ImageRepositories, so that one ImageOrganization
		// is discovered by one shard; its template should carry the shard's label, or the
		// ImageRepositories it generates belong to another shard (or none).
		opts.ByObject = map[client.Object]cache.ByObject{
			&swrv1.ImageRepository{}:   {Label: selector},
			&swrv1.ImageOrganization{}: {Label: selector},
		}
	}
	return opts
}

// selectorFlag is --watch-label-selector: a label selector, checked when the flag is parsed so
// that a typo stops the manager at once instead of silently reconciling nothing.
type selectorFlag struct {
	// selector is nil when every ImageRepository is reconciled (the flag unset or blank).
	selector labels.Selector
}

// String returns the selector in its normalized form, "" when there is none.
func (f *selectorFlag) String() string {
	if f == nil || f.selector == nil {
		return ""
	}
	return f.selector.String()
}

// Set parses value. A selector that matches everything (blank) is stored as nil, so that the
// rest of the wiring need not tell "everything" from "unset".
func (f *selectorFlag) Set(value string) error {
	selector, err := labels.Parse(value)
	if err != nil {
		return err
	}
	f.selector = nil
	if !selector.Empty() {
		f.selector = selector
	}
	return nil
}

// leaderElectionIDFor returns the Lease name of the shard that selector picks: leaderElectionID
// for the unsharded operator, and otherwise leaderElectionID plus a hash of the selector's
// normalized form, so that "b=2,a=1" and "a=1, b=2" are the same shard and different shards never
// compete for one Lease. Replicas of one shard must be given equivalent selectors.
func leaderElectionIDFor(selector labels.Selector) string {
	if selector == nil || selector.Empty() {
		return leaderElectionID
	}
	sum := sha256.Sum256([]byte(selector.String()))
	return leaderElectionID + "-" + hex.EncodeToString(sum[:])[:selectorHashLength]
}

// namespacesFlag collects --watch-namespace values: the flag may be repeated, and each value may
// hold several names separated by commas.
type namespacesFlag []string

// String returns the namespaces separated by commas, as flag's help and defaults expect.
func (f *namespacesFlag) String() string { return strings.Join(*f, ",") }

// Set adds the namespaces in value, refusing names that no namespace can have, so that a typo
// fails at start-up rather than silently watching nothing.
func (f *namespacesFlag) Set(value string) error {
	for ns := range strings.SplitSeq(value, ",") {
		ns = strings.TrimSpace(ns)
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		*f = append(*f, ns)
	}
	return nil
}

// hostsFlag is --allowed-endpoint-hosts: host names or ".domain" suffixes, repeated or
// comma-separated.
type hostsFlag []string

// String returns the hosts, comma-separated.
func (f *hostsFlag) String() string { return strings.Join(*f, ",") }

// Set adds comma-separated hosts, refusing entries that could never match a host name.
func (f *hostsFlag) Set(value string) error {
	for _, host := range strings.Split(value, ",") {
		host = strings.TrimSpace(host)
		if host == "" || host == "." || strings.ContainsAny(host, "/:@* ") {
			return fmt.Errorf("%q is not a host name or a .domain suffix", host)
		}
		*f = append(*f, strings.ToLower(host))
	}
	return nil
}
