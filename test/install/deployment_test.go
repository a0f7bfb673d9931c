package install_test

import (
	"net"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// flagValue returns the value of --name=value in args, and whether --name is there at all.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if a == "--"+name {
			return "", true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// portNumber resolves a probe's or Service's target port, by number or by the container's port name.
func portNumber(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	Fail("container " + c.Name + " has no port named " + port.StrVal)
	return 0
}

// bindPort returns the port of a --*-bind-address flag's value, e.g. 8081 for ":8081".
func bindPort(c corev1.Container, flag string) string {
	addr, ok := flagValue(c.Args, flag)
	ExpectWithOffset(1, ok).To(BeTrue(), "--%s in %q", flag, c.Args)
	_, port, err := net.SplitHostPort(addr)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "--%s=%s", flag, addr)
	return port
}

var _ = Describe("config/default Deployment", func() {
	var (
		deployment appsv1.Deployment
		pod        corev1.PodSpec
		manager    corev1.Container
	)

	BeforeEach(func() {
		into(theOne(rendered, "apps", "Deployment"), &deployment)
		pod = deployment.Spec.Template.Spec
		Expect(pod.Containers).To(HaveLen(1))
		manager = pod.Containers[0]
		Expect(manager.Name).To(Equal("manager"))
	})

	It("runs as non-root, read-only, without privileges, capabilities or host namespaces", func() {
		Expect(pod.SecurityContext).NotTo(BeNil())
		Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
		Expect(pod.SecurityContext.SeccompProfile).To(HaveValue(HaveField("Type", corev1.SeccompProfileTypeRuntimeDefault)))
		Expect(pod.HostNetwork).To(BeFalse())
		Expect(pod.HostPID).To(BeFalse())
		Expect(pod.HostIPC).To(BeFalse())

		for _, c := range append(pod.InitContainers, pod.Containers...) {
			sc := c.SecurityContext
			Expect(sc).NotTo(BeNil(), c.Name)
			Expect(sc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), c.Name)
			Expect(sc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), c.Name)
			Expect(sc.Privileged).To(Or(BeNil(), HaveValue(BeFalse())), c.Name)
			Expect(sc.RunAsUser).To(Or(BeNil(), HaveValue(BeNumerically(">", 0))), c.Name)
			Expect(sc.Capabilities).NotTo(BeNil(), c.Name)
			Expect(sc.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")), c.Name)
			Expect(sc.Capabilities.Add).To(BeEmpty(), c.Name)
		}
	})

	It("requests and limits CPU and memory", func() {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			request, ok := manager.Resources.Requests[name]
			Expect(ok).To(BeTrue(), "request for %s", name)
			limit, ok := manager.Resources.Limits[name]
			Expect(ok).To(BeTrue(), "limit for %s", name)
			Expect(request.Cmp(limit)).To(BeNumerically("<=", 0), "%s request %s above its limit %s", name, &request, &limit)
		}
	})

	It("gives the Go runtime the container's memory limit in GOMEMLIMIT, in bytes", func() {
		Expect(manager.Resources.Limits).To(HaveKey(corev1.ResourceMemory))
		Expect(manager.Env).To(ContainElement(corev1.EnvVar{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{
			ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "manager", Resource: "limits.memory", Divisor: resource.MustParse("1")},
		}}))
	})

	It("probes /healthz and /readyz where the manager serves them", func() {
		probePort := bindPort(manager, "health-probe-bind-address")
		for path, probe := range map[string]*corev1.Probe{"/healthz": manager.LivenessProbe, "/readyz": manager.ReadinessProbe} {
			Expect(probe).NotTo(BeNil(), path)
			Expect(probe.HTTPGet).NotTo(BeNil(), path)
			Expect(probe.HTTPGet.Path).To(Equal(path))
			Expect(portNumber(manager, probe.HTTPGet.Port)).To(BeEquivalentTo(mustAtoi(probePort)), path)
		}
	})

	It("elects a leader and serves metrics securely on :8443", func() {
		Expect(manager.Args).To(ContainElement("--leader-elect"))
		Expect(manager.Args).To(ContainElement("--metrics-bind-address=:8443"))
		// --metrics-secure defaults to true; plain HTTP must be asked for explicitly.
		Expect(manager.Args).NotTo(ContainElement(HavePrefix("--metrics-secure=")))
		Expect(manager.Ports).To(ContainElement(And(
			HaveField("Name", "https"), HaveField("ContainerPort", BeEquivalentTo(8443)))))
	})

	It("runs under the rendered ServiceAccount with the image kustomize set", func() {
		Expect(pod.ServiceAccountName).To(Equal(theOne(rendered, "", "ServiceAccount").GetName()))
		Expect(manager.Image).NotTo(HavePrefix("controller:"), "config/manager's images: entry was not applied")
		Expect(manager.Command).To(Equal([]string{"/manager"}), "the Dockerfile's binary")
	})

	It("exposes the metrics through a Service that selects the manager's pods", func() {
		var svc corev1.Service
		into(named(rendered, "", "Service", "swr-sync-operator-controller-manager-metrics-service"), &svc)
		Expect(svc.Spec.Selector).NotTo(BeEmpty())
		Expect(labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(deployment.Spec.Template.Labels))).
			To(BeTrue(), "Service selector %v, pod labels %v", svc.Spec.Selector, deployment.Spec.Template.Labels)
		Expect(svc.Spec.Ports).To(HaveLen(1))
		port := svc.Spec.Ports[0]
		Expect(port.Name).To(Equal("https"))
		Expect(port.Port).To(BeEquivalentTo(8443))
		Expect(portNumber(manager, port.TargetPort)).To(BeEquivalentTo(mustAtoi(bindPort(manager, "metrics-bind-address"))))
	})
})
