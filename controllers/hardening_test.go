package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// refuseTaskCreates installs a ValidatingAdmissionPolicy that refuses every SyncRepoTask created
// in namespace, as a quota, a policy engine or a webhook of a real cluster may, and waits until
// the apiserver enforces it. The returned function lifts the refusal.
func refuseTaskCreates(ctx context.Context, namespace string) (lift func()) {
	GinkgoHelper()
	name := "refuse-tasks-" + namespace
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule: admissionregistrationv1.Rule{
							APIGroups: []string{swrv1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"syncrepotasks"},
						},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "false",
				Message:    "no more SyncRepoTasks in this namespace",
				Reason:     ptr.To(metav1.StatusReasonForbidden),
			}},
		},
	}
	Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": namespace}},
			},
		},
	}
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	// The policy takes effect asynchronously: probe with a task of our own until it is refused.
	Eventually(func() error {
		probe := &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: namespace}}
		err := k8sClient.Create(ctx, probe)
		if err == nil {
			Expect(k8sClient.Delete(ctx, probe)).To(Succeed())
		}
		return err
	}).Should(MatchError(ContainSubstring("no more SyncRepoTasks")))
	lift = func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, policy))).To(Succeed())
	}
	DeferCleanup(lift)
	return lift
}

var _ = Describe("A task write the Kubernetes API refuses", func() {
	It("is Stalled MirrorFailed naming the task, is retried from the listing in hand, and recovers once lifted", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))
		kept := resourceVersions(tasksOf(ctx, repo))

		lift := refuseTaskCreates(ctx, ns)
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"), policy(org, "app", 2, "cn-east-3"), policy(org, "app", 3, "ap-southeast-3"))
		polls := swrServer.RequestCount(org, "app")
		requestPoll(ctx, repo)

		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonMirrorFailed),
			HaveField("Message", ContainSubstring("no more SyncRepoTasks")),
			HaveField("Message", MatchRegexp(`SyncRepoTask %s-[23]`, repo.Name)),
			HaveField("Message", ContainSubstring("(and 1 more refused writes)")),
		))
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonMirrorFailed))
		Expect(condition(ctx, repo, swrv1.ConditionReconciling)()).To(BeNil())
		Eventually(eventReasons(ctx, repo)).Should(ContainElement(swrv1.ReasonMirrorFailed))
		// SWR answered: its listing is retried against the apiserver, never asked for again.
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "3s").Should(Equal(polls + 1))
		Expect(resourceVersions(tasksOf(ctx, repo))).To(Equal(kept), "the task that was mirrored is untouched")

		lift()
		waitReady(ctx, repo, 3)
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, repo) }).Should(HaveLen(3))
		Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(BeNil())
		Expect(swrServer.RequestCount(org, "app")).To(Equal(polls+1), "recovered from the listing in hand")
	})
})

var _ = Describe("The operator's own task writes", func() {
	It("write each new task exactly twice (create, status) and are not taken for outside changes", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		var policies []swr.SyncRepo
		for id := range int64(swr.MaxSyncReposPerList - 1) {
			policies = append(policies, policy(org, "app", 100+id, "cn-north-4"))
		}
		swrServer.SetPolicies(org, "app", policies...)

		watchClient, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		watcher, err := watchClient.Watch(ctx, &swrv1.SyncRepoTaskList{}, client.InNamespace(ns))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(watcher.Stop)

		// Every write of every task, in order, as the apiserver saw them. The watch is read as
		// events come: an unread watch backs up, and the apiserver drops a watcher that lags.
		var mu sync.Mutex
		writes := map[string][]watch.EventType{}
		go func() {
			defer GinkgoRecover()
			for e := range watcher.ResultChan() {
				task, ok := e.Object.(*swrv1.SyncRepoTask)
				if !ok {
					// The stream's end when the spec stops it; a watch that broke earlier
					// shows as events missing from the map below.
					continue
				}
				mu.Lock()
				writes[task.Name] = append(writes[task.Name], e.Type)
				mu.Unlock()
			}
		}()
		collect := func() map[string][]watch.EventType {
			mu.Lock()
			defer mu.Unlock()
			copied := make(map[string][]watch.EventType, len(writes))
			for name, types := range writes {
				copied[name] = slices.Clone(types)
			}
			return copied
		}
		repo := newImageRepository(ns, org, "app")
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		waitReady(ctx, repo, len(policies))

		want := map[string][]watch.EventType{}
		for _, p := range policies {
			want[controllers.TaskName(repo.Name, p.ID)] = []watch.EventType{watch.Added, watch.Modified}
		}
		Eventually(collect).Should(Equal(want))
		// The reconciles the status writes trigger see a cache that may lag behind: they must
		// neither write again nor report the operator's own writes as tampering.
		Consistently(collect, "3s").Should(Equal(want))
		for _, line := range strings.Split(logs.String(), "\n") {
			Expect(line).NotTo(And(ContainSubstring("restored sync tasks"), ContainSubstring(ns)))
		}
	})
})

