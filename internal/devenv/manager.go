package devenv

import (
	"time"

	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

// ManagerStopGrace is how long the manager may take to shut down after SIGTERM before it is
// killed. controller-runtime waits for running reconciles, which are short against the
// simulator.
const ManagerStopGrace = 10 * time.Second

// ManagerArgs are the manager's flags for running against the local control plane that
// kubeconfig reaches and the in-process SWR simulator, with minInterval as its floor for
// spec.interval.
func ManagerArgs(kubeconfig string, minInterval time.Duration) []string {
	return []string{
		"--kubeconfig", kubeconfig,
		// The simulator speaks plain http; a real SWR endpoint is always https.
		"--allow-insecure-endpoints",
		// Port 0 disables the servers, so that nothing collides with other listeners on the
		// default ports.
		"--health-probe-bind-address=0",
		"--metrics-bind-address=0",
		"--min-interval=" + minInterval.String(),
	}
}

// StartManager starts the manager binary bin with args in dir, as in a cluster, its output going
// to logPath. Its own process group keeps the terminal's Ctrl-C away from it: the program stops
// it itself (StopManager) before the control plane it talks to, so that its log ends with a
// clean shutdown instead of connection errors.
func StartManager(bin, dir, logPath string, args []string) (*process.Process, error) {
	return process.Start("manager", bin, args, process.Options{Dir: dir, LogPath: logPath, OwnProcessGroup: true})
}

// StopManager asks the manager to shut down with SIGTERM, as the kubelet would, and kills it if
// it is not gone within ManagerStopGrace.
func StopManager(m *process.Process) error {
	return m.Shutdown(ManagerStopGrace)
}
