package main

import (
	"crypto/tls"
	"flag"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// parse registers the manager's flags on a fresh FlagSet and parses args, as main does.
func parse(t *testing.T, args ...string) (*managerOptions, error) {
	t.Helper()
	fs := flag.NewFlagSet("swr-sync-operator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := bindFlags(fs)
	return o, fs.Parse(args)
}

func TestFlagDefaults(t *testing.T) {
	o, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.metricsAddr != "0" || !o.secureMetrics || o.enableHTTP2 {
		t.Errorf("metrics: addr %q secure %v http2 %v, want \"0\" (off), secure, no HTTP/2", o.metricsAddr, o.secureMetrics, o.enableHTTP2)
	}
	if o.watchNamespaces != nil || o.watchSelector.selector != nil {
		t.Errorf("watch: namespaces %v selector %v, want everything", o.watchNamespaces, o.watchSelector.selector)
	}
	if o.kubeAPIQPS >= 0 || o.kubeAPIBurst != 100 {
		t.Errorf("kube API: qps %v burst %d, want no client-side limit and burst 100", o.kubeAPIQPS, o.kubeAPIBurst)
	}
	if err := o.validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
	if got := leaderElectionIDFor(o.watchSelector.selector); got != "swr-sync-operator.swr.imagesync.io" {
		t.Errorf("leader election ID %q, want the unsharded one", got)
	}
}

func TestFlagsParse(t *testing.T) {
	o, err := parse(t,
		"--metrics-bind-address=:8443", "--metrics-secure=false", "--enable-http2",
		"--watch-namespace=team-a", "--watch-namespace", "team-b, team-c",
		"--watch-label-selector", "shard in (b, a)",
		"--kube-api-qps=50", "--kube-api-burst=300", "--concurrent=8")
	if err != nil {
		t.Fatal(err)
	}
	if o.metricsAddr != ":8443" || o.secureMetrics || !o.enableHTTP2 {
		t.Errorf("metrics: addr %q secure %v http2 %v", o.metricsAddr, o.secureMetrics, o.enableHTTP2)
	}
	if want := []string{"team-a", "team-b", "team-c"}; !slices.Equal(o.watchNamespaces, want) {
		t.Errorf("namespaces %v, want %v", o.watchNamespaces, want)
	}
	if got := o.watchSelector.String(); got != "shard in (a,b)" {
		t.Errorf("selector %q, want the normalized \"shard in (a,b)\"", got)
	}
	if o.kubeAPIQPS != 50 || o.kubeAPIBurst != 300 || o.concurrent != 8 {
		t.Errorf("qps %v burst %d concurrent %d", o.kubeAPIQPS, o.kubeAPIBurst, o.concurrent)
	}
	if err := o.validate(); err != nil {
		t.Error(err)
	}
}

func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--watch-label-selector==a"},
		{"--watch-label-selector=shard in a"},
		{"--watch-label-selector=shard in (a"},
		{"--watch-label-selector=!"},
		{"--watch-namespace="},
		{"--watch-namespace=a,,b"},
		{"--watch-namespace=Team_A"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%v was accepted", args)
		}
	}
	for _, args := range [][]string{
		{"--kube-api-qps=0"},
		{"--kube-api-qps=10", "--kube-api-burst=0"},
	} {
		o, err := parse(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if err := o.validate(); err == nil {
			t.Errorf("%v passed validation", args)
		}
	}
}

func TestBlankSelectorWatchesEverything(t *testing.T) {
	o, err := parse(t, "--watch-label-selector", " ")
	if err != nil {
		t.Fatal(err)
	}
	if o.watchSelector.selector != nil {
		t.Errorf("a blank selector became %q; it must mean \"unset\"", o.watchSelector.String())
	}
}

func TestLeaderElectionIDFor(t *testing.T) {
	mustParse := func(s string) labels.Selector {
		t.Helper()
		sel, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return sel
	}
	// The ID must never change between releases: two versions of a shard with different IDs
	// would both lead during a rollout and poll every repository twice. sha256("shard=a")
	// begins with 3d8dfb26.
	if got, want := leaderElectionIDFor(mustParse("shard=a")), "swr-sync-operator.swr.imagesync.io-3d8dfb26"; got != want {
		t.Errorf("ID %q, want %q", got, want)
	}
	if got := leaderElectionIDFor(mustParse("")); got != leaderElectionID {
		t.Errorf("an empty selector got ID %q, want %q", got, leaderElectionID)
	}
	same := []string{"b=2,a=1", "a=1, b=2", " a = 1 ,b=2 "}
	for _, s := range same[1:] {
		if leaderElectionIDFor(mustParse(s)) != leaderElectionIDFor(mustParse(same[0])) {
			t.Errorf("%q and %q select the same shard but got different IDs", s, same[0])
		}
	}
	seen := map[string]string{}
	for _, s := range []string{"shard=a", "shard=b", "!shard", "shard", "shard!=a", "shard in (a,b)", "b=2,a=1"} {
		id := leaderElectionIDFor(mustParse(s))
		if other, dup := seen[id]; dup {
			t.Errorf("%q and %q share ID %q", s, other, id)
		}
		seen[id] = s
		if errs := validation.IsDNS1123Subdomain(id); len(errs) > 0 {
			t.Errorf("ID %q is not a valid Lease name: %v", id, errs)
		}
	}
}

func TestCacheOptions(t *testing.T) {
	everything := cacheOptions(nil, nil)
	if everything.DefaultNamespaces != nil || everything.ByObject != nil {
		t.Errorf("without flags the cache is restricted: %+v", everything)
	}
	if everything.DefaultTransform == nil {
		t.Error("the cache keeps managedFields and Secret annotations: no DefaultTransform")
	}

	sel, err := labels.Parse("shard=a")
	if err != nil {
		t.Fatal(err)
	}
	opts := cacheOptions([]string{"team-a", "team-b"}, sel)
	if got := slices.Sorted(maps.Keys(opts.DefaultNamespaces)); !slices.Equal(got, []string{"team-a", "team-b"}) {
		t.Errorf("namespaces %v", got)
	}
	if len(opts.ByObject) != 2 {
		t.Fatalf("ByObject %v, want ImageRepository and ImageOrganization", opts.ByObject)
	}
	for obj, by := range opts.ByObject {
		switch obj.(type) {
		case *swrv1.ImageRepository, *swrv1.ImageOrganization:
		default:
			t.Errorf("ByObject restricts %T, want *ImageRepository and *ImageOrganization", obj)
		}
		if by.Label == nil || by.Label.String() != "shard=a" {
			t.Errorf("label selector %v, want shard=a", by.Label)
		}
		// Namespaces left unset inherit DefaultNamespaces; setting them here would undo
		// --watch-namespace for ImageRepositories.
		if by.Namespaces != nil {
			t.Errorf("ByObject sets its own namespaces: %v", by.Namespaces)
		}
		if !by.Label.Matches(labels.Set{"shard": "a"}) || by.Label.Matches(labels.Set{"shard": "b"}) {
			t.Error("the selector does not pick the shard's objects")
		}
	}

	namespacesOnly := cacheOptions([]string{"team-a"}, nil)
	if namespacesOnly.ByObject != nil {
		t.Errorf("no selector, yet ByObject %v", namespacesOnly.ByObject)
	}
}

func TestMetricsServerOptions(t *testing.T) {
	secure := metricsServerOptions(":8443", true, false)
	if !secure.SecureServing || secure.FilterProvider == nil {
		t.Errorf("secure metrics: SecureServing %v, filter set %v", secure.SecureServing, secure.FilterProvider != nil)
	}
	cfg := &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	for _, opt := range secure.TLSOpts {
		opt(cfg)
	}
	if !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) {
		t.Errorf("HTTP/2 still offered: ALPN %v", cfg.NextProtos)
	}

	plain := metricsServerOptions(":8080", false, true)
	if plain.SecureServing || plain.FilterProvider != nil || len(plain.TLSOpts) != 0 {
		t.Errorf("plain metrics with HTTP/2 allowed: %+v", plain)
	}
	if plain.BindAddress != ":8080" || secure.BindAddress != ":8443" {
		t.Errorf("bind addresses %q, %q", plain.BindAddress, secure.BindAddress)
	}
}

