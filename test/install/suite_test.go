// Package install_test checks what config/ installs: that config/default renders a complete
// install the kube-apiserver accepts, that its RBAC and Deployment are as tight as the manager
// allows, and that the optional Prometheus, Argo CD and Grafana pieces match it.
package install_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// repoRoot is the repository's root, relative to this package: go test runs in test/install.
var repoRoot = filepath.Join("..", "..")

var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	// rendered is config/default as kustomize renders it; specs must not modify its objects.
	rendered []*unstructured.Unstructured
)

func TestInstall(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	// Eventually(...).WithContext(ctx) ignores the default timeout unless told otherwise: a
	// failing one would then wait for go test's own 10-minute panic.
	EnforceDefaultTimeoutsWhenUsingContexts()
	RunSpecs(t, "Install Suite")
}

var _ = BeforeSuite(func() {
	rendered = render(filepath.Join(repoRoot, "config", "default"))

	// No CRDs here: they come from the render, so the test also proves that config/default
	// installs them.
	testEnv = &envtest.Environment{}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start envtest: run 'make test', which builds the control plane and sets KUBEBUILDER_ASSETS")
	// The apiserver reports PodSecurity violations of Deployments as warnings, not errors; they
	// are collected per request (see withWarnings) so that specs can assert there are none.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = warningCollector{}
	k8sClient, err = client.New(cfg, client.Options{})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// warningsKey is the context key under which withWarnings stores where warnings go.
type warningsKey struct{}

// warnings collects the apiserver's warnings for the requests made with one context.
type warnings struct {
	mu       sync.Mutex
	messages []string
}

// withWarnings returns a context whose requests' warnings are collected in the returned value.
func withWarnings(ctx context.Context) (context.Context, *warnings) {
	w := &warnings{}
	return context.WithValue(ctx, warningsKey{}, w), w
}

// Messages returns the warnings collected so far.
func (w *warnings) Messages() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.messages...)
}

// warningCollector hands each warning to the collector of the request's context, if any.
type warningCollector struct{}

func (warningCollector) HandleWarningHeaderWithContext(ctx context.Context, _ int, _ string, message string) {
	if w, ok := ctx.Value(warningsKey{}).(*warnings); ok {
		w.mu.Lock()
		w.messages = append(w.messages, message)
		w.mu.Unlock()
	}
}
