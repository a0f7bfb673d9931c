// Package controlplane starts the local control planes of the demo, the benchmark and the test
// suites: envtest's kube-apiserver and etcd with the operator's CRDs, or configured like a
// hardened cluster, kube-controller-manager's garbage collector and resource quota controllers,
// the manager binary built from main.go, and the kubeconfigs that the manager and other clients
// run with (a cluster administrator's, or nothing but a ServiceAccount's token, so that only that
// ServiceAccount's RBAC is in force). It returns errors instead of failing specs, so that any
// suite and program can use it.
package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

// WithCRDs returns an envtest environment, not yet started, that installs the CRDs of crdDir
// (config/crd/bases) and fails if there are none. It never uses an existing cluster, whatever
// USE_EXISTING_CLUSTER says: nothing started from here may write to the cluster that the user's
// own kubeconfig points at. Start can fail after launching the processes (e.g. while installing
// the CRDs), and Stop is safe on processes that never started: register Stop before Start.
func WithCRDs(crdDir string) *envtest.Environment {
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{crdDir},
		ErrorIfCRDPathMissing: true,
		UseExistingCluster:    ptr.To(false),
	}
}

// NewScheme knows the built-in types and the operator's own.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering the built-in types: %w", err)
	}
	if err := swrv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering the %s types: %w", swrv1.GroupVersion, err)
	}
	return scheme, nil
}

// StartHardened starts etcd and a kube-apiserver that enforce what a hardened cluster does, and
// returns the environment and a system:masters config. Besides the apiserver's default
// admission plugins (ResourceQuota among them) it enforces OwnerReferencesPermissionEnforcement,
// on in OpenShift and many hardened clusters, which refuses an ownerReference with
// blockOwnerDeletion to whoever may not update the owner's finalizers. No CRDs come from
// envtest: the install under test brings them.
func StartHardened() (*envtest.Environment, *rest.Config, error) {
	env := &envtest.Environment{}
	env.ControlPlane.GetAPIServer().Configure().
		Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start envtest (run 'make test', which builds the control plane and sets KUBEBUILDER_ASSETS): %w", err)
	}
	return env, cfg, nil
}

// KubeControllerManagerBinary returns the kube-controller-manager of KUBEBUILDER_ASSETS, which
// `make envtest` builds beside the apiserver.
func KubeControllerManagerBinary() (string, error) {
	bin := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("the garbage collector and quota controllers run in kube-controller-manager, "+
			"which KUBEBUILDER_ASSETS lacks (run make test, which builds it): %w", err)
	}
	return bin, nil
}

// WriteAdminKubeconfig adds a system:masters user named name to the control plane and writes a
// kubeconfig for it to path, for programs that act as a cluster administrator
// (kube-controller-manager, a helm client).
func WriteAdminKubeconfig(env *envtest.Environment, name, path string) error {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("provisioning the kubeconfig user %s: %w", name, err)
	}
	config, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering the kubeconfig of %s: %w", name, err)
	}
	// 0600: the file holds the user's client key.
	if err := os.WriteFile(path, config, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig of %s: %w", name, err)
	}
	return nil
}

// StartKubeControllerManager runs kube-controller-manager's garbage collector and resource quota
// controllers against the control plane, as a cluster administrator. Start it once the CRDs
// exist, so that its monitors cover their kinds from the first discovery instead of 30 seconds
// later. Its output goes to out, each line prefixed with its name.
func StartKubeControllerManager(env *envtest.Environment, dir, bin string, out io.Writer) (*process.Process, error) {
	kubeconfig := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	if err := WriteAdminKubeconfig(env, "devenv-kube-controller-manager", kubeconfig); err != nil {
		return nil, err
	}
	return process.Start("kube-controller-manager", bin, []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=garbagecollector,resourcequota",
		"--leader-elect=false",
		// No serving: nothing scrapes it, and serving would need delegated authentication.
		"--secure-port=0",
		// One client for every controller: per-controller ServiceAccounts need the token
		// controller, which is not run.
		"--use-service-account-credentials=false",
	}, process.Options{Out: out})
}

// BuildManager starts compiling the manager (main.go in repoRoot) into bin, and returns a
// function that waits for the build and reports whether it succeeded. The compiler's output goes
// to out. Cancelling ctx kills the compiler: call wait before ctx ends.
func BuildManager(ctx context.Context, repoRoot, bin string, out io.Writer) (wait func() error, err error) {
	build, err := startBuild(ctx, repoRoot, bin, out)
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := build.Wait(); err != nil {
			return fmt.Errorf("build the manager from main.go (the compiler's output is above): %w", err)
		}
		return nil
	}, nil
}

// BuildManagerNow compiles the manager (main.go in repoRoot) into bin and waits; the error of a
// failed build ends with the compiler's output.
func BuildManagerNow(ctx context.Context, repoRoot, bin string) error {
	var out bytes.Buffer
	build, err := startBuild(ctx, repoRoot, bin, &out)
	if err != nil {
		return err
	}
	if err := build.Wait(); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// startBuild starts go build -o bin in repoRoot, its output going to out.
func startBuild(ctx context.Context, repoRoot, bin string, out io.Writer) (*exec.Cmd, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("the go command is not on PATH: install Go (see go.mod for the version)")
	}
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = out, out
	if err := build.Start(); err != nil {
		return nil, fmt.Errorf("starting go build: %w", err)
	}
	return build, nil
}

// ServiceAccountToken mints a token of the ServiceAccount with the TokenRequest API, as the
// kubelet does for a pod's projected token.
func ServiceAccountToken(ctx context.Context, clientset kubernetes.Interface, namespace, name string) (string, error) {
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	token, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, request, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	if token.Status.Token == "" {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s returned no token", namespace, name)
	}
	return token.Status.Token, nil
}

// WriteTokenKubeconfig writes a kubeconfig for the control plane that cfg reaches, holding only
// a bearer token: no client certificate, no other user, so the token's RBAC is all the holder has.
func WriteTokenKubeconfig(path string, cfg *rest.Config, token string) error {
	config := clientcmdapi.NewConfig()
	config.Clusters["devenv"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	config.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: token}
	config.Contexts["devenv"] = &clientcmdapi.Context{Cluster: "devenv", AuthInfo: "token"}
	config.CurrentContext = "devenv"
	return clientcmd.WriteToFile(*config, path)
}

// TokenConfig returns a rest.Config for the control plane that cfg reaches holding only token.
func TokenConfig(cfg *rest.Config, token string) *rest.Config {
	return &rest.Config{
		Host:            cfg.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData},
		BearerToken:     token,
	}
}

// FreePort returns a TCP port on the loopback interface that nothing listens on right now.
func FreePort() (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return addr.Port, nil
}
