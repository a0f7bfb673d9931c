package devenv

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestRunProgram(t *testing.T) {
	var stderr bytes.Buffer
	if status := RunProgram(&stderr, "demo", "interrupted", func(context.Context) error { return nil }); status != 0 || stderr.Len() != 0 {
		t.Errorf("success: status %d, stderr %q; want 0 and nothing", status, stderr.String())
	}
	status := RunProgram(&stderr, "demo", "interrupted", func(context.Context) error { return errors.New("no SWR") })
	if status != 1 || stderr.String() != "demo: no SWR\n" {
		t.Errorf("failure: status %d, stderr %q; want 1 and the error", status, stderr.String())
	}
}
