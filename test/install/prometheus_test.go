package install_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// copyToMemory copies the directory dir on disk into a new in-memory file system, at /<base of dir>.
func copyToMemory(dir string) filesys.FileSystem {
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+filepath.Join(filepath.Base(dir), rel), data)
	})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return mem
}

var _ = Describe("config/prometheus", func() {
	var monitor *unstructured.Unstructured

	BeforeEach(func() {
		monitor = theOne(render(filepath.Join(repoRoot, "config", "prometheus")), "monitoring.coreos.com", "ServiceMonitor")
	})

	It("scrapes the metrics Service over HTTPS with Prometheus' token", func() {
		var svc corev1.Service
		into(theOne(rendered, "", "Service"), &svc)

		endpoints, _, err := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		Expect(err).NotTo(HaveOccurred())
		Expect(endpoints).To(HaveLen(1))
		Expect(endpoints[0]).To(And(
			HaveKeyWithValue("port", svc.Spec.Ports[0].Name),
			HaveKeyWithValue("scheme", "https"),
			HaveKeyWithValue("path", "/metrics"),
			HaveKeyWithValue("bearerTokenFile", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
			// The dashboard filters by the metrics' own namespace label (the ImageRepository's).
			HaveKeyWithValue("honorLabels", true),
			HaveKeyWithValue("tlsConfig", HaveKeyWithValue("insecureSkipVerify", true)),
		))

		matchLabels, _, err := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
		Expect(err).NotTo(HaveOccurred())
		Expect(matchLabels).NotTo(BeEmpty())
		for k, v := range matchLabels {
			Expect(svc.Labels).To(HaveKeyWithValue(k, v), "the ServiceMonitor selects the metrics Service")
		}
	})

	It("is left out of config/default, and its commented line there enables it", func() {
		Expect(ofKind(rendered, "monitoring.coreos.com", "ServiceMonitor")).To(BeEmpty(),
			"the ServiceMonitor CRD is not in every cluster")

		mem := copyToMemory(filepath.Join(repoRoot, "config"))
		const kustomization = "/config/default/kustomization.yaml"
		data, err := mem.ReadFile(kustomization)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).To(ContainSubstring("\n#- ../prometheus\n"))
		enabled := strings.Replace(string(data), "\n#- ../prometheus\n", "\n- ../prometheus\n", 1)
		Expect(mem.WriteFile(kustomization, []byte(enabled))).To(Succeed())

		withMonitor := renderFS(mem, "/config/default")
		Expect(withMonitor).To(HaveLen(len(rendered) + 1))
		m := theOne(withMonitor, "monitoring.coreos.com", "ServiceMonitor")
		Expect(m.GetNamespace()).To(Equal(theOne(rendered, "", "Namespace").GetName()))
		Expect(m.GetName()).To(Equal("swr-sync-operator-controller-manager-metrics-monitor"))
	})
})
