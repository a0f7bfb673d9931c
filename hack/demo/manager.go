package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
)

const (
	// logTailLines is how much of a log is shown when something fails.
	logTailLines = 20
	// minInterval is the manager's floor for spec.interval. It is well below the demo's 30s so
	// that a user who lowers spec.interval while exploring sees the change take effect.
	minInterval = 5 * time.Second
)

// startManager builds the manager from the repository's main.go and starts it against the local
// control plane and the simulator, with its output in .demo/manager.log.
func (d *demo) startManager(ctx context.Context) error {
	d.stepf("Building the manager: go build -o %s . (the first build takes a minute)", d.paths.rel(d.paths.managerBin))
	if err := controlplane.BuildManagerNow(ctx, d.paths.root, d.paths.managerBin); err != nil {
		return fmt.Errorf("building the manager (go build -o .demo/manager .): %w", err)
	}
	args := devenv.ManagerArgs(d.paths.kubeconfig, minInterval)
	d.stepf("Starting the manager: %s %s", d.paths.rel(d.paths.managerBin), strings.Join(args, " "))
	// The demo stops the manager after the samples and before the control plane.
	m, err := devenv.StartManager(d.paths.managerBin, d.paths.root, d.paths.managerLog, args)
	if err != nil {
		return err
	}
	d.manager = m
	d.cleanups.push("stopping the manager", func() error { return devenv.StopManager(m) })
	fmt.Fprintf(d.out, "    its log: %s (follow it with: tail -f %s; removed on exit)\n",
		d.paths.rel(d.paths.managerLog), d.paths.managerLog)
	return nil
}

// showManagerLogTail prints the end of the manager's log, if the manager was started.
func (d *demo) showManagerLogTail() {
	if d.manager == nil {
		return
	}
	lines, err := d.manager.LogTail(logTailLines)
	if err != nil {
		fmt.Fprintf(d.errOut, "demo: reading the manager log: %v\n", err)
		return
	}
	fmt.Fprintf(d.errOut, "\nLast %d lines of %s:\n", len(lines), d.paths.rel(d.paths.managerLog))
	for _, line := range lines {
		fmt.Fprintf(d.errOut, "    %s\n", line)
	}
}
