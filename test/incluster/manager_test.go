package incluster_test

import (
	"context"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

// buildManager starts compiling the manager from main.go into bin and returns a function that
// waits for the build and fails unless it succeeded. Call both in the node whose ctx it is.
func buildManager(ctx context.Context, bin string) (wait func()) {
	finish, err := controlplane.BuildManager(ctx, repoRoot, bin, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return func() { Expect(finish()).To(Succeed()) }
}

// startManager runs the manager binary as the install's ServiceAccount, with leader election
// and secure metrics as the Deployment runs it, and returns the process and its metrics URL.
func startManager(ctx context.Context, dir, bin string) (*process.Process, string) {
	kubeconfig := filepath.Join(dir, "manager.kubeconfig")
	writeTokenKubeconfig(kubeconfig, serviceAccountToken(ctx, operatorNamespace, operatorServiceAccount))
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort())
	p := startProcess("manager", bin,
		"--kubeconfig="+kubeconfig,
		"--leader-elect",
		// Outside a pod the manager cannot tell its namespace; the Deployment's pod would.
		"--leader-election-namespace="+operatorNamespace,
		// HTTPS with authentication and authorization, the default the Deployment relies on.
		"--metrics-bind-address="+metricsAddr,
		"--health-probe-bind-address=0",
		"--allow-insecure-endpoints", // the SWR test server speaks plain http
		"--min-interval=1s",
	)
	return p, "https://" + metricsAddr + "/metrics"
}

// serviceAccountToken mints a token of the ServiceAccount with the TokenRequest API, as the
// kubelet does for a pod's projected token.
func serviceAccountToken(ctx context.Context, namespace, name string) string {
	token, err := controlplane.ServiceAccountToken(ctx, clientset, namespace, name)
	Expect(err).NotTo(HaveOccurred())
	return token
}

// writeTokenKubeconfig writes a kubeconfig for the control plane that holds only a bearer
// token, so the token's RBAC is all the holder has.
func writeTokenKubeconfig(path, token string) {
	Expect(controlplane.WriteTokenKubeconfig(path, adminConfig, token)).To(Succeed())
}

// freePort returns a TCP port on the loopback interface that nothing listens on right now.
func freePort() int {
	port, err := controlplane.FreePort()
	Expect(err).NotTo(HaveOccurred())
	return port
}
