package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const (
	// discoveryOrgName is the ImageOrganization of the discovery phase.
	discoveryOrgName = "bench-org"
	// discoveryInterval is the ImageOrganization's spec.interval: long enough that no scheduled
	// discovery falls into the phase, whose rediscovery the requested-at annotation asks for.
	discoveryInterval = 10 * time.Minute
	// workersStartedTimeout bounds the wait for the manager to start its ImageOrganization workers.
	workersStartedTimeout = 60 * time.Second
	// rediscoveryTimeout bounds the wait for the manager to handle the requested-at annotation.
	rediscoveryTimeout = 60 * time.Second
)

// discoveryResult is what the discovery phase measured: one ImageOrganization over repos SWR
// repositories, whose generated ImageRepositories are suspended.
type discoveryResult struct {
	repos int
	// workersAfter is the time from the manager's process start until it started its
	// ImageOrganization workers; the ImageOrganization is created after that.
	workersAfter time.Duration
	// firstPages counts the SWR repository listing requests of the first discovery.
	firstPages int
	// allExist is the time from creating the ImageOrganization until the last of its
	// ImageRepositories was seen; orgReady until its status said Ready for all of them.
	allExist, orgReady time.Duration
	// firstTraffic is the apiserver traffic from creating the ImageOrganization until the manager
	// went quiet (the generated ImageRepositories' own Suspended status patches included).
	firstTraffic discoveryTraffic
	// rediscovery is the time from the requested-at patch until the status showed it handled.
	rediscovery      time.Duration
	rediscoveryPages int
	// rediscoveryTraffic is the apiserver traffic from just before the requested-at patch until
	// the manager went quiet after it, the patch itself included (otherOrgWrites).
	rediscoveryTraffic discoveryTraffic
	// reposChanged counts ImageRepositories whose resourceVersion changed across the rediscovery.
	reposChanged int
	// policyListings counts SWR policy and sync_job listings over the phase: suspended
	// ImageRepositories make none.
	policyListings int
	iamRequests    int
	managerCPU     float64
	peakRSS        int64
}

// discoveryTraffic is a phase's apiserver traffic in the discovery rows' categories.
type discoveryTraffic struct {
	repoCreates, repoPatches, repoDeletes int // ImageRepository writes other than status
	repoStatusWrites                      int // ImageRepository status writes
	orgStatusWrites, otherOrgWrites       int // ImageOrganization writes
	requestTotals
}

// repoWrites is every ImageRepository write other than status: what discovery itself writes.
func (t discoveryTraffic) repoWrites() int { return t.repoCreates + t.repoPatches + t.repoDeletes }

// summarizeDiscovery sorts a snapshot difference into the discovery rows' categories.
func summarizeDiscovery(c requestCounts) discoveryTraffic {
	var t discoveryTraffic
	for k, v := range c {
		n := int(v)
		switch {
		case k.resource == imageRepositories && k.subresource == "status" && isWrite(k.verb):
			t.repoStatusWrites += n
		case k.resource == imageRepositories && k.verb == "POST":
			t.repoCreates += n
		case k.resource == imageRepositories && (k.verb == "DELETE" || k.verb == "DELETECOLLECTION"):
			t.repoDeletes += n
		case k.resource == imageRepositories && isWrite(k.verb):
			t.repoPatches += n
		case k.resource == imageOrganizations && k.subresource == "status" && isWrite(k.verb):
			t.orgStatusWrites += n
		case k.resource == imageOrganizations && isWrite(k.verb):
			t.otherOrgWrites += n
		}
		t.add(k, n)
	}
	return t
}

// discoveryRepositoryName is the i-th SWR repository of the discovery phase (0-based).
func discoveryRepositoryName(i int) string { return fmt.Sprintf("team/svc-%05d", i) }

// discoveryRepositories returns n repositories as SWR lists them, with realistic details so that
// the pages are as large as real ones.
func discoveryRepositories(n int) []swr.Repository {
	repos := make([]swr.Repository, n)
	for i := range repos {
		created := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		repos[i] = swr.Repository{
			Name:      discoveryRepositoryName(i),
			Namespace: organization,
			Category:  "linux",
			NumImages: 3,
			Tags:      []string{"v1.0.0", "v1.1.0", "latest"},
			CreatedAt: created.Format("2006-01-02T15:04:05Z"),
			UpdatedAt: created.Add(36 * time.Hour).Format("2006-01-02T15:04:05Z"),
		}
	}
	return repos
}

// newImageOrganization returns the phase's ImageOrganization: every repository of the
// organization, at endpoint, each generated ImageRepository suspended so that the phase measures
// discovery alone.
func newImageOrganization(endpoint string) *swrv1.ImageOrganization {
	return &swrv1.ImageOrganization{
		ObjectMeta: metav1.ObjectMeta{Name: discoveryOrgName, Namespace: benchNamespace},
		Spec: swrv1.ImageOrganizationSpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: organization,
				Endpoint:     endpoint,
				SecretRef:    swrv1.SecretReference{Name: secretName},
			},
			Interval: &metav1.Duration{Duration: discoveryInterval},
			Template: swrv1.ImageRepositoryTemplate{
				Spec: swrv1.ImageRepositoryTemplateSpec{Suspend: true},
			},
		},
	}
}

