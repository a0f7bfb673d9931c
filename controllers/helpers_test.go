package controllers_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const secretName = "swr-credentials"

var nameCounter atomic.Int64

// uniqueName returns a name no other spec uses, valid both as an SWR organization and as a
// Kubernetes name.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, nameCounter.Add(1))
}

// newNamespace creates a namespace holding a Secret with the SWR test server's token.
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "swr-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	createTokenSecret(ctx, ns.Name, swrtest.DefaultToken)
	return ns.Name
}

var (
	secretValuesMu sync.Mutex
	// secretValues holds every credential value the suite put in a Secret; AfterSuite checks
	// that none of them reached a log line, an event or a condition.
	secretValues = map[string]bool{}
)

// rememberSecretValues records the secret values of a Secret's data: tokens, passwords, secret
// keys and security tokens (not user names or access key ids, which are not secret).
func rememberSecretValues(data map[string]string) {
	secretValuesMu.Lock()
	defer secretValuesMu.Unlock()
	for _, key := range []string{credentials.TokenKey, credentials.PasswordKey, credentials.SecretKeyKey, credentials.SecurityTokenKey} {
		if v := data[key]; len(v) >= 6 {
			secretValues[v] = true
		}
	}
}

// expectNoSecretLeaked scans the manager's logs, every event and every ImageRepository condition
// in the cluster for the secret values the suite used.
func expectNoSecretLeaked(ctx context.Context) {
	GinkgoHelper()
	events := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, events)).To(Succeed())
	repos := &swrv1.ImageRepositoryList{}
	Expect(k8sClient.List(ctx, repos)).To(Succeed())
	Expect(events.Items).NotTo(BeEmpty())
	Expect(logs.String()).To(ContainSubstring("polling SWR"), "the manager's logs were captured")

	secretValuesMu.Lock()
	defer secretValuesMu.Unlock()
	for value := range secretValues {
		Expect(logs.String()).NotTo(ContainSubstring(value), "a log line shows a secret")
		for _, e := range events.Items {
			Expect(e.Note).NotTo(ContainSubstring(value), "event %s shows a secret", e.Name)
		}
		for _, r := range repos.Items {
			for _, c := range r.Status.Conditions {
				Expect(c.Message).NotTo(ContainSubstring(value), "condition %s of %s shows a secret", c.Type, r.Name)
			}
		}
	}
}

func createTokenSecret(ctx context.Context, namespace, token string) {
	createTokenSecretNamed(ctx, namespace, secretName, token)
}

func createTokenSecretNamed(ctx context.Context, namespace, name, token string) {
	rememberSecretValues(map[string]string{credentials.TokenKey: token})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Data:       map[string][]byte{credentials.TokenKey: []byte(token)},
	}
	Expect(k8sClient.Create(ctx, secret)).To(Succeed())
}

// newImageRepository returns an ImageRepository polling the SWR test server every hour, so that
// only the events under test cause polls.
func newImageRepository(namespace, organization, repository string) *swrv1.ImageRepository {
	return &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("repo"), Namespace: namespace},
		Spec: swrv1.ImageRepositorySpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: organization,
				Endpoint:     swrServer.URL(),
				SecretRef:    swrv1.SecretReference{Name: secretName},
			},
			Repository: repository,
			Interval:   &metav1.Duration{Duration: time.Hour},
		},
	}
}

// policy returns a sync policy of organization/repository with the given id and target.
func policy(organization, repository string, id int64, targetRegion string) swr.SyncRepo {
	return swr.SyncRepo{
		ID:              id,
		CreatedAt:       "2024-01-02T03:04:05.123456Z",
		UpdatedAt:       "2024-01-02T03:04:05.123456Z",
		DomainID:        "domain-id",
		DomainName:      "domain-name",
		Namespace:       organization,
		RepoName:        repository,
		RemoteRegionID:  targetRegion,
		RemoteNamespace: organization + "-mirror",
		Override:        false,
		SyncAuto:        true,
	}
}

