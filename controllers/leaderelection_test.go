package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// userAgentsPolling returns the User-Agents of the requests for organization since index from.
func userAgentsPolling(organization string, from int) map[string]int {
	agents := map[string]int{}
	for i, r := range swrServer.Requests() {
		if i >= from && r.Organization == organization {
			agents[r.UserAgent]++
		}
	}
	return agents
}

var _ = Describe("Two managers with leader election", func() {
	It("let only the leader poll SWR, and the other takes over when the leader dies", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		selector := labels.SelectorFromSet(labels.Set{leaderElectionLabel: "true"})
		leaseID := uniqueName("leader-election-test")

		stopA, doneA := startManager(scheme, managerOptions{userAgent: "manager-a", selector: selector, leaderElectionID: leaseID})
		DeferCleanup(func() { stopA(); Eventually(doneA).Should(BeClosed()) })
		stopB, doneB := startManager(scheme, managerOptions{userAgent: "manager-b", selector: selector, leaderElectionID: leaseID})
		DeferCleanup(func() { stopB(); Eventually(doneB).Should(BeClosed()) })

		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
		repo := newImageRepository(ns, org, "app")
		repo.Labels = map[string]string{leaderElectionLabel: "true"}
		repo.Spec.Interval = &metav1.Duration{Duration: time.Second}
		from := len(swrServer.Requests())
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		waitReady(ctx, repo, 1)

		By("several polls, all from one manager")
		Eventually(func() int {
			return userAgentsPolling(org, from)["manager-a"] + userAgentsPolling(org, from)["manager-b"]
		}).
			Should(BeNumerically(">=", 3))
		agents := userAgentsPolling(org, from)
		Expect(agents).To(HaveLen(1), "requests came from %v", agents)
		leader := "manager-a"
		stopLeader, leaderDone, follower := stopA, doneA, "manager-b"
		if agents["manager-b"] > 0 {
			leader, stopLeader, leaderDone, follower = "manager-b", stopB, doneB, "manager-a"
		}

		By("the leader dying without releasing its Lease: " + leader)
		stopLeader()
		// A poll the leader had in flight may still reach SWR until its manager has stopped.
		Eventually(leaderDone).Should(BeClosed())
		from = len(swrServer.Requests())
		// The Lease lasts 2s; the follower retries every 200ms.
		Eventually(func() int { return userAgentsPolling(org, from)[follower] }, "10s").Should(BeNumerically(">", 0))
		Expect(userAgentsPolling(org, from)).NotTo(HaveKey(leader))
	})
})
