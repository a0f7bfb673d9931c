package incluster_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// taskQuotaResource is the object-count quota of SyncRepoTasks, which the ResourceQuota
// admission plugin enforces for any resource, custom ones included.
const taskQuotaResource corev1.ResourceName = "count/syncrepotasks.swr.imagesync.io"

// The specs share the control plane and one manager process. They are Ordered so that the last
// one, which reads the manager's whole log, runs after all the others; ContinueOnFailure keeps
// one failure from hiding the rest. Each spec works in a namespace of its own.
var _ = Describe("The operator installed from config/default, with only its shipped RBAC", Ordered, ContinueOnFailure, func() {
	AfterEach(func() {
		// A crashed process would otherwise show as a timeout in every later spec.
		Expect(kubeControllerManager.StillRunning()).To(Succeed())
		Expect(manager.StillRunning()).To(Succeed())
	})

	It("mirrors each policy into a SyncRepoTask that holds it in its status, and reports Ready", func(ctx SpecContext) {
		ns := newNamespace(ctx, "mirror")
		repo, policies := createImageRepository(ctx, ns, "app", 101, 102)

		// Keyed by task name, so that tasks whose status lost the policy id still show apart.
		want := map[string]swrv1.SyncRepoPolicy{}
		for _, p := range policies {
			want[fmt.Sprintf("%s-%d", repo.Name, p.ID)] = swrv1.SyncRepoPolicy(p)
		}
		Eventually(func(g Gomega) map[string]swrv1.SyncRepoPolicy {
			got := map[string]swrv1.SyncRepoPolicy{}
			for _, task := range tasksIn(ctx, ns)(g) {
				got[task.Name] = task.Status.SyncRepoPolicy
			}
			return got
		}).WithContext(ctx).Should(Equal(want), "the tasks' status, by task name")

		live := &swrv1.ImageRepository{}
		Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(repo), live)).To(Succeed())
		for _, task := range tasksIn(ctx, ns)(Default) {
			// What OwnerReferencesPermissionEnforcement checks, and the garbage collector acts on.
			Expect(task.OwnerReferences).To(ConsistOf(And(
				HaveField("Kind", "ImageRepository"), HaveField("UID", live.UID),
				HaveField("Controller", HaveValue(BeTrue())), HaveField("BlockOwnerDeletion", HaveValue(BeTrue())),
			)), "the owner of task %s", task.Name)
			Expect(task.Labels).To(HaveKeyWithValue(swrv1.ImageRepositoryLabel, repo.Name), "task %s", task.Name)
		}
		expectReady(ctx, repo, 2)
	})

	It("writes events.k8s.io Events about the ImageRepository", func(ctx SpecContext) {
		ns := newNamespace(ctx, "events")
		repo, _ := createImageRepository(ctx, ns, "app", 201)
		expectReady(ctx, repo, 1)

		Eventually(func(g Gomega) []string {
			list := &eventsv1.EventList{}
			g.Expect(adminClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "ImageRepository" && e.Regarding.Name == repo.Name {
					g.Expect(e.ReportingController).To(Equal("swr-sync-operator"), "event %s", e.Name)
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}).WithContext(ctx).Should(Equal([]string{swrv1.ReasonSucceeded}), "one event for the first mirror")
	})

	It("has its tasks removed by the garbage collector when the ImageRepository is deleted in the background", func(ctx SpecContext) {
		ns := newNamespace(ctx, "gc-background")
		repo, _ := createImageRepository(ctx, ns, "app", 301, 302)
		Eventually(tasksIn(ctx, ns)).WithContext(ctx).Should(HaveLen(2))

		Expect(adminClient.Delete(ctx, repo, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		Eventually(func() error {
			return adminClient.Get(ctx, client.ObjectKeyFromObject(repo), &swrv1.ImageRepository{})
		}).WithContext(ctx).Should(Satisfy(apierrors.IsNotFound), "the ImageRepository goes at once")
		// Nothing but kube-controller-manager's garbage collector deletes them: the operator
		// forgets a deleted ImageRepository and leaves its tasks to their ownerReferences.
		Eventually(tasksIn(ctx, ns)).WithContext(ctx).Should(BeEmpty())
	})

	It("keeps a foreground-deleted ImageRepository until the garbage collector has removed its tasks", func(ctx SpecContext) {
		ns := newNamespace(ctx, "gc-foreground")
		repo, _ := createImageRepository(ctx, ns, "app", 401, 402, 403)
		Eventually(tasksIn(ctx, ns)).WithContext(ctx).Should(HaveLen(3))
		// A finalizer of the test's own holds one task back, so that "while dependents exist"
		// lasts as long as the spec needs to look instead of the garbage collector's few
		// milliseconds.
		const hold = "incluster-test.swr.imagesync.io/hold"
		held := tasksIn(ctx, ns)(Default)[0].DeepCopy()
		before := held.DeepCopy()
		held.Finalizers = append(held.Finalizers, hold)
		Expect(adminClient.Patch(ctx, held, client.MergeFrom(before))).To(Succeed())

		Expect(adminClient.Delete(ctx, repo, client.PropagationPolicy(metav1.DeletePropagationForeground))).To(Succeed())
		Eventually(func(g Gomega) []string {
			remaining := tasksIn(ctx, ns)(g)
			for _, t := range remaining {
				g.Expect(t.DeletionTimestamp).NotTo(BeNil(), "task %s is being deleted", t.Name)
			}
			return taskNames(remaining)
		}).WithContext(ctx).Should(ConsistOf(held.Name), "the garbage collector deleted every task; only the held one waits for its finalizer")

		ownerKept := func(g Gomega) {
			live := &swrv1.ImageRepository{}
			g.Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(repo), live)).To(Succeed())
			g.Expect(live.DeletionTimestamp).NotTo(BeNil())
			g.Expect(live.Finalizers).To(ContainElement(metav1.FinalizerDeleteDependents))
			// Nor does the operator put tasks back under an ImageRepository being deleted.
			g.Expect(taskNames(tasksIn(ctx, ns)(g))).To(ConsistOf(held.Name))
		}
		Consistently(ownerKept).WithContext(ctx).Should(Succeed(), "the owner stays while a dependent exists")

		before = held.DeepCopy()
		held.Finalizers = nil
		Expect(adminClient.Patch(ctx, held, client.MergeFrom(before))).To(Succeed())
		Eventually(tasksIn(ctx, ns)).WithContext(ctx).Should(BeEmpty())
		Eventually(func() error {
			return adminClient.Get(ctx, client.ObjectKeyFromObject(repo), &swrv1.ImageRepository{})
		}).WithContext(ctx).Should(Satisfy(apierrors.IsNotFound), "the garbage collector removes the owner once its dependents are gone")
	})

	It("holds the leader-election Lease with the shipped Role", func(ctx SpecContext) {
		lease := &coordinationv1.Lease{}
		Eventually(func(g Gomega) *string {
			g.Expect(adminClient.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: leaderElectionLease}, lease)).To(Succeed())
			return lease.Spec.HolderIdentity
		}).WithContext(ctx).Should(HaveValue(Not(BeEmpty())))
	})

	It("serves its metrics to the metrics-reader ClusterRole only", func(ctx SpecContext) {
		ns := newNamespace(ctx, "metrics")
		// A successful poll first, so that the operator's own series exist.
		repo, _ := createImageRepository(ctx, ns, "app", 501)
		expectReady(ctx, repo, 1)

		for _, name := range []string{"scraper", "stranger"} {
			Expect(adminClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
		}
		Expect(adminClient.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "incluster-metrics-scraper-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
		})).To(Succeed())
		scraperToken := serviceAccountToken(ctx, ns, "scraper")
		strangerToken := serviceAccountToken(ctx, ns, "stranger")

		// The endpoint's certificate is self-signed, as Prometheus' insecure_skip_verify expects.
		httpClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a self-signed test endpoint
		}}
		scrape := func(token string) (int, string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, http.NoBody)
			if err != nil {
				return 0, "", err
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				return 0, "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body), err
		}
		type answer struct {
			Status int
			Body   string
		}
		read := func(token string) func(Gomega) answer {
			return func(g Gomega) answer {
				status, body, err := scrape(token)
				g.Expect(err).NotTo(HaveOccurred())
				return answer{status, body}
			}
		}
		// Eventually: the authorizer learns the new binding from an informer.
		Eventually(read(scraperToken)).WithContext(ctx).Should(And(
			HaveField("Status", http.StatusOK), HaveField("Body", ContainSubstring("swr_sync_"))),
			"a ServiceAccount bound to %s", metricsReaderRole)
		Expect(read(strangerToken)(Default)).To(HaveField("Status", http.StatusForbidden), "a ServiceAccount with no binding")
		Expect(read("")(Default)).To(HaveField("Status", http.StatusUnauthorized), "no token")
	})

	It("runs on a control plane that refuses blockOwnerDeletion to whoever may not update the owner's finalizers", func(ctx SpecContext) {
		// The negative control of every task the operator writes: without it the suite would
		// pass just as well on an apiserver that never enforced OwnerReferencesPermissionEnforcement.
		ns := newNamespace(ctx, "admission")
		repo, _ := createImageRepository(ctx, ns, "owner")
		Expect(adminClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "task-writer", Namespace: ns}})).To(Succeed())
		Expect(adminClient.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "task-writer", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{swrv1.GroupVersion.Group}, Resources: []string{"syncrepotasks"}, Verbs: []string{"create"}}},
		})).To(Succeed())
		Expect(adminClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "task-writer", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "task-writer"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "task-writer", Namespace: ns}},
		})).To(Succeed())
		writer, err := client.New(&rest.Config{
			Host:            adminConfig.Host,
			TLSClientConfig: rest.TLSClientConfig{CAData: adminConfig.CAData},
			BearerToken:     serviceAccountToken(ctx, ns, "task-writer"),
		}, client.Options{Scheme: newScheme()})
		Expect(err).NotTo(HaveOccurred())

		live := &swrv1.ImageRepository{}
		Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(repo), live)).To(Succeed())
		ownedTask := func(blockOwnerDeletion bool) *swrv1.SyncRepoTask {
			return &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{
				Name: "by-hand", Namespace: ns,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: swrv1.GroupVersion.String(), Kind: "ImageRepository", Name: live.Name, UID: live.UID,
					BlockOwnerDeletion: ptr.To(blockOwnerDeletion),
				}},
			}}
		}
		// Dry runs go through admission and store nothing. Eventually: the authorizer learns the
		// new RoleBinding from an informer.
		Eventually(func() error {
			return writer.Create(ctx, ownedTask(false), client.DryRunAll)
		}).WithContext(ctx).Should(Succeed(), "the Role lets task-writer create tasks")
		err = writer.Create(ctx, ownedTask(true), client.DryRunAll)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring("cannot set blockOwnerDeletion"))
	})

	It("reports a quota that refuses task writes, and recovers from the listing it has once the quota allows them", func(ctx SpecContext) {
		ns := newNamespace(ctx, "quota")
		quota := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "one-task", Namespace: ns},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{taskQuotaResource: resource.MustParse("1")}},
		}
		Expect(adminClient.Create(ctx, quota)).To(Succeed())
		// Admission enforces a quota only once the quota controller has written its status.
		quotaStatus := func(g Gomega) corev1.ResourceQuotaStatus {
			g.Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(quota), quota)).To(Succeed())
			return quota.Status
		}
		Eventually(quotaStatus).WithContext(ctx).Should(And(
			HaveField("Hard", HaveKeyWithValue(taskQuotaResource, resource.MustParse("1"))),
			HaveField("Used", HaveKeyWithValue(taskQuotaResource, resource.MustParse("0")))))

		repo, _ := createImageRepository(ctx, ns, "app", 601, 602, 603)
		refusedTask := regexp.QuoteMeta(repo.Name+"-602") + "|" + regexp.QuoteMeta(repo.Name+"-603")
		Eventually(conditionOf(ctx, repo, swrv1.ConditionStalled)).WithContext(ctx).Should(And(
			haveStatusAndReason(metav1.ConditionTrue, swrv1.ReasonMirrorFailed),
			HaveField("Message", MatchRegexp(refusedTask)),
			HaveField("Message", ContainSubstring(quota.Name))))
		Expect(conditionOf(ctx, repo, swrv1.ConditionReady)(Default)).To(haveStatusAndReason(metav1.ConditionFalse, swrv1.ReasonMirrorFailed))
		Expect(tasksIn(ctx, ns)(Default)).To(HaveLen(1), "the quota admits one task")

		// The operator retries the writes from the listing it has: SWR answered, and asking it
		// again before the interval (1h) would only load it for the same answer.
		swrRequests := func() int { return swrServer.RequestCount(organization, repo.Spec.Repository) }
		Consistently(swrRequests).WithContext(ctx).WithTimeout(10*time.Second).Should(Equal(1), "SWR listings while the quota refuses tasks")

		before := quota.DeepCopy()
		quota.Spec.Hard[taskQuotaResource] = resource.MustParse("10")
		Expect(adminClient.Patch(ctx, quota, client.MergeFrom(before))).To(Succeed())
		// No restart and no new poll: the retries succeed once admission sees the new limit.
		Eventually(conditionOf(ctx, repo, swrv1.ConditionReady)).WithContext(ctx).WithTimeout(time.Minute).
			Should(haveStatusAndReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
		Expect(tasksIn(ctx, ns)(Default)).To(HaveLen(3))
		live := &swrv1.ImageRepository{}
		Expect(adminClient.Get(ctx, client.ObjectKeyFromObject(repo), live)).To(Succeed())
		Expect(live.Status.Conditions).NotTo(ContainElement(HaveField("Type", swrv1.ConditionStalled)), "Stalled is cleared")
		Expect(swrRequests()).To(Equal(1), "SWR listings in all")
	})

	It("was refused nothing for lack of RBAC", func() {
		// Runs last (the container is Ordered): the manager's log then covers every spec.
		log := manager.Output()
		Expect(log).To(ContainSubstring("starting manager"), "the captured output is the manager's")
		var refused []string
		for _, line := range strings.Split(log, "\n") {
			lower := strings.ToLower(line)
			// The quota spec's refusals are expected; RBAC's say "is forbidden: User ... cannot".
			if strings.Count(lower, "forbidden") > strings.Count(lower, "forbidden: exceeded quota") {
				refused = append(refused, line)
			}
		}
		Expect(refused).To(BeEmpty(), fmt.Sprintf("the manager was refused %d times; the shipped RBAC lacks a rule", len(refused)))
	})
})
