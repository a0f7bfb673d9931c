package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
)

// bench runs the phases of every size and collects their results.
type bench struct {
	opts *options
	log  io.Writer // progress

	root       string // the repository root
	work       string // a temporary folder for the manager binary, kubeconfigs and logs
	managerBin string
}

// sizeResult is everything measured for one size.
type sizeResult struct {
	size     size
	interval time.Duration
	raiseWhy string // why interval differs from -interval, or ""
	baseline *baselineResult
	// watchedBaseline is the baseline plus an informer watching the SyncRepoTasks (see
	// runBaseline); nil without -watched-baseline.
	watchedBaseline *baselineResult
	unlimited       *operatorResult // nil without -compare-unlimited
	main            *operatorResult
	// earlierPairs are the baselines and limit-off cold mirrors measured before the last pair
	// (baseline, limitOff), with -pairs above 1.
	earlierPairs []pair
}

// pair is a baseline, the watched baseline (nil without -watched-baseline) and the limit-off
// cold mirror measured right after them.
type pair struct {
	baseline, watched *baselineResult
	cold              *operatorResult
}

// pairs returns every pair of the size, in the order measured; the last one is the baseline and
// the limit-off run that the table's other rows show (absent when the main run had a limit and
// no limit-off run was made).
func (r sizeResult) pairs() []pair {
	all := slices.Clone(r.earlierPairs)
	if off := limitOff(r); off != nil {
		all = append(all, pair{baseline: r.baseline, watched: r.watchedBaseline, cold: off})
	}
	return all
}

// results is everything the benchmark measured.
type results struct {
	sizes     []sizeResult
	discovery *discoveryResult // nil when -discovery-repos is 0
	// idle is the manager's peak RSS with the CRDs installed and no objects, in bytes; 0 when no
	// size ran.
	idle int64
}

// run prepares the work folder and the manager binary, then runs the discovery phase and
// measures every size in turn.
func (b *bench) run(ctx context.Context) (res *results, err error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("reading the working directory: %w", err)
	}
	if b.root, err = devenv.FindModuleRoot(wd, "bench"); err != nil {
		return nil, err
	}
	if err := devenv.CheckControlPlaneAssets("bench"); err != nil {
		return nil, err
	}
	if b.work, err = os.MkdirTemp("", "swr-bench-"); err != nil {
		return nil, fmt.Errorf("creating a work folder: %w", err)
	}
	defer func() {
		if b.opts.keep {
			fmt.Fprintf(b.log, "bench: -keep: the manager logs are in %s\n", b.work)
			return
		}
		if rmErr := os.RemoveAll(b.work); rmErr != nil {
			fmt.Fprintf(b.log, "bench: removing %s: %v\n", b.work, rmErr)
		}
	}()
	if err := b.buildManager(ctx); err != nil {
		return nil, err
	}

	started := time.Now()
	res = &results{}
	if len(b.opts.sizes) > 0 {
		if res.idle, err = b.runIdle(ctx); err != nil {
			return nil, fmt.Errorf("idle manager: %w", err)
		}
	}
	if b.opts.discoveryRepos > 0 {
		if res.discovery, err = b.runDiscovery(ctx); err != nil {
			return nil, fmt.Errorf("discovery of %d repositories: %w", b.opts.discoveryRepos, err)
		}
	}
	for _, s := range b.opts.sizes {
		r := sizeResult{size: s}
		r.interval, r.raiseWhy = b.opts.intervalFor(s)
		b.stepf("%s: %d ImageRepositories x %d policies = %d SyncRepoTasks", s, s.repos, s.policies, s.tasks())
		if r.baseline, err = b.runBaseline(ctx, s, false); err != nil {
			return nil, fmt.Errorf("%s baseline: %w", s, err)
		}
		if err := b.runWatchedBaseline(ctx, &r); err != nil {
			return nil, err
		}
		// An ImageRepository polls again 0.75 to 1.75 intervals after its first poll. The cold
		// mirror takes about as long as the baseline; an interval of at least twice that keeps
		// the second polls out of it, so that the cold start counts only the first round.
		if floor := (2 * r.baseline.duration).Truncate(10*time.Second) + 10*time.Second; r.interval < floor {
			r.interval = floor
			r.raiseWhy = fmt.Sprintf("the baseline took %s, and the cold mirror must end before the first ImageRepositories poll again (0.75 intervals after their first poll)",
				seconds(r.baseline.duration))
		}
		b.stepf("%s: interval %s", s, r.interval)
		// One run's ratio varies by about ±0.15 on a shared 2-core machine, as the machine's speed
		// drifts between phases: alternating the two and taking the median of the pairs' ratios
		// keeps a slow phase from deciding the verdict.
		for i := 1; i < b.opts.pairs; i++ {
			run := operatorRun{name: fmt.Sprintf("pair%d", i), swrQPS: 0, swrBurst: b.opts.swrBurst, interval: r.interval}
			cold, err := b.runOperator(ctx, s, run)
			if err != nil {
				return nil, fmt.Errorf("%s cold mirror of pair %d: %w", s, i, err)
			}
			r.earlierPairs = append(r.earlierPairs, pair{baseline: r.baseline, watched: r.watchedBaseline, cold: cold})
			if r.baseline, err = b.runBaseline(ctx, s, false); err != nil {
				return nil, fmt.Errorf("%s baseline of pair %d: %w", s, i+1, err)
			}
			if err := b.runWatchedBaseline(ctx, &r); err != nil {
				return nil, err
			}
		}
		if b.opts.compareUnlimited && b.opts.swrQPS > 0 {
			run := operatorRun{name: "limit-off", swrQPS: 0, swrBurst: b.opts.swrBurst, interval: r.interval}
			if r.unlimited, err = b.runOperator(ctx, s, run); err != nil {
				return nil, fmt.Errorf("%s cold mirror with the SWR limit off: %w", s, err)
			}
		}
		run := operatorRun{name: "main", swrQPS: b.opts.swrQPS, swrBurst: b.opts.swrBurst, interval: r.interval, steady: b.opts.steady, restart: b.opts.restart}
		if r.main, err = b.runOperator(ctx, s, run); err != nil {
			return nil, fmt.Errorf("%s cold mirror and steady state: %w", s, err)
		}
		res.sizes = append(res.sizes, r)
	}
	b.stepf("done in %s", time.Since(started).Round(time.Second))
	return res, nil
}

// runWatchedBaseline measures r's watched baseline, with -watched-baseline.
func (b *bench) runWatchedBaseline(ctx context.Context, r *sizeResult) (err error) {
	if !b.opts.watchedBaseline {
		return nil
	}
	if r.watchedBaseline, err = b.runBaseline(ctx, r.size, true); err != nil {
		return fmt.Errorf("%s baseline with a SyncRepoTask watch: %w", r.size, err)
	}
	return nil
}

// stepf prints a progress line.
func (b *bench) stepf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s ==> "+format+"\n", append([]any{time.Now().Format(time.TimeOnly)}, args...)...)
}

// detailf prints an indented progress line.
func (b *bench) detailf(format string, args ...any) {
	fmt.Fprintf(b.log, "           "+format+"\n", args...)
}