// runDiscovery runs the discovery phase on a fresh control plane and SWR simulator: the manager
// starts, an ImageOrganization over b.opts.discoveryRepos repositories is created, and once its
// ImageRepositories exist and the manager is quiet, one rediscovery of the unchanged listing is
// requested with the requested-at annotation.
func (b *bench) runDiscovery(ctx context.Context) (res *discoveryResult, err error) {
	n := b.opts.discoveryRepos
	b.stepf("discovery: one ImageOrganization over %d SWR repositories (generated ImageRepositories suspended; --swr-qps=%g, --swr-burst=%d), on a fresh control plane",
		n, b.opts.swrQPS, b.opts.swrBurst)
	cp, err := startControlPlane(b.root, b.work, "discovery")
	defer func() { b.warnIf("stopping the control plane", cp.stop()) }()
	if err != nil {
		return nil, err
	}
	sim := swrtest.NewServer()
	defer sim.Close()
	sim.AddIAMUser(iamDomain, iamUser, iamPassword)
	sim.SetRepositories(organization, discoveryRepositories(n)...)
	if err := createNamespaceAndSecret(ctx, cp.client, sim.URL()); err != nil {
		return nil, err
	}
	w, stopWatch, err := watchDiscovery(ctx, cp, n)
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	m, err := devenv.StartManager(b.managerBin, b.root, b.work+"/discovery.log", b.managerArgs(cp.kubeconfig, b.opts.swrQPS, b.opts.swrBurst))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(b.log, "--- last lines of the manager log:\n%s\n---\n", managerLogTail(m))
		}
		b.warnIf("stopping the manager", devenv.StopManager(m))
	}()
	res = &discoveryResult{repos: n}
	workersAt, err := waitWorkersStarted(ctx, m, "ImageOrganization", workersStartedTimeout)
	if err != nil {
		return nil, err
	}
	res.workersAfter = workersAt.Sub(m.Started())

	// The first discovery, from the ImageOrganization's creation.
	countsBefore, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	created := time.Now()
	if err := cp.client.Create(ctx, newImageOrganization(sim.URL())); err != nil {
		return nil, fmt.Errorf("creating ImageOrganization %s: %w", discoveryOrgName, err)
	}
	if err := b.waitFor(ctx, m, w.done, b.opts.coldTimeout, "the first discovery", w.summary); err != nil {
		return nil, err
	}
	allExistAt, readyAt := w.times()
	res.allExist, res.orgReady = allExistAt.Sub(created), readyAt.Sub(created)
	res.firstPages = sim.RepositoryListRequestCount(organization)
	b.detailf("%d ImageRepositories exist after %s, ImageOrganization Ready after %s; %d listing pages",
		n, res.allExist.Round(10*time.Millisecond), res.orgReady.Round(10*time.Millisecond), res.firstPages)
	countsSettled, err := b.settle(ctx, cp, m, countsBefore)
	if err != nil {
		return nil, err
	}
	res.firstTraffic = summarizeDiscovery(countsSettled.minus(countsBefore))

	// One rediscovery of the unchanged listing.
	b.stepf("discovery: one rediscovery of the unchanged listing (the %s annotation)", swrv1.RequestedAtAnnotation)
	reposBefore, _, err := resourceVersions(ctx, cp.client)
	if err != nil {
		return nil, err
	}
	pagesBefore := sim.RepositoryListRequestCount(organization)
	countsStart, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	token := time.Now().UTC().Format(time.RFC3339Nano)
	handled := w.expectHandled(token)
	requested := time.Now()
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, swrv1.RequestedAtAnnotation, token)
	org := &swrv1.ImageOrganization{ObjectMeta: metav1.ObjectMeta{Name: discoveryOrgName, Namespace: benchNamespace}}
	if err := cp.client.Patch(ctx, org, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		return nil, fmt.Errorf("annotating ImageOrganization %s: %w", discoveryOrgName, err)
	}
	if err := b.waitFor(ctx, m, handled, rediscoveryTimeout, "the rediscovery", w.summary); err != nil {
		return nil, err
	}
	res.rediscovery = w.handledAt().Sub(requested)
	countsEnd, err := b.settle(ctx, cp, m, countsStart)
	if err != nil {
		return nil, err
	}
	res.rediscoveryTraffic = summarizeDiscovery(countsEnd.minus(countsStart))
	res.rediscoveryPages = sim.RepositoryListRequestCount(organization) - pagesBefore
	reposAfter, _, err := resourceVersions(ctx, cp.client)
	if err != nil {
		return nil, err
	}
	if len(reposAfter) != n {
		return nil, fmt.Errorf("%d ImageRepositories exist after the rediscovery instead of %d", len(reposAfter), n)
	}
	res.reposChanged = changedVersions(reposBefore, reposAfter)
	t := res.rediscoveryTraffic
	b.detailf("rediscovery handled after %s: %d listing pages, %d ImageRepository writes, %d ImageOrganization status patches",
		res.rediscovery.Round(10*time.Millisecond), res.rediscoveryPages, t.repoWrites()+t.repoStatusWrites, t.orgStatusWrites)

	res.policyListings = len(swrRequests(sim.Requests()))
	res.iamRequests = sim.IAMRequestCount()
	if res.managerCPU, res.peakRSS, err = m.Usage(); err != nil {
		return nil, err
	}
	return res, nil
}

