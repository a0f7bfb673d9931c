package process

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLinePrefixerWritesWholeLinesWithThePrefix(t *testing.T) {
	var out bytes.Buffer
	w := &linePrefixer{prefix: "[p] ", w: &out}
	for _, chunk := range []string{"one\ntw", "o\n", "thr", "ee"} {
		if n, err := w.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if got, want := out.String(), "[p] one\n[p] two\n"; got != want {
		t.Errorf("got %q, want %q (the unfinished line waits for its newline)", got, want)
	}
}

func TestProcessCapturesOutputAndReportsItsEnd(t *testing.T) {
	var out bytes.Buffer
	logPath := filepath.Join(t.TempDir(), "echo.log")
	p, err := Start("echo", "/bin/sh", []string{"-c", "echo hello; echo oops >&2"}, Options{Out: &out, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := p.StillRunning(); err == nil || !strings.Contains(err.Error(), "echo exited") {
		t.Errorf("StillRunning() = %v, want that echo exited", err)
	}
	if err := p.ExitError(); !errors.Is(err, ErrExitedCleanly) {
		t.Errorf("ExitError() = %v, want ErrExitedCleanly", err)
	}
	p.Stop() // a no-op once ended
	for _, want := range []string{"hello\n", "oops\n"} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("Output() = %q lacks %q", p.Output(), want)
		}
		if !strings.Contains(out.String(), "[echo] "+want) {
			t.Errorf("the writer got %q, without %q", out.String(), "[echo] "+want)
		}
	}
	if tail, err := p.LogTail(1); err != nil || !slices.Equal(tail, []string{"oops"}) {
		t.Errorf("LogTail(1) = %q, %v; want the last line", tail, err)
	}
}

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses; fields are counted from the last ')'.
	line := "4242 (my (odd) mgr) S 17 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 99 123456 789 18446744073709551615\n"
	s, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.Comm != "my (odd) mgr" || s.PPID != 17 || s.UTime != 250 || s.STime != 75 {
		t.Errorf("got %+v", s)
	}
	if got := s.CPUSeconds(); got != 3.25 {
		t.Errorf("CPUSeconds %v, want 3.25", got)
	}
	if _, err := parseStat([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestParseVMHWM(t *testing.T) {
	status := "Name:\tmanager\nVmPeak:\t 1300000 kB\nVmHWM:\t   61440 kB\nVmRSS:\t   50000 kB\n"
	got, err := parseVMHWM([]byte(status))
	if err != nil || got != 60<<20 {
		t.Errorf("got %d, %v; want 60 MiB", got, err)
	}
	if _, err := parseVMHWM([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmHWM line accepted")
	}
}
