package incluster_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// credentialsSecret is the Secret of every spec's namespace holding the SWR test server's token.
const credentialsSecret = "swr-credentials"

// newNamespace creates a namespace of the spec's own, with the SWR credentials Secret in it.
// Namespaces are not deleted afterwards: that takes the namespace controller, which is not
// run, and the control plane goes away with the suite anyway.
func newNamespace(ctx context.Context, prefix string) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "incluster-" + prefix + "-"}}
	Expect(adminClient.Create(ctx, ns)).To(Succeed())
	Expect(adminClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: credentialsSecret, Namespace: ns.Name},
		StringData: map[string]string{"token": swrtest.DefaultToken},
	})).To(Succeed())
	return ns.Name
}

// policiesFor returns policies of the SWR repository with the given ids, every field set (and
// varying where it can) so that a field lost on the way to a task's status shows.
func policiesFor(repository string, ids ...int64) []swr.SyncRepo {
	out := make([]swr.SyncRepo, 0, len(ids))
	for _, id := range ids {
		out = append(out, swr.SyncRepo{
			ID:              id,
			CreatedAt:       fmt.Sprintf("2026-01-02T03:04:%02d.5Z", id%60),
			UpdatedAt:       fmt.Sprintf("2026-02-03T04:05:%02d.25Z", id%60),
			DomainID:        "0a1b2c3d4e5f",
			DomainName:      "acme-cloud",
			Namespace:       organization,
			RepoName:        repository,
			RemoteRegionID:  "cn-north-4",
			RemoteNamespace: fmt.Sprintf("mirror-%d", id),
			Override:        id%2 == 0,
			SyncAuto:        id%2 == 1,
		})
	}
	return out
}

// createImageRepository makes the SWR test server list policies with the given ids for a
// repository named after the namespace (so that no two specs share one), and creates an
// ImageRepository for it polled hourly: within a spec SWR is asked once, unless the operator
// asks again of its own accord.
func createImageRepository(ctx context.Context, namespace, name string, ids ...int64) (*swrv1.ImageRepository, []swr.SyncRepo) {
	repository := namespace
	policies := policiesFor(repository, ids...)
	swrServer.SetPolicies(organization, repository, policies...)
	repo := &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: swrv1.ImageRepositorySpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: organization,
				Endpoint:     swrServer.URL(),
				SecretRef:    swrv1.SecretReference{Name: credentialsSecret},
			},
			Repository: repository,
			Interval:   &metav1.Duration{Duration: time.Hour},
		},
	}
	Expect(adminClient.Create(ctx, repo)).To(Succeed())
	return repo, policies
}

// conditionOf returns a function for Eventually that reads the ImageRepository's condition of
// the given type, failing the attempt while it has none.
func conditionOf(ctx context.Context, repo client.Object, condType string) func(Gomega) metav1.Condition {
	key := client.ObjectKeyFromObject(repo)
	return func(g Gomega) metav1.Condition {
		live := &swrv1.ImageRepository{}
		g.Expect(adminClient.Get(ctx, key, live)).To(Succeed())
		c := meta.FindStatusCondition(live.Status.Conditions, condType)
		g.Expect(c).NotTo(BeNil(), "ImageRepository %s has no %s condition yet", key, condType)
		return *c
	}
}

// haveStatusAndReason matches a condition by status and reason.
func haveStatusAndReason(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(HaveField("Status", status), HaveField("Reason", reason))
}

// expectReady waits until the ImageRepository is Ready=True with reason Succeeded and counts
// the given number of tasks.
func expectReady(ctx context.Context, repo *swrv1.ImageRepository, tasks int) {
	GinkgoHelper()
	Eventually(conditionOf(ctx, repo, swrv1.ConditionReady)).WithContext(ctx).
		Should(haveStatusAndReason(metav1.ConditionTrue, swrv1.ReasonSucceeded), "ImageRepository %s Ready", repo.Name)
	live := &swrv1.ImageRepository{}
	Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(repo), live)).To(Succeed())
	Expect(live.Status.TaskCount).To(BeEquivalentTo(tasks), "status.taskCount of %s", repo.Name)
}

// tasksIn returns a function for Eventually that lists every SyncRepoTask of the namespace,
// whoever made it and however it is labelled.
func tasksIn(ctx context.Context, namespace string) func(Gomega) []swrv1.SyncRepoTask {
	return func(g Gomega) []swrv1.SyncRepoTask {
		list := &swrv1.SyncRepoTaskList{}
		g.Expect(adminClient.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
		return list.Items
	}
}

// taskNames returns the names of tasks, for readable failure messages and set comparisons.
func taskNames(tasks []swrv1.SyncRepoTask) []string {
	names := make([]string, 0, len(tasks))
	for _, t := range tasks {
		names = append(names, t.Name)
	}
	return names
}
