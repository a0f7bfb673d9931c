package incluster_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

// startProcess starts bin with its output on GinkgoWriter (so that a failed spec shows what the
// process said meanwhile) and registers its killing for the end of the current node: the end of
// the suite when called from BeforeSuite, even if the suite fails.
func startProcess(name, bin string, args ...string) *process.Process {
	p, err := process.Start(name, bin, args, process.Options{Out: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Stop)
	return p
}
