package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

const (
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
	b.stepf("building the manager: go build -o %s .", b.managerBin)
	if err := controlplane.BuildManagerNow(ctx, b.root, b.managerBin); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	return nil
}

// managerExited describes the manager's unexpected exit.
func managerExited(m *process.Process) error {
	return fmt.Errorf("the manager exited unexpectedly (%w)", m.ExitError())
}

// waitFor waits until done is closed, failing when the manager exits, ctx ends or timeout
// passes; every 15 s it prints summary.
func (b *bench) waitFor(ctx context.Context, m *process.Process, done <-chan struct{}, timeout time.Duration, what string, summary func() string) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-m.Done():
			return managerExited(m)
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%s did not finish within %s: %s", what, timeout, summary())
		case <-progress.C:
			b.detailf("... %s", summary())
		}
	}
}

// pause waits for d, failing early when ctx ends or the manager exits.
func pause(ctx context.Context, m *process.Process, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-m.Done():
		return managerExited(m)
	case <-time.After(d):
		return nil
	}
}

// managerLogTail returns the last lines of the manager's log, for failure reports.
func managerLogTail(m *process.Process) string {
	lines, err := m.LogTail(logTailLines)
	if err != nil {
		return "(cannot read the manager log: " + err.Error() + ")"
	}
	return strings.Join(lines, "\n")
}

// managerArgs are the manager's flags for one run: main.go's defaults, but for the SWR rate
// limit, which the benchmark turns off unless told otherwise (-swr-qps), so that it measures
// the operator and not the limiter. The other flags only point the manager at the local control
// plane and the simulator (devenv.ManagerArgs: --kubeconfig, --allow-insecure-endpoints for the
// simulator's plain http, the probe and metrics servers off, --min-interval=10s, which changes
// nothing for the intervals of 30 s and more that the sizes use) and time its log lines finely.
// -concurrent, -kube-api-qps, -kube-api-burst and -swr-burst reach it only when given.
func (b *bench) managerArgs(kubeconfig string, swrQPS float64, swrBurst int) []string {
	args := append(devenv.ManagerArgs(kubeconfig, managerMinInterval),
		"--swr-qps="+strconv.FormatFloat(swrQPS, 'g', -1, 64),
		// Sub-second timestamps, to read where a cold start's time goes in a -keep log.
		"--zap-time-encoding=rfc3339nano",
	)
	for _, f := range []struct {
		name, value string
	}{
		{"concurrent", strconv.Itoa(b.opts.concurrent)},
		{"kube-api-qps", strconv.FormatFloat(b.opts.kubeAPIQPS, 'g', -1, 64)},
		{"kube-api-burst", strconv.Itoa(b.opts.kubeAPIBurst)},
		{"swr-burst", strconv.Itoa(swrBurst)},
	} {
		if b.opts.set[f.name] {
			args = append(args, "--"+f.name+"="+f.value)
		}
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
	resp, err := getWhileStarting(ctx, url, time.Now().Add(10*time.Second))
	if err != nil || resp == nil {
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
		b.detailf("CPU profile of the manager's first %s: %s", d, path)
	}
}

// getWhileStarting GETs url, retrying until deadline while nothing listens yet: the manager is
// still starting its servers. It returns neither a response nor an error when ctx ends first.
func getWhileStarting(ctx context.Context, url string, deadline time.Time) (*http.Response, error) {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil || !time.Now().Before(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}
