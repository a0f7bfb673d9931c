// Command bench measures swr-sync-operator at scale on one machine and prints one Markdown table.
//
// The manager runs with main.go's default flags, but for the SWR rate limit, which is off
// (-swr-qps=0) so that the table measures the operator rather than the limiter.
//
// First, when a size is to run, the idle manager: started on a control plane with the CRDs and no
// objects, its peak RSS, which every size's memory per task is counted above.
//
// For each size N×M (N ImageRepositories with M sync policies each, and a page of 100 sync jobs
// per repository, spread over its targets and tags, a tenth of the tasks with failed jobs) it
// runs, every phase on a fresh local control plane (envtest's kube-apiserver and etcd) so that no
// phase inherits another's objects:
//
//  1. the baseline: a bare client makes the writes the operator's cold mirror makes (the same N×M
//     SyncRepoTasks, each a create and a status write, a Warning event on each task whose
//     replication failed, and per ImageRepository a status patch and the Ready event), with as
//     many writers as the manager has workers and its client QPS and burst; this is the floor for
//     any operator that writes those objects. With -watched-baseline it runs again with an
//     informer watching the SyncRepoTasks, as the manager's cache does;
//  2. with -compare-unlimited, a cold mirror by the manager with the SWR rate limit off, which
//     isolates the operator's own Kubernetes API overhead;
//  3. the cold mirror by the manager with -swr-qps/-swr-burst, timed from its process start until
//     every ImageRepository is Ready and all N×M tasks exist, followed by one poll interval of
//     steady state, in which it counts SWR and IAM requests and apiserver writes (from
//     resourceVersions and from the apiserver's own request counters), and, with -restart, a
//     restart of the manager on the mirrored state, counting its reads of SyncRepoTasks over one
//     interval.
//
// With -pairs N (default 3), the baseline and a cold mirror with the SWR limit off are measured N
// times, alternately, the last cold mirror being the main run's (or the -compare-unlimited run's):
// the machine's speed drifts from one phase to the next by more than the operator's overhead, and
// the ratio's verdict is the median of the N pairs' ratios.
//
// Before the sizes, with -discovery-repos N (default 1000; 0 skips it), a discovery phase on its
// own control plane: the manager starts, then one ImageOrganization over N SWR repositories is
// created, its template suspending the generated ImageRepositories so that only discovery is
// measured. It counts the SWR listing pages of the first discovery and times the creation until
// all N ImageRepositories exist; then it requests one rediscovery of the unchanged listing with
// the requested-at annotation and counts its apiserver writes: ImageRepository writes (0 wanted)
// and ImageOrganization status patches (1 wanted). With an empty -sizes (-sizes=) it runs alone.
//
// The manager runs as its own process, built from this repository's main.go, against the in-process
// SWR simulator (internal/swr/swrtest, plain http, so --allow-insecure-endpoints). Every
// ImageRepository uses one IAM password Secret, so that token caching shows. Its peak RSS and CPU
// time are read from /proc, which makes the benchmark Linux-only.
//
// Run it with `make bench`, which builds the control plane first and sets KUBEBUILDER_ASSETS.
// Progress goes to stderr, the table to stdout. Ctrl-C stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

func main() {
	os.Exit(realMain())
}

// realMain runs the benchmark and returns the exit status; it exists so that deferred cleanups
// run before os.Exit.
func realMain() int {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	return devenv.RunProgram(os.Stderr, "bench", "interrupted", func(ctx context.Context) error {
		b := &bench{opts: o, log: os.Stderr}
		results, err := b.run(ctx)
		if err == nil {
			printTable(os.Stdout, o, results)
		}
		return err
	})
}

// size is one workload: repos ImageRepositories with policies sync policies each.
type size struct {
	repos, policies int
}

func (s size) String() string { return fmt.Sprintf("%dx%d", s.repos, s.policies) }

func (s size) tasks() int { return s.repos * s.policies }

