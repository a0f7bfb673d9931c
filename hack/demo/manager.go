package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

const (
	// managerStopGrace is how long the manager may take to shut down after SIGTERM before it is
	// killed. controller-runtime waits for running reconciles, which are short here.
	managerStopGrace = 10 * time.Second
	// logTailLines is how much of a log is shown when something fails.
	logTailLines = 20
	// minInterval is the manager's floor for spec.interval. It is well below the demo's 30s so
	// that a user who lowers spec.interval while exploring sees the change take effect.
	minInterval = "5s"
)

// startManager builds the manager from the repository's main.go and starts it against the local
// control plane and the simulator, with its output in .demo/manager.log.
func (d *demo) startManager(ctx context.Context) error {
	d.stepf("Building the manager: go build -o %s . (the first build takes a minute)", d.paths.rel(d.paths.managerBin))
	if err := controlplane.BuildManagerNow(ctx, d.paths.root, d.paths.managerBin); err != nil {
		return fmt.Errorf("building the manager (go build -o .demo/manager .): %w", err)
	}
	args := []string{
		"--kubeconfig", d.paths.kubeconfig,
		// The simulator speaks plain http; a real SWR endpoint is always https.
		"--allow-insecure-endpoints",
		// Port 0 disables the servers, so the demo never collides with anything listening on
		// the default ports.
		"--health-probe-bind-address=0",
		"--metrics-bind-address=0",
		"--min-interval=" + minInterval,
	}
	d.stepf("Starting the manager: %s %s", d.paths.rel(d.paths.managerBin), strings.Join(args, " "))
	// Its own process group keeps the terminal's Ctrl-C away from the manager: the demo stops
	// it itself, after the samples and before the control plane, so that its log ends with a
	// clean shutdown instead of connection errors.
	m, err := process.Start("manager", d.paths.managerBin, args,
		process.Options{Dir: d.paths.root, LogPath: d.paths.managerLog, OwnProcessGroup: true})
	if err != nil {
		return err
	}
	d.manager = m
	// SIGTERM, as the kubelet would; killed if not gone within managerStopGrace.
	d.cleanups.push("stopping the manager", func() error { return m.Shutdown(managerStopGrace) })
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
