package controllers_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// repositories returns SWR repositories of organization with the given names.
func repositories(organization string, names ...string) []swr.Repository {
	out := make([]swr.Repository, 0, len(names))
	for _, name := range names {
		out = append(out, swr.Repository{Name: name, Namespace: organization, Category: "other"})
	}
	return out
}

// newImageOrganization returns an ImageOrganization discovering organization on the SWR test
// server every hour, so that only the events under test cause discoveries.
func newImageOrganization(namespace, organization string) *swrv1.ImageOrganization {
	return &swrv1.ImageOrganization{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("team"), Namespace: namespace},
		Spec: swrv1.ImageOrganizationSpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: organization,
				Endpoint:     swrServer.URL(),
				SecretRef:    swrv1.SecretReference{Name: secretName},
			},
			Interval: &metav1.Duration{Duration: time.Hour},
		},
	}
}

func fetchOrg(ctx context.Context, org *swrv1.ImageOrganization) *swrv1.ImageOrganization {
	current := &swrv1.ImageOrganization{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(org), current)).To(Succeed())
	return current
}

func orgReady(ctx context.Context, org *swrv1.ImageOrganization) func() *metav1.Condition {
	return func() *metav1.Condition {
		return meta.FindStatusCondition(fetchOrg(ctx, org).Status.Conditions, swrv1.ConditionReady)
	}
}

// generated lists the ImageRepositories org keeps, by the repository they name.
func generated(ctx context.Context, org *swrv1.ImageOrganization) func() map[string]swrv1.ImageRepository {
	return func() map[string]swrv1.ImageRepository {
		list := &swrv1.ImageRepositoryList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(org.Namespace),
			client.MatchingLabels{swrv1.ImageOrganizationLabel: org.Name})).To(Succeed())
		byRepository := map[string]swrv1.ImageRepository{}
		for _, r := range list.Items {
			byRepository[r.Spec.Repository] = r
		}
		return byRepository
	}
}

func repositoryNames(m map[string]swrv1.ImageRepository) []string {
	var names []string
	for name := range m {
		names = append(names, name)
	}
	return names
}