// waitWorkersStarted waits until the manager's log says that the controller of kind started its
// workers, which is after its caches synced, and returns when it saw that.
func waitWorkersStarted(ctx context.Context, m *process.Process, kind string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		started, err := logShowsWorkersStarted(m.LogPath(), kind)
		if err != nil {
			return time.Time{}, err
		}
		if started {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("the manager did not log the start of its %s workers within %s", kind, timeout)
		}
		if err := pause(ctx, m, 50*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// logShowsWorkersStarted reports whether the log at path has controller-runtime's "Starting
// workers" line for the controller of kind.
func logShowsWorkersStarted(path, kind string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading the manager log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if isWorkersStartedLine(sc.Text(), kind) {
			return true, nil
		}
	}
	return false, sc.Err()
}

// isWorkersStartedLine reports whether line is controller-runtime's "Starting workers" line for
// the controller of kind, in the JSON or the console encoding.
func isWorkersStartedLine(line, kind string) bool {
	if !strings.Contains(line, "Starting workers") {
		return false
	}
	return strings.Contains(line, `"controllerKind":"`+kind+`"`) || strings.Contains(line, `"controllerKind": "`+kind+`"`)
}

// discoveryWatch follows the ImageRepositories and the ImageOrganization through informers: it
// closes done once want ImageRepositories exist and the ImageOrganization is Ready for its
// generation with repositoryCount want, and the channel expectHandled returns once the status
// shows a requested-at value handled.
type discoveryWatch struct {
	want int
	done chan struct{}

	mu          sync.Mutex
	repos       map[string]bool
	allExistAt  time.Time
	readyAt     time.Time
	orgStatus   string // for progress lines
	handleToken string
	handled     chan struct{}
	handledTime time.Time
}

// watchDiscovery starts informers on the bench namespace's ImageRepositories and
// ImageOrganizations.
func watchDiscovery(ctx context.Context, cp *controlPlane, want int) (*discoveryWatch, func(), error) {
	w := &discoveryWatch{want: want, done: make(chan struct{}), repos: map[string]bool{}, orgStatus: "not created"}
	stop, err := watchBenchNamespace(ctx, cp, "the discovery informers did not sync",
		watchKind(&swrv1.ImageRepository{}, addsOnly, func(repo *swrv1.ImageRepository) { w.observeRepository(repo.Name) }),
		watchKind(&swrv1.ImageOrganization{}, addsAndUpdates, w.observeOrganization))
	if err != nil {
		return nil, nil, err
	}
	return w, stop, nil
}

func (w *discoveryWatch) observeRepository(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.repos[name] = true
	if w.allExistAt.IsZero() && len(w.repos) == w.want {
		w.allExistAt = time.Now()
		w.checkDoneLocked()
	}
}

func (w *discoveryWatch) observeOrganization(org *swrv1.ImageOrganization) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ready := meta.FindStatusCondition(org.Status.Conditions, swrv1.ConditionReady)
	w.orgStatus = fmt.Sprintf("ImageOrganization repositoryCount %d", org.Status.RepositoryCount)
	if ready != nil {
		w.orgStatus += fmt.Sprintf(", Ready %s (%s)", ready.Status, ready.Reason)
	}
	if w.readyAt.IsZero() && ready != nil && ready.Status == metav1.ConditionTrue &&
		org.Status.ObservedGeneration == org.Generation && int(org.Status.RepositoryCount) == w.want {
		w.readyAt = time.Now()
		w.checkDoneLocked()
	}
	if w.handled != nil && w.handledTime.IsZero() && org.Status.LastHandledReconcileAt == w.handleToken {
		w.handledTime = time.Now()
		close(w.handled)
	}
}

func (w *discoveryWatch) checkDoneLocked() {
	if !w.allExistAt.IsZero() && !w.readyAt.IsZero() {
		close(w.done)
	}
}

// times returns when the last ImageRepository appeared and when the ImageOrganization turned
// Ready for all of them.
func (w *discoveryWatch) times() (allExist, ready time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.allExistAt, w.readyAt
}

// expectHandled returns a channel that is closed once the ImageOrganization's
// status.lastHandledReconcileAt is token.
func (w *discoveryWatch) expectHandled(token string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handleToken, w.handled, w.handledTime = token, make(chan struct{}), time.Time{}
	return w.handled
}

// handledAt is when the status showed the expected requested-at value handled.
func (w *discoveryWatch) handledAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handledTime
}

// summary says how far discovery got.
func (w *discoveryWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d of %d ImageRepositories exist; %s", len(w.repos), w.want, w.orgStatus)
}