// mirroredRepository serves policies for organization/app, creates an ImageRepository for it
// and waits until every policy is mirrored.
func mirroredRepository(ctx context.Context, namespace, organization string, policies ...swr.SyncRepo) *swrv1.ImageRepository {
	GinkgoHelper()
	swrServer.SetPolicies(organization, "app", policies...)
	repo := newImageRepository(namespace, organization, "app")
	Expect(k8sClient.Create(ctx, repo)).To(Succeed())
	waitReady(ctx, repo, len(policies))
	Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveLen(len(policies)))
	return repo
}

func fetch(ctx context.Context, repo *swrv1.ImageRepository) *swrv1.ImageRepository {
	current := &swrv1.ImageRepository{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(repo), current)).To(Succeed())
	return current
}

func condition(ctx context.Context, repo *swrv1.ImageRepository, condType string) func() *metav1.Condition {
	return func() *metav1.Condition {
		return meta.FindStatusCondition(fetch(ctx, repo).Status.Conditions, condType)
	}
}

// haveStatusReason matches a condition with the given status and reason.
func haveStatusReason(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

func waitReady(ctx context.Context, repo *swrv1.ImageRepository, tasks int) {
	GinkgoHelper()
	Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
		haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded),
		HaveField("Message", fmt.Sprintf("%d sync task%s", tasks, map[bool]string{true: "", false: "s"}[tasks == 1])),
	))
}

// tasksOf lists the SyncRepoTasks labelled as belonging to repo, by name.
func tasksOf(ctx context.Context, repo *swrv1.ImageRepository) map[string]swrv1.SyncRepoTask {
	list := &swrv1.SyncRepoTaskList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(repo.Namespace),
		client.MatchingLabels{swrv1.ImageRepositoryLabel: repo.Name})).To(Succeed())
	byName := map[string]swrv1.SyncRepoTask{}
	for _, t := range list.Items {
		byName[t.Name] = t
	}
	return byName
}

func resourceVersions(tasks map[string]swrv1.SyncRepoTask) map[string]string {
	rvs := map[string]string{}
	for name, t := range tasks {
		rvs[name] = t.ResourceVersion
	}
	return rvs
}

var requestCounter atomic.Int64

// requestPoll sets the requested-at annotation to a new value and returns it.
func requestPoll(ctx context.Context, repo *swrv1.ImageRepository) string {
	value := strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + strconv.FormatInt(requestCounter.Add(1), 10)
	current := fetch(ctx, repo)
	patch := client.MergeFrom(current.DeepCopy())
	if current.Annotations == nil {
		current.Annotations = map[string]string{}
	}
	current.Annotations[swrv1.RequestedAtAnnotation] = value
	Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
	return value
}

// pollAndWait requests a poll and waits until the operator has handled it.
func pollAndWait(ctx context.Context, repo *swrv1.ImageRepository) {
	GinkgoHelper()
	value := requestPoll(ctx, repo)
	Eventually(func() string { return fetch(ctx, repo).Status.LastHandledReconcileAt }).Should(Equal(value))
}

// eventsFor lists the events regarding repo, found as `kubectl describe` finds them (see
// describedEvents).
func eventsFor(ctx context.Context, repo *swrv1.ImageRepository) []corev1.Event {
	return describedEvents(ctx, fetch(ctx, repo), "ImageRepository")
}

// describedEvents lists the events of obj, of kind, the way `kubectl describe` does: by the
// involved object's kind, namespace, name and UID. An event recorded on an object without the
// UID the apiserver gave it is not found.
func describedEvents(ctx context.Context, obj client.Object, kind string) []corev1.Event {
	Expect(obj.GetUID()).NotTo(BeEmpty(), "the object as the apiserver holds it")
	list := &corev1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{
		"involvedObject.kind":      kind,
		"involvedObject.namespace": obj.GetNamespace(),
		"involvedObject.name":      obj.GetName(),
		"involvedObject.uid":       string(obj.GetUID()),
	})).To(Succeed())
	return list.Items
}

// eventCount counts the events regarding repo, including repeats the recorder folded into a
// series.
func eventCount(ctx context.Context, repo *swrv1.ImageRepository) int {
	n := 0
	for _, e := range eventsFor(ctx, repo) {
		n++
		if e.Series != nil {
			n += int(e.Series.Count)
		}
	}
	return n
}

func eventReasons(ctx context.Context, repo *swrv1.ImageRepository) func() []string {
	return func() []string {
		var reasons []string
		for _, e := range eventsFor(ctx, repo) {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}
}