// options are the benchmark's flags.
type options struct {
	sizes            []size
	interval         time.Duration
	concurrent       int
	kubeAPIQPS       float64
	kubeAPIBurst     int
	swrQPS           float64
	swrBurst         int
	compareUnlimited bool
	steady           bool
	keep             bool
	coldTimeout      time.Duration
	// discoveryRepos is the number of SWR repositories of the discovery phase; 0 skips it.
	discoveryRepos int
	// cpuProfile, when set, is where the manager's CPU profile of the main run's first
	// cpuProfileFor is written.
	cpuProfile    string
	cpuProfileFor time.Duration
	// apiserverProfile, when set, is where the apiserver's CPU profile of each phase's first
	// cpuProfileFor is written (the size and phase are appended).
	apiserverProfile string
	// watchedBaseline also runs, in every pair, the baseline plus an informer watching the
	// SyncRepoTasks, as the manager's cache does.
	watchedBaseline bool
	// pairs is how many times the baseline and the limit-off cold mirror are measured,
	// alternately; the ratio's verdict is the median of the pairs' ratios.
	pairs int
	// restart restarts the manager on the mirrored state after the main run and counts its reads
	// of SyncRepoTasks over one interval.
	restart bool
	// set holds the names of the flags given on the command line: the manager gets
	// -concurrent, -kube-api-qps, -kube-api-burst and -swr-burst only when they were, and
	// otherwise runs with main.go's defaults.
	set map[string]bool
}

// Defaults. The interval is the shortest that lets one steady-state round of the default sizes
// finish well within the run's time budget; --min-interval=10s lets the manager accept it.
const (
	defaultSizes    = "1000x5,200x50"
	defaultInterval = 60 * time.Second
	// defaultConcurrent is main.go's --concurrent default: the benchmark measures what a user of
	// the default flags gets, and the baseline has as many writers as the manager has workers.
	// (On 2 cores the cold mirror at 1000x5 with the SWR limit off took 20.7 s with 4 workers,
	// 19.2 s with 8, 16.5-16.9 s with 16 and 18.2 s with 32.)
	defaultConcurrent = 4
	// maxPolicies is the most policies one SWR listing returns; more would be truncated.
	maxPolicies = 100
	// defaultDiscoveryRepos is the discovery phase's organization size.
	defaultDiscoveryRepos = 1000
	// maxDiscoveryRepos is the most repositories the manager's listing reads completely.
	maxDiscoveryRepos = swr.MaxRepositoryPages * swr.DefaultRepositoryPageSize
)

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sizes := fs.String("sizes", defaultSizes, "comma-separated workloads NxM: N ImageRepositories with M sync policies each; empty runs none (e.g. only the discovery phase)")
	repos := fs.Int("repos", 0, "run one workload with this many ImageRepositories instead of -sizes (with -policies, default 5)")
	policies := fs.Int("policies", 0, "run one workload with this many policies per ImageRepository instead of -sizes (with -repos, default 1000)")
	o := &options{}
	fs.DurationVar(&o.interval, "interval", defaultInterval, "spec.interval of every ImageRepository, and the steady-state observation window. "+
		"Raised for a size whose polls would not fit in -swr-qps (the table says so).")
	fs.IntVar(&o.concurrent, "concurrent", defaultConcurrent, "the baseline's number of concurrent writers; when set, also the manager's --concurrent (unset, the manager runs with its default, which this one is)")
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", -1, "the baseline client's QPS (negative: no client-side limit, the manager's default); when set, also the manager's --kube-api-qps")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 100, "the baseline client's burst (the manager's default); when set, also the manager's --kube-api-burst")
	fs.Float64Var(&o.swrQPS, "swr-qps", 0, "the manager's --swr-qps for the main run: 0 (the default here) disables the limit, so that the table measures the operator "+
		"rather than the limiter; the manager's own default is 10")
	fs.IntVar(&o.swrBurst, "swr-burst", 20, "the manager's --swr-burst for the main run, passed when set (20 is the manager's default)")
	fs.BoolVar(&o.compareUnlimited, "compare-unlimited", false, "with a -swr-qps limit, also time a cold mirror with --swr-qps=0, to separate the SWR rate limit from the operator's own overhead")
	fs.BoolVar(&o.steady, "steady", true, "observe one steady-state interval after the main cold mirror (off: cold mirrors only, for quick comparisons)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder (manager binary, logs, kubeconfigs) instead of removing it, to study a run")
	fs.DurationVar(&o.coldTimeout, "cold-timeout", 10*time.Minute, "give up when a cold mirror (or the first discovery) takes longer than this")
	fs.IntVar(&o.discoveryRepos, "discovery-repos", defaultDiscoveryRepos, "SWR repositories of the discovery phase's ImageOrganization (0 skips the phase)")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "write a CPU profile of the manager's first -cpu-profile-for in each size's main run to this file (the size is appended), "+
		"for go tool pprof; the manager serves it on "+pprofAddress)
	fs.StringVar(&o.apiserverProfile, "apiserver-profile", "", "write a CPU profile of the kube-apiserver's first -cpu-profile-for in each phase (baselines and manager runs) to this file (size and phase appended), "+
		"to compare where the apiserver's time goes")
	fs.DurationVar(&o.cpuProfileFor, "cpu-profile-for", 30*time.Second, "how long -cpu-profile samples, from the manager's start")
	fs.BoolVar(&o.watchedBaseline, "watched-baseline", true, "also run, in every pair, the baseline plus an informer watching the SyncRepoTasks, as the manager's cache does")
	fs.BoolVar(&o.restart, "restart", true, "after the main run, restart the manager on the mirrored state and count its reads of SyncRepoTasks over one interval")
	fs.IntVar(&o.pairs, "pairs", 3, "measure the baseline and the cold mirror with the SWR limit off this many times, alternately, each on a fresh control plane; "+
		"the ratio's verdict is the median of the pairs' ratios (one pair's varies by about ±0.15 on a shared 2-core machine)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	var err error
	if *repos != 0 || *policies != 0 {
		s := size{repos: *repos, policies: *policies}
		if s.repos == 0 {
			s.repos = 1000
		}
		if s.policies == 0 {
			s.policies = 5
		}
		o.sizes = []size{s}
	} else if o.sizes, err = parseSizes(*sizes); err != nil {
		return nil, err
	}
	for _, s := range o.sizes {
		if s.repos < 1 || s.policies < 1 || s.policies >= maxPolicies {
			return nil, fmt.Errorf("size %s: want at least 1 ImageRepository and 1 to %d policies (SWR lists at most %d, and a full listing is flagged as possibly truncated)",
				s, maxPolicies-1, maxPolicies)
		}
	}
	switch {
	case o.interval < managerMinInterval:
		return nil, fmt.Errorf("-interval must be at least %s (the manager's --min-interval here)", managerMinInterval)
	case o.pairs < 1:
		return nil, errors.New("-pairs must be at least 1")
	case o.concurrent < 1:
		return nil, errors.New("-concurrent must be at least 1")
	case o.kubeAPIQPS == 0:
		return nil, errors.New("-kube-api-qps must be positive, or negative for no client-side limit")
	case o.kubeAPIQPS > 0 && o.kubeAPIBurst < 1, o.swrQPS > 0 && o.swrBurst < 1:
		return nil, errors.New("a burst must be at least 1")
	case o.coldTimeout <= 0:
		return nil, errors.New("-cold-timeout must be positive")
	case o.discoveryRepos < 0 || o.discoveryRepos > maxDiscoveryRepos:
		return nil, fmt.Errorf("-discovery-repos must be from 0 to %d (%d pages of %d: the most one listing reads)",
			maxDiscoveryRepos, swr.MaxRepositoryPages, swr.DefaultRepositoryPageSize)
	case len(o.sizes) == 0 && o.discoveryRepos == 0:
		return nil, errors.New("nothing to run: -sizes is empty and -discovery-repos is 0")
	}
	return o, nil
}

