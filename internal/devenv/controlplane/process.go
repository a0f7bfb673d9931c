package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
)

// Process is a binary run beside envtest: kube-controller-manager or the manager. Its output goes,
// each line prefixed with its name, to the writer given to Start (e.g. GinkgoWriter, so that a
// failed spec shows what the process said meanwhile) and, whole, to a buffer that Output returns.
type Process struct {
	name   string
	cmd    *exec.Cmd
	output *syncBuffer
	// exited is closed when the process has ended; err is then its exit error.
	exited chan struct{}
	err    error
}

// Start starts bin with args. Stop it when done: nothing else does.
func Start(name, bin string, args []string, out io.Writer) (*Process, error) {
	p := &Process{name: name, cmd: exec.Command(bin, args...), output: &syncBuffer{}, exited: make(chan struct{})} //nolint:noctx // it outlives the caller (a Ginkgo node); Stop ends it
	// One writer for both streams: exec then copies them with a single goroutine, so the
	// prefixing writer sees whole writes one at a time.
	w := &linePrefixer{prefix: "[" + name + "] ", w: io.MultiWriter(out, p.output)}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Stop kills the process, if it still runs, and waits until it has ended.
func (p *Process) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// errExitedCleanly stands for the nil exit error of a process that exited with status 0.
var errExitedCleanly = errors.New("exit status 0")

// StillRunning returns an error if the process has ended; it wraps the exit error.
func (p *Process) StillRunning() error {
	select {
	case <-p.exited:
		err := p.err
		if err == nil {
			err = errExitedCleanly
		}
		return fmt.Errorf("%s exited (%w); its output is above, prefixed with [%s]", p.name, err, p.name)
	default:
		return nil
	}
}

// Output returns everything the process has written so far, both streams.
func (p *Process) Output() string { return p.output.String() }

// syncBuffer is a bytes.Buffer that the copying goroutine writes while callers read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
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
