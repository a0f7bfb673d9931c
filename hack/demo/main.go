// Command demo shows swr-sync-operator's main job end to end on one machine, with no cloud
// account: it starts a local control plane (envtest's kube-apiserver and etcd), an in-process
// SWR simulator seeded with repositories and sync policies, and the real manager binary built
// from this repository; it then applies the ImageRepositories and the ImageOrganization of
// config/samples, pointed at the simulator, and prints the ImageRepositories the
// ImageOrganization generated from the simulator's repository listing and the SyncRepoTasks the
// operator mirrors, with what it read of the simulator's sync jobs: one nginx target
// replicated, the other with a failed tag.
//
// Run it with `make demo`, which builds the control plane binaries first and sets
// KUBEBUILDER_ASSETS. It runs until Ctrl-C; with -once (or DEMO_ONCE=1) it stops as soon as the
// mirrored tasks are shown, for CI smoke tests. Either way it stops everything it started and
// removes .demo/ before it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

func main() {
	os.Exit(realMain())
}

// realMain runs the demo and returns the exit status. It exists so that deferred cleanups run
// before os.Exit, which skips them.
func realMain() int {
	// A FlagSet of its own: controller-runtime registers --kubeconfig on flag.CommandLine, which
	// means nothing to the demo.
	flags := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	once := flags.Bool("once", os.Getenv("DEMO_ONCE") == "1",
		"exit as soon as the mirrored SyncRepoTasks are shown, instead of running until Ctrl-C (also DEMO_ONCE=1)")
	// ExitOnError: Parse exits by itself, with status 2 on a bad flag and 0 after -h.
	_ = flags.Parse(os.Args[1:])

	// Interrupted is a failure only before the demo is up; afterwards Ctrl-C is the normal way
	// to end the demo, and run returns nil.
	return devenv.RunProgram(os.Stderr, "demo", "interrupted before the demo was up", func(ctx context.Context) error {
		d := &demo{out: os.Stdout, errOut: os.Stderr, once: *once}
		err := d.run(ctx)
		if err != nil && ctx.Err() == nil {
			// .demo/manager.log is about to be removed: show its end while it still exists.
			d.showManagerLogTail()
		}
		d.cleanup()
		return err
	})
}

// demo holds what the demo started, so that cleanup can stop it.
type demo struct {
	out    io.Writer // progress and results
	errOut io.Writer // warnings and the final error
	once   bool      // exit after showing the result instead of waiting for Ctrl-C

	paths    paths
	cleanups cleanupStack
	client   client.Client
	sim      *swrtest.Server
	manager  *process.Process
}

// run starts everything, shows the mirrored tasks and, unless d.once, keeps the demo running
// until ctx is cancelled. Cheap checks come first so that a misconfigured machine fails in
// milliseconds, before anything needs stopping.
func (d *demo) run(ctx context.Context) error {
	p, err := resolvePaths()
	if err != nil {
		return err
	}
	d.paths = p
	if err := devenv.CheckControlPlaneAssets("demo"); err != nil {
		return err
	}
	samples, err := loadSamples(d.paths.root, d.paths.samples)
	if err != nil {
		return err
	}

	if err := d.prepareWorkDir(); err != nil {
		return err
	}
	if err := d.startControlPlane(); err != nil {
		return err
	}
	d.startSimulator()
	if err := d.startManager(ctx); err != nil {
		return err
	}
	if err := d.createCredentials(ctx); err != nil {
		return err
	}
	if err := d.applySamples(ctx, samples); err != nil {
		return err
	}
	if err := d.waitUntilReady(ctx, samples); err != nil {
		return err
	}
	d.showResources(ctx)
	if err := d.showReplication(ctx); err != nil {
		return err
	}
	d.showNextSteps()
	if d.once {
		fmt.Fprintln(d.out, "-once: stopping now; run `make demo` to keep the demo running.")
		return nil
	}
	return d.followUpstreamChanges(ctx)
}

// cleanup stops everything the demo started, newest first, and reports what it could not undo.
func (d *demo) cleanup() {
	if d.cleanups.empty() {
		return
	}
	fmt.Fprintln(d.out, "\nCleaning up: stopping the manager, the SWR simulator and the control plane, removing .demo/ ...")
	for _, err := range d.cleanups.run() {
		fmt.Fprintf(d.errOut, "demo: cleanup: %v\n", err)
	}
}

// stepf prints the heading of a demo step, formatted as by fmt.Printf.
func (d *demo) stepf(format string, args ...any) {
	fmt.Fprintf(d.out, "==> "+format+"\n", args...)
}

// cleanupStack undoes the demo's setup in reverse order, so that the manager stops before the
// control plane it talks to, and .demo/ (which holds the manager's binary and log) goes last.
type cleanupStack struct {
	steps []cleanupStep
}

type cleanupStep struct {
	what string // e.g. "stopping the control plane", for error messages
	undo func() error
}

// push registers undo to run at cleanup; what describes it in error messages.
func (s *cleanupStack) push(what string, undo func() error) {
	s.steps = append(s.steps, cleanupStep{what: what, undo: undo})
}

func (s *cleanupStack) empty() bool { return len(s.steps) == 0 }

// run runs every registered step, newest first, even after one fails, and returns the failures.
func (s *cleanupStack) run() []error {
	var errs []error
	for i := len(s.steps) - 1; i >= 0; i-- {
		if err := s.steps[i].undo(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.steps[i].what, err))
		}
	}
	s.steps = nil
	return errs
}

// errManagerExited is returned when the manager process ends while the demo still needs it.
var errManagerExited = errors.New("the manager exited unexpectedly")