// parseSizes reads "1000x5,200x50"; an empty value is no size.
func parseSizes(value string) ([]size, error) {
	var sizes []size
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	for field := range strings.SplitSeq(value, ",") {
		field = strings.TrimSpace(field)
		n, m, ok := strings.Cut(field, "x")
		repos, err1 := strconv.Atoi(n)
		policies, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("-sizes: %q is not NxM, e.g. 1000x5", field)
		}
		sizes = append(sizes, size{repos: repos, policies: policies})
	}
	return sizes, nil
}

// intervalFor returns the poll interval to use for s: the -interval flag, raised when s.repos
// polls per interval, of swrRequestsPerPoll requests each, would need more than 80% of the SWR
// rate limit. Above the limit the manager
// cannot keep the interval at all (every poll waits for the limiter), and the steady-state figures
// would measure the limiter instead of the scheduler. The second value explains a raise.
func (o *options) intervalFor(s size) (time.Duration, string) {
	if o.swrQPS <= 0 {
		return o.interval, ""
	}
	const headroom = 0.8
	requests := float64(s.repos * swrRequestsPerPoll)
	need := time.Duration(requests / (o.swrQPS * headroom) * float64(time.Second))
	if need <= o.interval {
		return o.interval, ""
	}
	raised := need.Truncate(10*time.Second) + 10*time.Second
	return raised, fmt.Sprintf("%d polls per %s, of %d SWR requests each (policies and sync jobs), would need %.1f SWR requests/s, above 80%% of --swr-qps=%g",
		s.repos, o.interval, swrRequestsPerPoll, requests/o.interval.Seconds(), o.swrQPS)
}
