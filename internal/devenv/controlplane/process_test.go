package controlplane

import (
	"bytes"
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
	p, err := Start("echo", "/bin/sh", []string{"-c", "echo hello; echo oops >&2"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if err := p.StillRunning(); err == nil || !strings.Contains(err.Error(), "echo exited") {
		t.Errorf("StillRunning() = %v, want that echo exited", err)
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
}
