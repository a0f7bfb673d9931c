// Package helm_test proves the Helm chart in dist/chart: rendered with Helm's own SDK (the
// library helm v4.3.2 is built from, as pinned in the Makefile) it lints clean, its schema
// refuses wrong values readably, and with default values it installs what config/default installs,
// under the same names, with the same CRDs, the same RBAC rules and the same hardened pod. Then it
// is installed with helm's install action on a control plane configured like a hardened cluster
// (OwnerReferencesPermissionEnforcement, a real garbage collector and quota controller; see
// internal/devenv/controlplane), and the manager binary runs as the chart's ServiceAccount with
// nothing but that ServiceAccount's token: once with default values, once in the namespace-scoped
// mode, whose manager must be refused every other namespace by RBAC.
package helm_test

import (
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// repoRoot is the repository's root, relative to this package: go test runs in test/helm.
var repoRoot = filepath.Join("..", "..")

// chartDir is the chart under test.
var chartDir = filepath.Join(repoRoot, "dist", "chart")

func TestHelm(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	SetDefaultConsistentlyDuration(2 * time.Second)
	SetDefaultConsistentlyPollingInterval(200 * time.Millisecond)
	// Every Eventually gets the spec's context; without this it would then wait for that
	// context alone, which never ends, instead of the default timeout.
	EnforceDefaultTimeoutsWhenUsingContexts()
	RunSpecs(t, "Helm Chart Suite")
}

// newScheme returns the scheme of the test's clients: the built-in kinds, CRDs and the operator's.
func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(swrv1.AddToScheme(scheme)).To(Succeed())
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	return scheme
}