var _ = Describe("Secret events", func() {
	It("poll only when the credential data changed, not for metadata churn", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		org := uniqueName("org")
		repo := mirroredRepository(ctx, ns, org, policy(org, "app", 1, "cn-north-4"))
		polls := swrServer.RequestCount(org, "app")

		By("annotations and labels added by other tools")
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, secret)).To(Succeed())
		for i := range 3 {
			patch := client.MergeFrom(secret.DeepCopy())
			metav1.SetMetaDataAnnotation(&secret.ObjectMeta, "example.com/scanned-at", fmt.Sprint(i))
			metav1.SetMetaDataLabel(&secret.ObjectMeta, "example.com/round", fmt.Sprint(i))
			Expect(k8sClient.Patch(ctx, secret, patch)).To(Succeed())
		}
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "3s").Should(Equal(polls))

		By("the data changed")
		patch := client.MergeFrom(secret.DeepCopy())
		secret.Data["unrelated"] = []byte("x")
		Expect(k8sClient.Patch(ctx, secret, patch)).To(Succeed())
		Eventually(func() int { return swrServer.RequestCount(org, "app") }).Should(Equal(polls + 1))
		Consistently(func() int { return swrServer.RequestCount(org, "app") }, "2s").Should(Equal(polls + 1))
		waitReady(ctx, repo, 1)
	})
})

var _ = Describe("The manager's cache", func() {
	It("holds neither managedFields nor the annotations of Secrets, measured", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		// As `kubectl apply` leaves them: the whole object, data included, in an annotation.
		const secrets = 60
		value := strings.Repeat("s3cr3t-", 2000) // 14 KB of credential-like data each
		for i := range secrets {
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("applied-%d", i), Namespace: ns},
				Data:       map[string][]byte{"password": []byte(value)},
			}
			applied, err := json.Marshal(secret)
			Expect(err).NotTo(HaveOccurred())
			secret.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: string(applied)}
			Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		}

		// A cache built as the manager's is, watching Secret metadata as the reconciler does.
		secretCache, err := cache.New(cfg, cache.Options{
			Scheme:            scheme,
			DefaultTransform:  controllers.StripCachedMetadata,
			DefaultNamespaces: map[string]cache.Config{ns: {}},
		})
		Expect(err).NotTo(HaveOccurred())
		cacheCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		go func() {
			defer GinkgoRecover()
			Expect(secretCache.Start(cacheCtx)).To(Succeed())
		}()
		cached := &metav1.PartialObjectMetadataList{}
		cached.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		Eventually(func() int {
			Expect(secretCache.List(ctx, cached)).To(Succeed())
			return len(cached.Items)
		}).Should(BeNumerically(">=", secrets))

		live := &metav1.PartialObjectMetadataList{}
		live.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		Expect(k8sClient.List(ctx, live, client.InNamespace(ns))).To(Succeed())
		liveBytes, cachedBytes := metadataBytes(live), metadataBytes(cached)
		GinkgoWriter.Printf("%d Secrets: %d bytes of metadata on the apiserver, %d bytes cached\n", len(live.Items), liveBytes, cachedBytes)
		for _, item := range cached.Items {
			Expect(item.Annotations).To(BeEmpty(), "Secret %s", item.Name)
			Expect(item.ManagedFields).To(BeEmpty(), "Secret %s", item.Name)
		}
		Expect(liveBytes).To(BeNumerically(">", secrets*len(value)), "the apiserver's metadata holds the applied data")
		// What is left is names, uids, versions and timestamps: well under a kilobyte each.
		Expect(cachedBytes).To(BeNumerically("<", len(cached.Items)*1024))
	})
})

// metadataBytes is the JSON size of the objects' metadata: what a cache of them keeps, roughly.
func metadataBytes(list *metav1.PartialObjectMetadataList) int {
	n := 0
	for _, item := range list.Items {
		data, err := json.Marshal(item.ObjectMeta)
		Expect(err).NotTo(HaveOccurred())
		n += len(data)
	}
	return n
}
