package devenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// ExitInterrupted is the conventional status of a program stopped by SIGINT (128 + 2).
const ExitInterrupted = 130

// RunProgram runs the body of a developer program until it returns and gives the program's exit
// status: 0 when run succeeds, ExitInterrupted when it fails after SIGINT or SIGTERM (saying on
// stderr "<name>: <interrupted>; everything it started is stopped"), and 1 after any other
// failure, printed as "<name>: <error>". run must stop everything it started before it returns;
// the caller's main passes the status to os.Exit only after RunProgram has returned, so that
// deferred cleanups run.
func RunProgram(stderr io.Writer, name, interrupted string, run func(ctx context.Context) error) int {
	// envtest and controller-runtime's caches log through controller-runtime's logger; unset, it
	// prints a warning with a stack trace after 30s. Their messages would only clutter the
	// program's output, and failures reach it as returned errors anyway.
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The signals stay captured until run has returned, so that a second Ctrl-C during cleanup
	// cannot kill the program half way and leave a control plane or the manager running.
	defer stop()

	err := run(ctx)
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "%s: %s; everything it started is stopped\n", name, interrupted)
		return ExitInterrupted
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
}
