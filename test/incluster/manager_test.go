package incluster_test

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// buildManager starts compiling the manager from main.go into bin and returns a function that
// waits for the build and fails unless it succeeded.
func buildManager(bin string) (wait func()) {
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Start()).To(Succeed())
	return func() {
		Expect(build.Wait()).To(Succeed(), "build the manager from main.go; the compiler's output is above")
	}
}

// startManager runs the manager binary as the install's ServiceAccount, with leader election
// and secure metrics as the Deployment runs it, and returns the process and its metrics URL.
func startManager(ctx context.Context, dir, bin string) (*process, string) {
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
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	token, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, request, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "TokenRequest for ServiceAccount %s/%s", namespace, name)
	Expect(token.Status.Token).NotTo(BeEmpty())
	return token.Status.Token
}

// writeTokenKubeconfig writes a kubeconfig for the control plane that holds only a bearer
// token: no client certificate, no other user, so the token's RBAC is all the holder has.
func writeTokenKubeconfig(path, token string) {
	config := clientcmdapi.NewConfig()
	config.Clusters["incluster"] = &clientcmdapi.Cluster{Server: adminConfig.Host, CertificateAuthorityData: adminConfig.CAData}
	config.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: token}
	config.Contexts["incluster"] = &clientcmdapi.Context{Cluster: "incluster", AuthInfo: "token"}
	config.CurrentContext = "incluster"
	Expect(clientcmd.WriteToFile(*config, path)).To(Succeed())
}

// freePort returns a TCP port on the loopback interface that nothing listens on right now.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
