package devenv

import (
	"bytes"
	"context"
	"syscall"
	"testing"
)

func TestRunProgramInterrupted(t *testing.T) {
	var stderr bytes.Buffer
	status := RunProgram(&stderr, "bench", "interrupted", func(ctx context.Context) error {
		// RunProgram catches the signal, so it ends ctx instead of the test process.
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if status != ExitInterrupted || stderr.String() != "bench: interrupted; everything it started is stopped\n" {
		t.Errorf("status %d, stderr %q; want %d and the interrupted line", status, stderr.String(), ExitInterrupted)
	}
}
