package process

// These tests need what only Linux has, as the benchmark that uses Usage and Children does:
// /proc, and signals. The file's _linux suffix builds them there and nowhere else, rather than
// skipping them.

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

func TestShutdownSendsSIGTERMThenKills(t *testing.T) {
	p, err := Start("sleeper", "/bin/sh", []string{"-c", "trap '' TERM; echo trapped; exec sleep 30"}, Options{OwnProcessGroup: true, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	// The SIGTERM must come after the shell set its trap, which it says; the ignored signal stays
	// ignored across the exec, and the sleeper holds no pipe open after the kill.
	gomega.NewWithT(t).Eventually(p.Output).Should(gomega.ContainSubstring("trapped"))
	if err := p.Shutdown(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "ignored SIGTERM") {
		t.Errorf("Shutdown() = %v, want that the sleeper ignored SIGTERM", err)
	}
	if !p.Exited() {
		t.Error("still running after Shutdown")
	}

	p, err = Start("sleeper", "/bin/sh", []string{"-c", "sleep 30"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(10 * time.Second); err != nil {
		t.Errorf("Shutdown() = %v, want a clean end on SIGTERM", err)
	}
}

func TestUsageAndChildren(t *testing.T) {
	p, err := Start("sleeper", "/bin/sh", []string{"-c", "sleep 30"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if _, rss, err := p.Usage(); err != nil || rss <= 0 {
		t.Errorf("Usage() = _, %d, %v; want a peak RSS", rss, err)
	}
	if !slices.Contains(Children(), Child{PID: p.Pid(), Name: "sh"}) {
		t.Errorf("Children() = %v lacks the sleeper %d", Children(), p.Pid())
	}
}
