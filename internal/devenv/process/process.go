// Package process runs the programs that the developer programs under hack/ (the demo and the
// benchmark) and the test suites start beside a local control plane: the manager binary and
// kube-controller-manager. It starts them, captures their output, stops them (SIGTERM first
// when asked to, as the kubelet would) and reads what /proc says about them.
package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say where a process runs and where its output goes. Both streams go to the same
// places.
type Options struct {
	// Dir is the working directory; "" is the caller's.
	Dir string
	// Out, if set, receives each line of output prefixed with "[name] " (e.g. GinkgoWriter, so
	// that a failed spec shows what the process said meanwhile), and Output returns it all.
	Out io.Writer
	// LogPath, if set, is a file created (or truncated) to receive the output as written.
	LogPath string
	// OwnProcessGroup puts the process in a process group of its own, so that the SIGINT the
	// terminal sends its foreground group on Ctrl-C reaches the caller only, which can then stop
	// the process in its own time (e.g. the manager before the control plane). envtest starts
	// kube-apiserver and etcd the same way.
	OwnProcessGroup bool
}

// Process is a program started by Start. Stop or Shutdown it when done: nothing else does.
type Process struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	logPath string
	logFile *os.File    // nil without Options.LogPath
	output  *SyncBuffer // nil without Options.Out
	// exited is closed when the process has ended; err is then its exit error.
	exited chan struct{}
	err    error
}

// Start starts bin with args; name stands for it in messages and output prefixes.
func Start(name, bin string, args []string, opts Options) (*Process, error) {
	// No context: the process outlives the caller's function (a Ginkgo node, a demo step), and
	// Stop or Shutdown end it, in the order the caller chooses.
	p := &Process{name: name, cmd: exec.Command(bin, args...), logPath: opts.LogPath, exited: make(chan struct{})} //nolint:noctx // Stop and Shutdown end it
	p.cmd.Dir = opts.Dir
	var writers []io.Writer
	if opts.LogPath != "" {
		f, err := os.OpenFile(opts.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("creating the log of %s: %w", name, err)
		}
		p.logFile = f
		writers = append(writers, f)
	}
	if opts.Out != nil {
		p.output = &SyncBuffer{}
		writers = append(writers, &linePrefixer{prefix: "[" + name + "] ", w: io.MultiWriter(opts.Out, p.output)})
	}
	// One writer for both streams: exec then copies them with a single goroutine, so the
	// prefixing writer sees whole writes one at a time.
	if len(writers) > 0 {
		w := io.MultiWriter(writers...)
		p.cmd.Stdout, p.cmd.Stderr = w, w
	}
	if opts.OwnProcessGroup {
		p.cmd.SysProcAttr = ownProcessGroup()
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ErrExitedCleanly stands for the nil exit error of a process that exited with status 0.
var ErrExitedCleanly = errors.New("exit status 0")

// ExitError returns the process's exit error, ErrExitedCleanly for status 0. Call it only once
// the process has ended.
func (p *Process) ExitError() error {
	if p.err == nil {
		return ErrExitedCleanly
	}
	return p.err
}

// StillRunning returns an error if the process has ended; it wraps the exit error.
func (p *Process) StillRunning() error {
	if !p.Exited() {
		return nil
	}
	return fmt.Errorf("%s exited (%w); its output is above, prefixed with [%s]", p.name, p.ExitError(), p.name)
}

// Stop kills the process, if it still runs, and waits until it has ended.
func (p *Process) Stop() {
	defer p.closeLog()
	if !p.Exited() {
		_ = p.kill() // a kill that fails finds the process already gone
	}
}

// Shutdown asks the process to end with SIGTERM, as the kubelet would, kills it if it is not
// gone within grace, and closes its log.
func (p *Process) Shutdown(grace time.Duration) error {
	defer p.closeLog()
	if p.Exited() {
		return nil
	}
	// Signal fails where SIGTERM does not exist (Windows) or the process just exited; killing
	// is the fallback either way.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return p.kill()
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
		if err := p.kill(); err != nil {
			return err
		}
		return fmt.Errorf("the %s ignored SIGTERM for %s and was killed", p.name, grace)
	}
}

// kill ends the process at once and waits for it.
func (p *Process) kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing the %s (pid %d): %w", p.name, p.Pid(), err)
	}
	<-p.exited
	return nil
}

func (p *Process) closeLog() {
	if p.logFile != nil {
		_ = p.logFile.Close() // written by the process only; nothing to flush
	}
}

// Output returns everything the process has written so far to Options.Out, unprefixed.
func (p *Process) Output() string {
	if p.output == nil {
		return ""
	}
	return p.output.String()
}

// LogPath is Options.LogPath: where the output goes, "" if nowhere.
func (p *Process) LogPath() string { return p.logPath }

// LogTail returns the last n lines of the process's log file (Options.LogPath), none if it is
// empty. The logs of the demo and the benchmark are small enough to read whole.
func (p *Process) LogTail(n int) ([]string, error) {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return nil, err
	}
	text := strings.TrimRight(string(data), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	return lines[max(0, len(lines)-n):], nil
}

// Usage returns the CPU seconds the process has used so far and its peak RSS in bytes, from
// /proc (Linux only).
func (p *Process) Usage() (cpuSeconds float64, peakRSS int64, err error) {
	s, err := ReadStat(p.Pid())
	if err != nil {
		return 0, 0, fmt.Errorf("reading the %s's /proc stat: %w", p.name, err)
	}
	rss, err := ReadPeakRSS(p.Pid())
	if err != nil {
		return 0, 0, fmt.Errorf("reading the %s's /proc status: %w", p.name, err)
	}
	return s.CPUSeconds(), rss, nil
}

// SyncBuffer is a bytes.Buffer that may be written and read concurrently: a process's output
// copied while callers read it, or the logs of a manager run in a test.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// linePrefixer writes each complete line to w with prefix in front, so that the interleaved
// output of several processes says who wrote what. Not safe for concurrent use.
type linePrefixer struct {
	prefix  string
	w       io.Writer
	partial []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := append([]byte(l.prefix), l.partial[:i+1]...)
		l.partial = l.partial[i+1:]
		if _, err := l.w.Write(line); err != nil {
			return len(p), err
		}
	}
}
