package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// managerStopGrace is how long the manager may take to shut down after SIGTERM before it is
	// killed.
	managerStopGrace = 10 * time.Second
	// managerMinInterval is the manager's --min-interval: low enough for the benchmark's short
	// intervals.
	managerMinInterval = 10 * time.Second
	// logTailLines is how much of the manager's log is shown when a phase fails.
	logTailLines = 30
)

// buildManager builds the manager from the repository's main.go into the work folder, once for
// every phase.
func (b *bench) buildManager(ctx context.Context) error {
	b.managerBin = filepath.Join(b.work, "manager")
	b.step("building the manager: go build -o %s .", b.managerBin)
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the go command is not on PATH")
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", b.managerBin, ".")
	cmd.Dir = b.root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the manager: %w\n%s", err, strings.TrimSpace(output.String()))
	}
	return nil
}

// managerProcess is the manager running as its own process, as in a cluster.
type managerProcess struct {
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	started time.Time
	// done is closed when the process has exited; exitErr may be read only after that.
	done    chan struct{}
	exitErr error
}

// startManager starts the manager binary with args, its output going to logPath.
func startManager(bin, dir, logPath string, args []string) (*managerProcess, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the manager log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = ownProcessGroup()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close() // the start failure is what matters
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	m := &managerProcess{cmd: cmd, logPath: logPath, logFile: logFile, started: started, done: make(chan struct{})}
	go func() {
		m.exitErr = cmd.Wait()
		close(m.done)
	}()
	return m, nil
}

// pid is the manager's process id.
func (m *managerProcess) pid() int { return m.cmd.Process.Pid }

// exitedError returns an error describing the manager's unexpected exit.
func (m *managerProcess) exitedError() error {
	return fmt.Errorf("the manager exited unexpectedly (%v)", m.exitErr)
}

// usage returns the manager's CPU seconds so far and its peak RSS in bytes.
func (m *managerProcess) usage() (cpuSeconds float64, peakRSS int64, err error) {
	s, err := readProcStat(m.pid())
	if err != nil {
		return 0, 0, fmt.Errorf("reading the manager's /proc stat: %w", err)
	}
	rss, err := readPeakRSS(m.pid())
	if err != nil {
		return 0, 0, fmt.Errorf("reading the manager's /proc status: %w", err)
	}
	return s.cpuSeconds(), rss, nil
}

// stop asks the manager to shut down with SIGTERM, as the kubelet would, kills it if it is not
// gone within managerStopGrace, and closes its log.
func (m *managerProcess) stop() error {
	defer m.logFile.Close()
	select {
	case <-m.done:
		return nil
	default:
	}
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
		return fmt.Errorf("killing the manager (pid %d): %w", m.pid(), err)
	}
	<-m.done
	return nil
}

// logTail returns the last lines of the manager's log, for failure reports.
func (m *managerProcess) logTail() string {
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return "(cannot read the manager log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-logTailLines):], "\n")
}

// managerArgs are the manager's flags for one run.
func (b *bench) managerArgs(kubeconfig string, swrQPS float64, swrBurst int) []string {
	args := []string{
		"--kubeconfig", kubeconfig,
		// The simulator speaks plain http; a real SWR endpoint is always https.
		"--allow-insecure-endpoints",
		// Port 0 disables the servers, so that nothing collides with other listeners.
		"--health-probe-bind-address=0",
		"--metrics-bind-address=0",
		"--min-interval=" + managerMinInterval.String(),
		"--concurrent=" + strconv.Itoa(b.opts.concurrent),
		"--kube-api-qps=" + strconv.FormatFloat(b.opts.kubeAPIQPS, 'g', -1, 64),
		"--kube-api-burst=" + strconv.Itoa(b.opts.kubeAPIBurst),
		"--swr-qps=" + strconv.FormatFloat(swrQPS, 'g', -1, 64),
		"--swr-burst=" + strconv.Itoa(swrBurst),
		// Sub-second timestamps, to read where a cold start's time goes in a -keep log.
		"--zap-time-encoding=rfc3339nano",
	}
	if b.opts.cpuProfile != "" {
		args = append(args, "--pprof-bind-address="+pprofAddress)
	}
	return args
}

// pprofAddress is where the manager serves /debug/pprof/ with -cpu-profile.
const pprofAddress = "127.0.0.1:6065"

// profileCPU fetches a CPU profile of the next d from the manager's pprof endpoint into path,
// retrying while the manager starts; failures are warnings, not the benchmark's.
func (b *bench) profileCPU(ctx context.Context, path string, d time.Duration) {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddress, int(d.Seconds()))
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			b.warnIf("profiling the manager", err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if time.Now().Before(deadline) {
				select { // the manager is still starting its servers
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
					continue
				}
			}
			b.warnIf("profiling the manager", err)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if err == nil {
			err = os.WriteFile(path, data, 0o644)
		}
		b.warnIf("profiling the manager", err)
		if err == nil {
			b.detail("CPU profile of the manager's first %s: %s", d, path)
		}
		return
	}
}
