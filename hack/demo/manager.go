package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// managerStopGrace is how long the manager may take to shut down after SIGTERM before it is
	// killed. controller-runtime waits for running reconciles, which are short here.
	managerStopGrace = 10 * time.Second
	// logTailLines is how much of a log is shown when something fails.
	logTailLines = 20
	// minInterval is the manager's floor for spec.interval. It is well below the demo's 30s so
	// that a user who lowers spec.interval while exploring sees the change take effect.
	minInterval = "5s"
)

// managerProcess is the manager running as a separate process, as it would in a cluster.
type managerProcess struct {
	cmd     *exec.Cmd
	logFile *os.File
	// done is closed when the process has exited; exitErr is its exit error (nil on status 0)
	// and may be read only after done is closed.
	done    chan struct{}
	exitErr error
}

// startManager builds the manager from the repository's main.go and starts it against the local
// control plane and the simulator, with its output in .demo/manager.log.
func (d *demo) startManager(ctx context.Context) error {
	d.stepf("Building the manager: go build -o %s . (the first build takes a minute)", d.paths.rel(d.paths.managerBin))
	if err := d.buildManager(ctx); err != nil {
		return err
	}
	args := []string{
		"--kubeconfig", d.paths.kubeconfig,
		// The simulator speaks plain http; a real SWR endpoint is always https.
		"--allow-insecure-endpoints",
		// Port 0 disables the servers, so the demo never collides with anything listening on
		// the default ports.
		"--health-probe-bind-address=0",
		"--metrics-bind-address=0",
		"--min-interval=" + minInterval,
	}
	d.stepf("Starting the manager: %s %s", d.paths.rel(d.paths.managerBin), strings.Join(args, " "))
	m, err := startManagerProcess(d.paths.managerBin, d.paths.root, d.paths.managerLog, args)
	if err != nil {
		return err
	}
	d.manager = m
	d.cleanups.push("stopping the manager", m.stop)
	fmt.Fprintf(d.out, "    its log: %s (follow it with: tail -f %s; removed on exit)\n",
		d.paths.rel(d.paths.managerLog), d.paths.managerLog)
	return nil
}

// buildManager runs go build, returning the compiler's output in the error if it fails.
func (d *demo) buildManager(ctx context.Context) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the go command is not on PATH: install Go (see go.mod for the version) and run `make demo`")
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", d.paths.managerBin, ".")
	cmd.Dir = d.paths.root
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the manager (go build -o .demo/manager .): %w\n%s", err, strings.TrimSpace(output.String()))
	}
	return nil
}

// startManagerProcess starts bin with args in dir, its stdout and stderr appended to logPath,
// and watches for its exit.
func startManagerProcess(bin, dir, logPath string, args []string) (*managerProcess, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the manager log: %w", err)
	}
	// No context: the demo stops the manager itself (stop), after the samples and before the
	// control plane, and keeps Ctrl-C away from it (below).
	cmd := exec.Command(bin, args...) //nolint:noctx // stop ends the process, not a context
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Keep the terminal's Ctrl-C away from the manager: the demo stops it itself, before the
	// control plane, so that its log ends with a clean shutdown instead of connection errors.
	cmd.SysProcAttr = ownProcessGroup()
	if err := cmd.Start(); err != nil {
		// Close error ignored: the start failure is what matters.
		_ = logFile.Close()
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	m := &managerProcess{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		m.exitErr = cmd.Wait()
		close(m.done)
	}()
	return m, nil
}

// errExitedCleanly stands for the nil exit error of a manager that exited with status 0.
var errExitedCleanly = errors.New("exit status 0")

// exitError returns the process's exit error, errExitedCleanly for status 0. Call it only once
// done is closed.
func (m *managerProcess) exitError() error {
	if m.exitErr == nil {
		return errExitedCleanly
	}
	return m.exitErr
}

// exited reports whether the process has ended.
func (m *managerProcess) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// stop asks the manager to shut down with SIGTERM, as the kubelet would, kills it if it is not
// gone within managerStopGrace, and closes its log.
func (m *managerProcess) stop() error {
	defer m.logFile.Close()
	if m.exited() {
		return nil
	}
	// Signal fails where SIGTERM does not exist (Windows) or the process just exited; killing
	// is the fallback either way.
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return m.kill()
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(managerStopGrace):
		if err := m.kill(); err != nil {
			return err
		}
		return fmt.Errorf("the manager ignored SIGTERM for %s and was killed", managerStopGrace)
	}
}

// kill ends the process at once and waits for it.
func (m *managerProcess) kill() error {
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing the manager (pid %d): %w", m.cmd.Process.Pid, err)
	}
	<-m.done
	return nil
}

// showManagerLogTail prints the end of the manager's log, if the manager was started.
func (d *demo) showManagerLogTail() {
	if d.manager == nil {
		return
	}
	lines, err := tailLines(d.paths.managerLog, logTailLines)
	if err != nil {
		fmt.Fprintf(d.errOut, "demo: reading the manager log: %v\n", err)
		return
	}
	fmt.Fprintf(d.errOut, "\nLast %d lines of %s:\n", len(lines), d.paths.rel(d.paths.managerLog))
	for _, line := range lines {
		fmt.Fprintf(d.errOut, "    %s\n", line)
	}
}

// tailLines returns the last n lines of the file at path. The manager's log of a demo run is
// small, so reading it whole is fine.
func tailLines(path string, n int) ([]string, error) {
	data, err := os.ReadFile(path)
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
