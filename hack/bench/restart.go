package main

import (
	"context"
	"fmt"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// idleSettle is how long the idle manager runs after it started its workers before its peak RSS
// is read: its caches are synced and empty, and nothing happens after that.
const idleSettle = 5 * time.Second

// runIdle measures the idle manager: started on a fresh control plane with the CRDs installed
// and no objects, its peak RSS (VmHWM, as for the runs) once it has started the workers of both
// controllers and run idleSettle more. Every size's memory per task is counted above it.
func (b *bench) runIdle(ctx context.Context) (peakRSS int64, err error) {
	b.stepf("idle manager: started with the CRDs installed and no objects, on a fresh control plane")
	cp, err := startControlPlane(b.root, b.work, "idle")
	defer func() { b.warnIf("stopping the control plane", cp.stop()) }()
	if err != nil {
		return 0, err
	}
	m, err := devenv.StartManager(b.managerBin, b.root, b.work+"/idle.log", b.managerArgs(cp.kubeconfig, b.opts.swrQPS, b.opts.swrBurst))
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(b.log, "--- last lines of the manager log:\n%s\n---\n", managerLogTail(m))
		}
		b.warnIf("stopping the manager", devenv.StopManager(m))
	}()
	for _, kind := range []string{"ImageRepository", "ImageOrganization"} {
		if _, err := waitWorkersStarted(ctx, m, kind, workersStartedTimeout); err != nil {
			return 0, err
		}
	}
	if err := pause(ctx, m, idleSettle); err != nil {
		return 0, err
	}
	_, peakRSS, err = m.Usage()
	if err != nil {
		return 0, err
	}
	b.detailf("peak RSS %.1f MiB", float64(peakRSS)/(1<<20))
	return peakRSS, nil
}

// restartResult is what a restart of the manager on the mirrored state read and wrote.
type restartResult struct {
	// window is how long the restarted manager was observed: one interval and a margin, so that
	// every ImageRepository polled once.
	window time.Duration
	// taskLists and taskGets count the apiserver's LISTs and GETs of SyncRepoTasks in the
	// window: the informer's initial list (none when client-go streams it over its WATCH) and
	// any read the reconciler made of tasks it did not know.
	taskLists, taskGets int
	traffic             trafficSummary
	// polledRepos is how many ImageRepositories polled SWR in the window.
	polledRepos int
	peakRSS     int64
}

// observeRestart stops the manager *m (SIGTERM, as a rollout would), starts it again with args
// on the same control plane and SWR simulator, and counts the apiserver's requests over one
// interval and a margin, in which every ImageRepository polls once. The restarted manager
// replaces *m, so that the caller stops it.
func (b *bench) observeRestart(ctx context.Context, cp *controlPlane, sim *swrtest.Server, m **process.Process, s size, interval time.Duration,
	args []string) (*restartResult, error) {
	b.stepf("%s restart: the manager restarts on the mirrored state; observing one interval (%s) and %s", s, interval, restartMargin)
	if err := devenv.StopManager(*m); err != nil {
		return nil, fmt.Errorf("stopping the manager before the restart: %w", err)
	}
	before, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	restarted, err := devenv.StartManager(b.managerBin, b.root, fmt.Sprintf("%s/%s-restart.log", b.work, s), args)
	if err != nil {
		return nil, err
	}
	*m = restarted
	if err := pause(ctx, restarted, interval+restartMargin); err != nil {
		return nil, err
	}
	after, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	diff := after.minus(before)
	r := &restartResult{window: time.Since(restarted.Started()), traffic: summarize(diff)}
	for k, v := range diff {
		if k.resource != syncRepoTasks {
			continue
		}
		switch k.verb {
		case "LIST":
			r.taskLists += int(v)
		case "GET":
			r.taskGets += int(v)
		}
	}
	polled := map[string]bool{}
	for _, req := range requestsOfKind(sim.Requests(), swrtest.RequestKindSyncRepo) {
		if !req.Time.Before(restarted.Started()) {
			polled[req.Organization+"/"+req.Repository] = true
		}
	}
	r.polledRepos = len(polled)
	if _, r.peakRSS, err = restarted.Usage(); err != nil {
		return nil, err
	}
	b.detailf("%d of %d ImageRepositories polled; SyncRepoTask LISTs %d, GETs %d; task writes %d, status patches %d",
		r.polledRepos, s.repos, r.taskLists, r.taskGets, r.traffic.taskCreates+r.traffic.taskCreateFailures+r.traffic.taskOtherWrites, r.traffic.statusPatches)
	return r, nil
}

// restartMargin is how much longer than one interval the restarted manager is observed: its
// start-up and cache sync, and the settling of the last poll's writes.
const restartMargin = 15 * time.Second