// imageRepositoryWrites returns how many ImageRepository writes other than status (creates,
// applies, patches, updates, deletes) the apiserver has handled, from its apiserver_request_total
// counter, as the benchmark counts them. Specs run one at a time, and the other specs'
// ImageOrganizations discover once an hour: the difference over a spec's quiet moment is its own.
func imageRepositoryWrites(ctx context.Context) int {
	GinkgoHelper()
	page, err := discovery.NewDiscoveryClientForConfigOrDie(cfg).RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	Expect(err).NotTo(HaveOccurred())
	total := 0
	lines := bufio.NewScanner(bytes.NewReader(page))
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="imagerepositories"`) ||
			!strings.Contains(line, `subresource=""`) {
			continue
		}
		for _, verb := range []string{"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"} {
			if strings.Contains(line, `verb="`+verb+`"`) {
				value, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				Expect(err).NotTo(HaveOccurred(), line)
				total += int(value)
			}
		}
	}
	Expect(lines.Err()).NotTo(HaveOccurred())
	return total
}

// appliedFields returns the fields the field manager of ImageOrganization orgName owns on repo
// by server-side apply, as the apiserver records them (FieldsV1 JSON), or "" when it owns none.
func appliedFields(repo *swrv1.ImageRepository, orgName string) string {
	for _, entry := range repo.ManagedFields {
		if entry.Manager == controllers.ImageOrganizationFieldManager(orgName) &&
			entry.Operation == metav1.ManagedFieldsOperationApply && entry.FieldsV1 != nil {
			return entry.FieldsV1.GetRawString()
		}
	}
	return ""
}

// requestDiscovery sets a new requested-at value on org and waits until it is handled.
func requestDiscovery(ctx context.Context, org *swrv1.ImageOrganization) {
	GinkgoHelper()
	current := fetchOrg(ctx, org)
	patch := client.MergeFrom(current.DeepCopy())
	value := time.Now().Format(time.RFC3339Nano)
	metav1.SetMetaDataAnnotation(&current.ObjectMeta, swrv1.RequestedAtAnnotation, value)
	Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
	Eventually(func() string { return fetchOrg(ctx, org).Status.LastHandledReconcileAt }).Should(Equal(value))
}

var _ = Describe("ImageOrganization discovery", func() {
	var (
		ctx context.Context
		ns  string
		org string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		org = uniqueName("org")
	})

	It("keeps one ImageRepository per repository of exactly its organization, over several pages", func() {
		var names []string
		for i := range 250 {
			names = append(names, "app"+string(rune('a'+i%26))+"/svc-"+uniqueName(""))
		}
		swrServer.SetRepositories(org, repositories(org, names...)...)
		// The namespace filter of the listing matches fuzzily: this organization's name is a part
		// of the other's.
		swrServer.SetRepositories(org+"-other", repositories(org+"-other", "not-mine")...)
		swrServer.SetPolicies(org, names[0], policy(org, names[0], 1, "cn-north-4"))

		o := newImageOrganization(ns, org)
		o.Spec.Template.Metadata.Labels = map[string]string{"team": "platform"}
		o.Spec.Template.Spec.Interval = &metav1.Duration{Duration: 2 * time.Hour}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())

		Eventually(orgReady(ctx, o), "60s").Should(And(
			haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded), HaveField("Message", "250 repositories")))
		Expect(fetchOrg(ctx, o).Status.RepositoryCount).To(BeEquivalentTo(250))
		Expect(swrServer.RepositoryListRequestCount(org)).To(Equal(3), "250 repositories in pages of 100")
		children := generated(ctx, o)()
		Expect(repositoryNames(children)).To(ConsistOf(names))
		child := children[names[0]]
		Expect(child.Name).To(Equal(controllers.ImageRepositoryName(o.Name, names[0])))
		Expect(child.Labels).To(HaveKeyWithValue("team", "platform"))
		Expect(metav1.IsControlledBy(&child, fetchOrg(ctx, o))).To(BeTrue())
		Expect(child.Spec.Organization).To(Equal(org))
		Expect(child.Spec.Endpoint).To(Equal(swrServer.URL()))
		Expect(child.Spec.Interval.Duration).To(Equal(2 * time.Hour))
		// The generated ImageRepositories do their own job.
		Eventually(func() map[string]swrv1.SyncRepoTask { return tasksOf(ctx, &child) }).Should(HaveLen(1))

		By("an unchanged rediscovery writing nothing but the status")
		// Each generated ImageRepository writes its own status at its first poll, then not for
		// two hours: wait for those, so that what is left is what the rediscovery writes.
		Eventually(func() int {
			ready := 0
			for _, c := range generated(ctx, o)() {
				if meta.IsStatusConditionTrue(c.Status.Conditions, swrv1.ConditionReady) {
					ready++
				}
			}
			return ready
		}, "90s").Should(Equal(len(names)))
		quiet := func() map[string]string {
			rvs := map[string]string{}
			for name, c := range generated(ctx, o)() {
				rvs[name] = c.ResourceVersion
			}
			return rvs
		}
		before, orgBefore := quiet(), fetchOrg(ctx, o).ResourceVersion
		// Their status writes moved every resourceVersion past the one the apply returned: not
		// even a no-op apply is sent.
		writes := imageRepositoryWrites(ctx)
		requestDiscovery(ctx, o)
		Consistently(quiet, "2s").Should(Equal(before))
		Expect(imageRepositoryWrites(ctx)).To(Equal(writes), "no ImageRepository write, not even a no-op apply")
		Expect(swrServer.RepositoryListRequestCount(org)).To(Equal(6))
		Expect(fetchOrg(ctx, o).ResourceVersion).NotTo(Equal(orgBefore), "the one status patch")
	})

	It("follows include and exclude, template changes, removed repositories and hand edits", func() {
		swrServer.SetRepositories(org, repositories(org, "library/nginx", "library/redis", "team/app", "a_b", "a-b")...)
		o := newImageOrganization(ns, org)
		o.Spec.Include = []string{"library/*", "a?b"}
		o.Spec.Exclude = []string{"library/redis"}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(func() []string { return repositoryNames(generated(ctx, o)()) }).
			Should(ConsistOf("library/nginx", "a_b", "a-b"))
		children := generated(ctx, o)()
		Expect(children["a_b"].Name).NotTo(Equal(children["a-b"].Name), "a_b and a-b need names of their own")

		By("a template change rolled out")
		current := fetchOrg(ctx, o)
		patch := client.MergeFrom(current.DeepCopy())
		current.Spec.Template.Spec.SyncJobs = &swrv1.SyncJobsSpec{Mode: swrv1.SyncJobsIgnore}
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		Eventually(func() []swrv1.SyncJobsMode {
			var modes []swrv1.SyncJobsMode
			for _, c := range generated(ctx, o)() {
				modes = append(modes, c.Spec.SyncJobs.Mode)
			}
			return modes
		}).Should(HaveEach(swrv1.SyncJobsIgnore))

		By("a hand edit put back")
		edited := generated(ctx, o)()["library/nginx"]
		patchChild := client.MergeFrom(edited.DeepCopy())
		edited.Spec.Suspend = true
		Expect(k8sClient.Patch(ctx, &edited, patchChild)).To(Succeed())
		Eventually(func() bool { return generated(ctx, o)()["library/nginx"].Spec.Suspend }).Should(BeFalse())

		By("a repository removed upstream")
		swrServer.SetRepositories(org, repositories(org, "library/nginx", "library/redis", "team/app", "a-b")...)
		requestDiscovery(ctx, o)
		Eventually(func() []string { return repositoryNames(generated(ctx, o)()) }).Should(ConsistOf("library/nginx", "a-b"))
		Eventually(orgReady(ctx, o)).Should(HaveField("Message", "2 repositories"))
	})

	It("leaves a foreign ImageRepository of a wanted name alone, and says so", func() {
		swrServer.SetRepositories(org, repositories(org, "app", "web", "zeta")...)
		o := newImageOrganization(ns, org)
		foreign := newImageRepository(ns, org, "app")
		foreign.Name = controllers.ImageRepositoryName(o.Name, "app")
		foreign.Spec.Interval = &metav1.Duration{Duration: 3 * time.Hour}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		// One the manager's cache does not hold (outside its label selector): only the
		// apiserver knows it, and an apply must not take it over.
		unseen := newImageRepository(ns, org, "zeta")
		unseen.Name = controllers.ImageRepositoryName(o.Name, "zeta")
		unseen.Labels = map[string]string{leaderElectionLabel: "unseen"}
		unseen.Spec.Interval = &metav1.Duration{Duration: 3 * time.Hour}
		Expect(k8sClient.Create(ctx, unseen)).To(Succeed())

		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(orgReady(ctx, o)).Should(And(
			haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded),
			HaveField("Message", ContainSubstring("this ImageOrganization does not own: "+foreign.Name+", "+unseen.Name))))
		Eventually(func() []string { return repositoryNames(generated(ctx, o)()) }).Should(ConsistOf("web"))
		for _, taken := range []*swrv1.ImageRepository{foreign, unseen} {
			left := fetch(ctx, taken)
			Expect(left.Spec.Interval.Duration).To(Equal(3*time.Hour), "never touched")
			Expect(metav1.GetControllerOf(left)).To(BeNil())
			Expect(left.Labels).NotTo(HaveKey(swrv1.ImageOrganizationLabel))
			Expect(appliedFields(left, o.Name)).To(BeEmpty())
		}
		Eventually(func() []string {
			list := &eventsv1.EventList{}
			Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "ImageOrganization" && e.Regarding.Name == o.Name {
					reasons = append(reasons, e.Type+"/"+e.Reason)
				}
			}
			return reasons
		}).Should(ContainElement("Warning/NameTaken"))
	})

	It("drops from its ImageRepositories what the template stops setting, and keeps what others add", func() {
		swrServer.SetRepositories(org, repositories(org, "app", "web")...)
		o := newImageOrganization(ns, org)
		o.Spec.Template.Metadata.Labels = map[string]string{"team": "platform", "tier": "backend"}
		o.Spec.Template.Metadata.Annotations = map[string]string{"example.com/owner": "platform", "example.com/pager": "on"}
		o.Spec.Template.Spec.Interval = &metav1.Duration{Duration: 2 * time.Hour}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(func(g Gomega) {
			children := generated(ctx, o)()
			g.Expect(children).To(HaveLen(2))
			for _, c := range children {
				g.Expect(c.Labels).To(HaveKeyWithValue("tier", "backend"))
				g.Expect(c.Annotations).To(HaveKeyWithValue("example.com/pager", "on"))
				g.Expect(c.Spec.Interval.Duration).To(Equal(2 * time.Hour))
			}
		}).Should(Succeed())

		By("someone else labelling and annotating a generated ImageRepository")
		app := generated(ctx, o)()["app"]
		patchChild := client.MergeFrom(app.DeepCopy())
		app.Labels["example.com/scanned"] = "yes"
		metav1.SetMetaDataAnnotation(&app.ObjectMeta, "example.com/scanned-at", "today")
		Expect(k8sClient.Patch(ctx, &app, patchChild)).To(Succeed())

		By("the template dropping a label, an annotation and the interval")
		current := fetchOrg(ctx, o)
		patch := client.MergeFrom(current.DeepCopy())
		delete(current.Spec.Template.Metadata.Labels, "tier")
		delete(current.Spec.Template.Metadata.Annotations, "example.com/pager")
		current.Spec.Template.Spec.Interval = nil
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			children := generated(ctx, o)()
			g.Expect(children).To(HaveLen(2))
			for _, c := range children {
				g.Expect(c.Labels).NotTo(HaveKey("tier"))
				g.Expect(c.Labels).To(HaveKeyWithValue("team", "platform"))
				g.Expect(c.Annotations).NotTo(HaveKey("example.com/pager"))
				g.Expect(c.Annotations).To(HaveKeyWithValue("example.com/owner", "platform"))
				g.Expect(c.Spec.Interval.Duration).To(Equal(swrv1.DefaultInterval), "the CRD's default")
			}
			g.Expect(children["app"].Labels).To(HaveKeyWithValue("example.com/scanned", "yes"))
			g.Expect(children["app"].Annotations).To(HaveKeyWithValue("example.com/scanned-at", "today"))
		}).Should(Succeed())
		// The default is the apiserver's: the ImageOrganization does not own it.
		web := generated(ctx, o)()["web"]
		fields := appliedFields(&web, o.Name)
		Expect(fields).To(ContainSubstring(`"f:repository"`))
		Expect(fields).NotTo(ContainSubstring(`"f:interval"`))
	})

	It("puts back hand edits of what it sets, and leaves what the template leaves to its default", func() {
		swrServer.SetRepositories(org, repositories(org, "app")...)
		o := newImageOrganization(ns, org)
		o.Spec.Template.Spec.Interval = &metav1.Duration{Duration: 2 * time.Hour}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(func() []string { return repositoryNames(generated(ctx, o)()) }).Should(ConsistOf("app"))
		app := generated(ctx, o)()["app"]

		By("a hand edit of the interval, the organization label and the timeout")
		patchChild := client.MergeFrom(app.DeepCopy())
		app.Spec.Interval = &metav1.Duration{Duration: 3 * time.Hour}
		app.Spec.Timeout = &metav1.Duration{Duration: time.Minute}
		delete(app.Labels, swrv1.ImageOrganizationLabel)
		Expect(k8sClient.Patch(ctx, &app, patchChild)).To(Succeed())
		Eventually(func(g Gomega) {
			live := fetch(ctx, &app)
			g.Expect(live.Spec.Interval.Duration).To(Equal(2 * time.Hour))
			g.Expect(live.Labels).To(HaveKeyWithValue(swrv1.ImageOrganizationLabel, o.Name))
			g.Expect(appliedFields(live, o.Name)).To(ContainSubstring(`"f:interval"`), "owned by the ImageOrganization again")
		}).Should(Succeed())
		// The template sets no timeout: the ImageOrganization has no opinion on it.
		Consistently(func() time.Duration { return fetch(ctx, &app).Spec.Timeout.Duration }, "2s").Should(Equal(time.Minute))
	})

	It("changes nothing when a page fails, and retries", func() {
		swrServer.SetRepositories(org, repositories(org, "app", "web")...)
		o := newImageOrganization(ns, org)
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(func() []string { return repositoryNames(generated(ctx, o)()) }).Should(ConsistOf("app", "web"))
		before := map[string]string{}
		for name, c := range generated(ctx, o)() {
			before[name] = c.ResourceVersion
		}

		swrServer.SetRepositories(org, repositories(org, "app")...)
		swrServer.SetRepositoryListFault(org, swrtest.Fault{Status: http.StatusServiceUnavailable})
		DeferCleanup(swrServer.ClearRepositoryListFault, org)
		current := fetchOrg(ctx, o)
		patch := client.MergeFrom(current.DeepCopy())
		metav1.SetMetaDataAnnotation(&current.ObjectMeta, swrv1.RequestedAtAnnotation, "now")
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		Eventually(orgReady(ctx, o)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonUpstreamUnavailable))
		Expect(meta.FindStatusCondition(fetchOrg(ctx, o).Status.Conditions, swrv1.ConditionReconciling)).
			To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonRetrying))
		Consistently(func() int { return len(generated(ctx, o)()) }, "2s").Should(Equal(2), "a failed listing deletes nothing")

		swrServer.ClearRepositoryListFault(org)
		Eventually(orgReady(ctx, o)).Should(And(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded), HaveField("Message", "1 repository")))
		Eventually(func() []string { return repositoryNames(generated(ctx, o)()) }).Should(ConsistOf("app"))
	})

	It("is InProgress for kstatus while its first discovery runs, and Current once Ready", func() {
		swrServer.SetRepositories(org, repositories(org, "app")...)
		swrServer.SetRepositoryListFault(org, swrtest.Fault{Hang: true})
		DeferCleanup(swrServer.ClearRepositoryListFault, org)
		o := newImageOrganization(ns, org)
		// Long enough to look at it while the listing hangs; then it fails and is retried.
		o.Spec.Timeout = &metav1.Duration{Duration: 5 * time.Second}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		// While the listing hangs, the status is still the CRD's default: no write before the
		// discovery, and kstatus reads the observedGeneration of -1 as in progress.
		Eventually(func() int { return swrServer.RepositoryListRequestCount(org) }).Should(BeNumerically(">=", 1))
		Expect(fetchOrg(ctx, o).Status).To(And(HaveField("ObservedGeneration", int64(-1)), HaveField("Conditions", BeEmpty())))
		Expect(kstatusOf(ctx, o)()).To(Equal(status.InProgressStatus))

		swrServer.ClearRepositoryListFault(org)
		Eventually(kstatusOf(ctx, o), "30s").Should(Equal(status.CurrentStatus))
		Expect(orgReady(ctx, o)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
	})

	It("discovers at once when its Secret's data is fixed, and not for metadata churn", func() {
		swrServer.SetRepositories(org, repositories(org, "app")...)
		o := newImageOrganization(ns, org)
		o.Spec.SecretRef.Name = "org-credentials"
		secret := createSecret(ctx, ns, "org-credentials", map[string]string{"api-key": "not-a-credential"})
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(orgReady(ctx, o)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonCredentialsInvalid))

		updateSecret(ctx, secret, map[string]string{credentials.TokenKey: swrtest.DefaultToken})
		Eventually(orgReady(ctx, o)).Should(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonSucceeded))
		listings := swrServer.RepositoryListRequestCount(org)

		current := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), current)).To(Succeed())
		patch := client.MergeFrom(current.DeepCopy())
		metav1.SetMetaDataAnnotation(&current.ObjectMeta, "example.com/scanned", "yes")
		Expect(k8sClient.Patch(ctx, current, patch)).To(Succeed())
		Consistently(func() int { return swrServer.RepositoryListRequestCount(org) }, "2s").Should(Equal(listings))
	})

	It("refuses a bad pattern with a readable message", func() {
		swrServer.SetRepositories(org, repositories(org, "app")...)
		o := newImageOrganization(ns, org)
		o.Spec.Include = []string{"library/["}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Eventually(orgReady(ctx, o)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonInvalidRequest),
			HaveField("Message", ContainSubstring(`spec.include[0] "library/[" is not a valid pattern`))))
		Expect(swrServer.RepositoryListRequestCount(org)).To(BeZero())
	})
})
