package incluster_test

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// process is a binary the suite runs beside envtest: kube-controller-manager or the manager.
// Its output goes, each line prefixed with its name, to GinkgoWriter (so that a failed spec
// shows what the process said meanwhile) and, whole, to a buffer that specs can search.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *syncBuffer
	// exited is closed when the process has ended; err is then its exit error.
	exited chan struct{}
	err    error
}

// startProcess starts bin and registers its killing for the end of the current node: the end of
// the suite when called from BeforeSuite, even if the suite fails.
func startProcess(name, bin string, args ...string) *process {
	p := &process{name: name, cmd: exec.Command(bin, args...), output: &syncBuffer{}, exited: make(chan struct{})}
	// One writer for both streams: exec then copies them with a single goroutine, so the
	// prefixing writer sees whole writes one at a time.
	out := &linePrefixer{prefix: "[" + name + "] ", w: io.MultiWriter(GinkgoWriter, p.output)}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	Expect(p.cmd.Start()).To(Succeed(), "start %s", name)
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	DeferCleanup(p.stop)
	return p
}

// stop kills the process, if it still runs, and waits until it has ended.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stillRunning returns an error if the process has ended: nothing in the suite stops it early.
func (p *process) stillRunning() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited during the suite (%v); its output is above, prefixed with [%s]", p.name, p.err, p.name)
	default:
		return nil
	}
}

// Output returns everything the process has written so far, both streams.
func (p *process) Output() string { return p.output.String() }

// syncBuffer is a bytes.Buffer that the copying goroutine writes while specs read it.
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
// output of several processes in GinkgoWriter says who wrote what. Not safe for concurrent use.
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