func TestFlagHelpExplainsSharding(t *testing.T) {
	fs := flag.NewFlagSet("swr-sync-operator", flag.ContinueOnError)
	bindFlags(fs)
	usage := fs.Lookup("watch-label-selector").Usage
	for _, want := range []string{"exactly once", "!shard", leaderElectionID + "-"} {
		if !strings.Contains(usage, want) {
			t.Errorf("--watch-label-selector help lacks %q", want)
		}
	}
}

func TestMemoryLimitFrom(t *testing.T) {
	for value, want := range map[string]int64{
		"268435456":           241591910, // 256Mi, as the downward API gives limits.memory: 230.4 MiB
		"100":                 90,
		"9223372036854775807": 8301034833169298226, // no overflow
	} {
		if got, ok := memoryLimitFrom(value); !ok || got != want {
			t.Errorf("memoryLimitFrom(%q) = %d, %v; want %d", value, got, ok, want)
		}
	}
	// A size with a unit, off, or nothing is left to the runtime, which read it as given.
	for _, value := range []string{"", "256MiB", "1GiB", "off", "0", "-1", "1e9", " 268435456"} {
		if got, ok := memoryLimitFrom(value); ok {
			t.Errorf("memoryLimitFrom(%q) = %d; want it left to the runtime", value, got)
		}
	}
}

func TestSetMemoryLimit(t *testing.T) {
	previous := debug.SetMemoryLimit(-1) // -1 reads it
	t.Cleanup(func() { debug.SetMemoryLimit(previous) })
	t.Setenv("GOMEMLIMIT", "1000000000")
	if limit, ok := setMemoryLimit(); !ok || limit != 900_000_000 || debug.SetMemoryLimit(-1) != 900_000_000 {
		t.Errorf("setMemoryLimit() = %d, %v, runtime limit %d; want 900000000 set", limit, ok, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(previous)
	t.Setenv("GOMEMLIMIT", "512MiB")
	if _, ok := setMemoryLimit(); ok || debug.SetMemoryLimit(-1) != previous {
		t.Errorf("a GOMEMLIMIT with a unit changed the runtime's limit to %d", debug.SetMemoryLimit(-1))
	}
}
