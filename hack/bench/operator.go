package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const (
	// settleQuiet is how long the apiserver must see no request from the manager before the
	// cold start counts as over: after the last ImageRepository turns Ready, the manager still
	// handles the events of its own task writes.
	settleQuiet = 2 * time.Second
	// settleMax bounds that wait.
	settleMax = 30 * time.Second
)

// operatorRun says how to run the manager for one phase.
type operatorRun struct {
	name     string // for progress and file names
	swrQPS   float64
	swrBurst int
	interval time.Duration
	steady   bool // observe one steady-state interval after the cold mirror
	restart  bool // then restart the manager and observe one interval (observeRestart)
}

// operatorResult is what one manager run measured.
type operatorResult struct {
	run operatorRun
	// cold is the time from the manager's process start until every ImageRepository was Ready
	// with all its tasks; firstSWR the time until its first SWR request (start-up and cache sync).
	cold, firstSWR time.Duration
	// coldWrites counts the apiserver writes until every ImageRepository was Ready.
	coldWrites int
	// coldTraffic is the apiserver traffic of the whole cold start, including the requests the
	// manager still made after the last ImageRepository turned Ready, until it went quiet.
	coldTraffic trafficSummary
	// coldRefused describes the refused requests of coldTraffic (see requestCounts.refused).
	coldRefused string
	// coldCPU is the CPU time of apiserver, etcd and manager until every ImageRepository was Ready.
	coldCPU phaseCPU
	coldSWR requestRate
	// iamRequests counts IAM token requests over the whole run.
	iamRequests int
	// peakRSS is the manager's VmHWM at the end of the run, in bytes.
	peakRSS int64
	// managerCPU is the manager's CPU time over the whole run.
	managerCPU float64
	steady     *steadyResult
	restart    *restartResult
}

// requestRate describes the SWR requests of a period.
type requestRate struct {
	requests     int
	span         time.Duration // from the first to the last request
	maxPerSecond int           // the most requests in one 1-second bucket
}

// meanPerSecond is the average rate over span.
func (r requestRate) meanPerSecond() float64 {
	if r.span <= 0 {
		return float64(r.requests)
	}
	return float64(r.requests) / r.span.Seconds()
}

// steadyResult is what one steady-state interval measured.
type steadyResult struct {
	window time.Duration
	// polls is the number of SWR listing requests in the window; polledRepos how many
	// ImageRepositories made at least one, and repeatRepos how many made more than one.
	polls, polledRepos, repeatRepos int
	// maxPerRepo is the most polls one ImageRepository made in the window.
	maxPerRepo int
	// Gaps between one ImageRepository's consecutive polls that ended in the window.
	gaps                    int
	gapMean, gapMin, gapMax time.Duration
	// extraPolls counts gaps shorter than half the interval: polls the schedule did not ask for.
	// (Shorter gaps than 0.9×interval are normal in themselves: lastPollTime is the reconcile's
	// start, in whole seconds, and the SWR rate limit may delay the request after it.)
	extraPolls int
	// maxPerSecond is the most polls in one 1-second bucket of the window.
	maxPerSecond int
	// swr describes every SWR request of the window, both call kinds.
	swr requestRate
	// jobListings is the number of sync_job requests in the window, jobRepos how many
	// ImageRepositories made at least one, and maxJobsPerRepo the most one made: with
	// spec.syncJobs.mode Observe (the default) every poll lists the jobs once after the policies.
	jobListings, jobRepos, maxJobsPerRepo int
	traffic                               trafficSummary
	// Objects whose resourceVersion changed during the window, out of how many.
	reposChanged, repos, tasksChanged, tasks int
	managerCPU                               float64
}

// runOperator runs one manager phase on a fresh control plane and SWR simulator: the cold
// mirror of the workload and, when run.steady, one steady-state interval.
func (b *bench) runOperator(ctx context.Context, s size, run operatorRun) (res *operatorResult, err error) {
	b.stepf("%s %s: cold mirror by the manager (--concurrent=%d, --swr-qps=%g, --swr-burst=%d, %s), on a fresh control plane",
		s, run.name, b.opts.concurrent, run.swrQPS, run.swrBurst, qpsText(b.opts.kubeAPIQPS, b.opts.kubeAPIBurst))
	sim := swrtest.NewServer()
	defer sim.Close()
	seedSimulator(sim, s)
	p, err := b.startPhase(ctx, s, run.name, sim.URL(), run.interval)
	defer b.stopPhase(p)
	if err != nil {
		return nil, err
	}
	cp, repos, ready := p.cp, p.repos, p.ready

	countsBefore, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	cpuBefore := cp.processCPU()
	args := b.managerArgs(cp.kubeconfig, run.swrQPS, run.swrBurst)
	m, err := devenv.StartManager(b.managerBin, b.root, fmt.Sprintf("%s/%s-%s.log", b.work, s, run.name), args)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(b.log, "--- last lines of the manager log:\n%s\n---\n", managerLogTail(m))
		}
		b.warnIf("stopping the manager", devenv.StopManager(m))
	}()

	defer b.profileAPIServer(ctx, cp, s.String()+"-"+run.name)()
	if b.opts.cpuProfile != "" && run.name == "main" {
		profiled := make(chan struct{})
		defer func() { <-profiled }()
		go func() {
			defer close(profiled)
			b.profileCPU(ctx, b.opts.cpuProfile+"."+s.String(), b.opts.cpuProfileFor)
		}()
	}
	res = &operatorResult{run: run}
	if err := b.waitFor(ctx, m, ready.done, b.opts.coldTimeout, "the cold mirror", ready.summary); err != nil {
		return nil, err
	}
	readyAt := ready.doneAt()
	res.cold = readyAt.Sub(m.Started())
	cpuReady := cp.processCPU()
	managerCPUReady, _, err := m.Usage()
	if err != nil {
		return nil, err
	}
	res.coldCPU = phaseCPU{
		apiserver: cpuReady["kube-apiserver"] - cpuBefore["kube-apiserver"],
		etcd:      cpuReady["etcd"] - cpuBefore["etcd"],
		client:    managerCPUReady,
	}
	countsReady, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	res.coldWrites = summarize(countsReady.minus(countsBefore)).writes
	// The SWR rate limit covers both listings, so the cold rate counts both.
	requests := swrRequests(sim.Requests())
	res.coldSWR = rateOf(requests, m.Started(), readyAt)
	if len(requests) > 0 {
		res.firstSWR = requests[0].Time.Sub(m.Started())
	}
	if err := checkMirror(ctx, cp, s, repos); err != nil {
		return nil, err
	}
	b.detailf("every ImageRepository Ready after %s (first SWR request after %s; SWR %d requests, %.1f/s)",
		res.cold.Round(10*time.Millisecond), res.firstSWR.Round(10*time.Millisecond), res.coldSWR.requests, res.coldSWR.meanPerSecond())

	countsSettled, err := b.settle(ctx, cp, m, countsReady)
	if err != nil {
		return nil, err
	}
	res.coldTraffic = summarize(countsSettled.minus(countsBefore))
	res.coldRefused = countsSettled.minus(countsBefore).refused()

	if run.steady {
		if res.steady, err = b.observeSteadyState(ctx, cp, sim, m, s, run.interval, readyAt); err != nil {
			return nil, err
		}
	}
	res.iamRequests = sim.IAMRequestCount()
	if res.managerCPU, res.peakRSS, err = m.Usage(); err != nil {
		return nil, err
	}
	if run.restart {
		if res.restart, err = b.observeRestart(ctx, cp, sim, &m, s, run.interval, args); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// settle waits until the manager has made no apiserver request for settleQuiet (or settleMax
// passed), and returns the request counts at that point.
func (b *bench) settle(ctx context.Context, cp *controlPlane, m *process.Process, last requestCounts) (requestCounts, error) {
	deadline := time.Now().Add(settleMax)
	quietSince := time.Now()
	for {
		if err := pause(ctx, m, 500*time.Millisecond); err != nil {
			return nil, err
		}
		counts, err := cp.requestCounts(ctx)
		if err != nil {
			return nil, err
		}
		diff := summarize(counts.minus(last))
		if diff.writes+diff.gets+diff.lists > 0 {
			quietSince = time.Now()
		}
		last = counts
		if time.Since(quietSince) >= settleQuiet || time.Now().After(deadline) {
			return counts, nil
		}
	}
}

// observeSteadyState records every object's resourceVersion and the apiserver's request counters,
// waits one interval, and compares; it also reads the SWR requests of the window from the
// simulator.
//
// The window starts three quarters of an interval after the cold mirror ended (readyAt): an
// ImageRepository's second poll comes 0.75 to 1.75 intervals after its first, at its slot, and
// every later one exactly one interval after that, so from then on (if the cold mirror took less
// than an interval) each ImageRepository polls exactly once in any window one interval long.
func (b *bench) observeSteadyState(ctx context.Context, cp *controlPlane, sim *swrtest.Server, m *process.Process, s size, interval time.Duration,
	readyAt time.Time) (*steadyResult, error) {
	steadyFrom := readyAt.Add(interval * 3 / 4)
	b.stepf("%s steady state: observing one interval (%s) from %s, 0.75 intervals after the cold mirror", s, interval, steadyFrom.Format(time.TimeOnly))
	if err := pause(ctx, m, time.Until(steadyFrom)); err != nil {
		return nil, err
	}
	first, err := takeSteadySnapshot(ctx, cp, m)
	if err != nil {
		return nil, err
	}
	// The SWR window [start, end] encloses the apiserver counters' window, so that every status
	// patch counted belongs to a poll counted.
	start := first.countsFrom
	if err := pause(ctx, m, time.Until(start.Add(interval))); err != nil {
		return nil, err
	}
	last, err := takeSteadySnapshot(ctx, cp, m)
	if err != nil {
		return nil, err
	}
	end := last.countsTo

	r := &steadyResult{
		window:       end.Sub(start),
		traffic:      summarize(last.counts.minus(first.counts)),
		repos:        len(last.repos),
		tasks:        len(last.tasks),
		managerCPU:   last.managerCPU - first.managerCPU,
		reposChanged: changedVersions(first.repos, last.repos),
		tasksChanged: changedVersions(first.tasks, last.tasks),
	}
	recorded := sim.Requests()
	// The SWR requests are counted in exactly one interval from start: the window as measured
	// ends a little later (reading the counters takes time), and a longer one could hold an
	// ImageRepository's polls at both its ends.
	intervalEnd := start.Add(interval)
	analyzePolls(r, requestsOfKind(recorded, swrtest.RequestKindSyncRepo), start, intervalEnd, interval)
	analyzeJobListings(r, requestsOfKind(recorded, swrtest.RequestKindSyncJob), start, intervalEnd)
	r.swr = rateOf(swrRequests(recorded), start, intervalEnd)
	// The mean rate of a steady state is over the whole window, not between its first and last
	// request.
	r.swr.span = interval
	b.detailf("%d polls from %d ImageRepositories, %d sync_job requests from %d; %d status patches, %d task writes",
		r.polls, r.polledRepos, r.jobListings, r.jobRepos, r.traffic.statusPatches,
		r.traffic.taskCreates+r.traffic.taskCreateFailures+r.traffic.taskOtherWrites)
	return r, nil
}

// steadySnapshot is what the steady state compares at the two ends of its window.
type steadySnapshot struct {
	// countsFrom and countsTo enclose the reading of the apiserver's request counters.
	countsFrom, countsTo time.Time
	counts               requestCounts
	repos, tasks         map[string]string // resourceVersions by name
	managerCPU           float64
}

// takeSteadySnapshot reads the apiserver's request counters, every object's resourceVersion
// and the manager's CPU time, in that order.
func takeSteadySnapshot(ctx context.Context, cp *controlPlane, m *process.Process) (*steadySnapshot, error) {
	snap := &steadySnapshot{countsFrom: time.Now()}
	var err error
	if snap.counts, err = cp.requestCounts(ctx); err != nil {
		return nil, err
	}
	snap.countsTo = time.Now()
	if snap.repos, snap.tasks, err = resourceVersions(ctx, cp.client); err != nil {
		return nil, err
	}
	if snap.managerCPU, _, err = m.Usage(); err != nil {
		return nil, err
	}
	return snap, nil
}

// analyzePolls fills in r's poll figures from every policy listing of the run (sorted by time):
// those in [start, end) and, for each, the gap since the same repository's previous listing.
func analyzePolls(r *steadyResult, requests []swrtest.RecordedRequest, start, end time.Time, interval time.Duration) {
	last := map[string]time.Time{}
	inWindow := map[string]int{}
	buckets := map[int]int{}
	var gapSum time.Duration
	extraBelow := interval / 2
	for _, req := range requests {
		key := req.Organization + "/" + req.Repository
		prev, seen := last[key]
		last[key] = req.Time
		if req.Time.Before(start) || !req.Time.Before(end) {
			continue
		}
		r.polls++
		inWindow[key]++
		buckets[int(req.Time.Sub(start)/time.Second)]++
		if !seen {
			continue
		}
		gap := req.Time.Sub(prev)
		r.gaps++
		gapSum += gap
		if r.gaps == 1 || gap < r.gapMin {
			r.gapMin = gap
		}
		r.gapMax = max(r.gapMax, gap)
		if gap < extraBelow {
			r.extraPolls++
		}
	}
	if r.gaps > 0 {
		r.gapMean = gapSum / time.Duration(r.gaps)
	}
	r.polledRepos = len(inWindow)
	for _, n := range inWindow {
		if n > 1 {
			r.repeatRepos++
		}
		r.maxPerRepo = max(r.maxPerRepo, n)
	}
	for _, n := range buckets {
		r.maxPerSecond = max(r.maxPerSecond, n)
	}
}

// analyzeJobListings fills in r's sync_job figures from the job listings in [start, end).
func analyzeJobListings(r *steadyResult, requests []swrtest.RecordedRequest, start, end time.Time) {
	perRepo := map[string]int{}
	for _, req := range requests {
		if req.Time.Before(start) || !req.Time.Before(end) {
			continue
		}
		r.jobListings++
		perRepo[req.Organization+"/"+req.Repository]++
	}
	r.jobRepos = len(perRepo)
	for _, n := range perRepo {
		r.maxJobsPerRepo = max(r.maxJobsPerRepo, n)
	}
}

// requestsOfKind returns the simulator's recorded requests of one kind (swrtest.RequestKindSyncRepo:
// the policy listings, which are the polls; swrtest.RequestKindSyncJob: the job listings), in
// arrival order.
func requestsOfKind(all []swrtest.RecordedRequest, kind string) []swrtest.RecordedRequest {
	return selectRequests(all, func(r swrtest.RecordedRequest) bool { return r.Kind == kind })
}

// swrRequests returns the SWR API requests among the simulator's recorded requests, policy and
// job listings alike (not IAM's token requests), in arrival order: the manager's SWR rate limit
// counts them all.
func swrRequests(all []swrtest.RecordedRequest) []swrtest.RecordedRequest {
	return selectRequests(all, func(r swrtest.RecordedRequest) bool {
		return r.Kind == swrtest.RequestKindSyncRepo || r.Kind == swrtest.RequestKindSyncJob
	})
}

func selectRequests(all []swrtest.RecordedRequest, keep func(swrtest.RecordedRequest) bool) []swrtest.RecordedRequest {
	var out []swrtest.RecordedRequest
	for _, r := range all {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// rateOf describes the requests that arrived in [from, to].
func rateOf(requests []swrtest.RecordedRequest, from, to time.Time) requestRate {
	var r requestRate
	var first, last time.Time
	buckets := map[int]int{}
	for _, req := range requests {
		if req.Time.Before(from) || req.Time.After(to) {
			continue
		}
		if r.requests == 0 {
			first = req.Time
		}
		last = req.Time
		r.requests++
		buckets[int(req.Time.Sub(from)/time.Second)]++
	}
	r.span = last.Sub(first)
	for _, n := range buckets {
		r.maxPerSecond = max(r.maxPerSecond, n)
	}
	return r
}

// checkMirror verifies that the cold mirror created exactly the workload's tasks, each with the
// status the baseline writes for it, and left every ImageRepository with the Ready and
// ReplicationHealthy conditions the baseline writes: the comparison with the baseline holds only
// if both write the same objects.
func checkMirror(ctx context.Context, cp *controlPlane, s size, repos []*swrv1.ImageRepository) error {
	tasks := &swrv1.SyncRepoTaskList{}
	if err := cp.client.List(ctx, tasks, client.InNamespace(benchNamespace)); err != nil {
		return fmt.Errorf("listing SyncRepoTasks: %w", err)
	}
	if len(tasks.Items) != s.tasks() {
		return fmt.Errorf("every ImageRepository is Ready, but %d SyncRepoTasks exist instead of %d", len(tasks.Items), s.tasks())
	}
	want := map[string]swrv1.SyncRepoTaskStatus{}
	wantConditions := map[string][]metav1.Condition{}
	for i, repo := range repos {
		policies := policiesFor(i, s.policies)
		jobs := jobsFor(i, policies)
		mirrored := make([]*swrv1.SyncRepoTask, 0, len(policies))
		for _, p := range policies {
			task, err := controllers.FirstMirrorTask(repo, p, jobs, time.Time{}, cp.scheme)
			if err != nil {
				return err
			}
			want[task.Name] = withoutRunDetails(task.Status)
			mirrored = append(mirrored, task)
		}
		ready := repo.DeepCopy()
		markReady(ready, mirrored, time.Time{})
		wantConditions[repo.Name] = withoutTimes(ready.Status.Conditions)
	}
	for _, task := range tasks.Items {
		if got := withoutRunDetails(task.Status); !equality.Semantic.DeepEqual(got, want[task.Name]) {
			return fmt.Errorf("SyncRepoTask %s has another status than the baseline writes:\n got %+v\nwant %+v", task.Name, got, want[task.Name])
		}
	}
	mirroredRepos := &swrv1.ImageRepositoryList{}
	if err := cp.client.List(ctx, mirroredRepos, client.InNamespace(benchNamespace)); err != nil {
		return fmt.Errorf("listing ImageRepositories: %w", err)
	}
	for _, repo := range mirroredRepos.Items {
		if got := withoutTimes(repo.Status.Conditions); !equality.Semantic.DeepEqual(got, wantConditions[repo.Name]) {
			return fmt.Errorf("ImageRepository %s has other conditions than the baseline writes:\n got %+v\nwant %+v", repo.Name, got, wantConditions[repo.Name])
		}
	}
	return nil
}

// withoutTimes returns conditions sorted by type, without their transition times.
func withoutTimes(conditions []metav1.Condition) []metav1.Condition {
	out := slices.Clone(conditions)
	for i := range out {
		out[i].LastTransitionTime = metav1.Time{}
	}
	slices.SortFunc(out, func(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) })
	return out
}

// withoutRunDetails returns status without what differs between two runs that write the same thing:
// the conditions' transition times, and an empty list's encoding.
func withoutRunDetails(status swrv1.SyncRepoTaskStatus) swrv1.SyncRepoTaskStatus {
	status = *status.DeepCopy()
	for i := range status.Conditions {
		status.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	if len(status.FailedTags) == 0 {
		status.FailedTags = nil
	}
	return status
}

// resourceVersions returns the resourceVersion of every ImageRepository and SyncRepoTask, by name.
func resourceVersions(ctx context.Context, c client.Client) (repos, tasks map[string]string, err error) {
	repoList := &swrv1.ImageRepositoryList{}
	if err := c.List(ctx, repoList, client.InNamespace(benchNamespace)); err != nil {
		return nil, nil, fmt.Errorf("listing ImageRepositories: %w", err)
	}
	taskList := &swrv1.SyncRepoTaskList{}
	if err := c.List(ctx, taskList, client.InNamespace(benchNamespace)); err != nil {
		return nil, nil, fmt.Errorf("listing SyncRepoTasks: %w", err)
	}
	repos, tasks = map[string]string{}, map[string]string{}
	for _, r := range repoList.Items {
		repos[r.Name] = r.ResourceVersion
	}
	for _, t := range taskList.Items {
		tasks[t.Name] = t.ResourceVersion
	}
	return repos, tasks, nil
}

// changedVersions counts the objects of after that are new or whose resourceVersion differs
// from before, plus the objects of before that are gone.
func changedVersions(before, after map[string]string) int {
	n := 0
	for name, rv := range after {
		if before[name] != rv {
			n++
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			n++
		}
	}
	return n
}

// readiness follows the ImageRepositories through an informer and closes done once every one is
// Ready for its generation with all its tasks mirrored: the status patch that says so comes
// after the mirror's last task write.
type readiness struct {
	want, policies int
	done           chan struct{}

	mu      sync.Mutex
	ready   map[string]bool
	reasons map[string]string // the Ready reason of each ImageRepository, for progress lines
	at      time.Time
}

// watchReadiness starts an informer on the ImageRepositories of the bench namespace. One watch
// costs the apiserver far less than polling lists of thousands of objects would, and it timestamps
// the moment the last ImageRepository turns Ready exactly.
func watchReadiness(ctx context.Context, cp *controlPlane, s size) (*readiness, func(), error) {
	r := &readiness{want: s.repos, policies: s.policies, done: make(chan struct{}),
		ready: map[string]bool{}, reasons: map[string]string{}}
	stop, err := watchBenchNamespace(ctx, cp, "the ImageRepository informer did not sync",
		watchKind(&swrv1.ImageRepository{}, addsAndUpdates, r.observe))
	if err != nil {
		return nil, nil, err
	}
	return r, stop, nil
}

func (r *readiness) observe(repo *swrv1.ImageRepository) {
	ready := meta.IsStatusConditionTrue(repo.Status.Conditions, swrv1.ConditionReady) &&
		repo.Status.ObservedGeneration == repo.Generation &&
		int(repo.Status.TaskCount) == r.policies
	reason := "NotPolledYet"
	if c := meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady); c != nil {
		reason = c.Reason
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready[repo.Name] = ready
	r.reasons[repo.Name] = reason
	if r.at.IsZero() && r.countLocked() == r.want {
		r.at = time.Now()
		close(r.done)
	}
}

func (r *readiness) countLocked() int {
	n := 0
	for _, ok := range r.ready {
		if ok {
			n++
		}
	}
	return n
}

// doneAt is when the last ImageRepository turned Ready.
func (r *readiness) doneAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at
}

// summary says how many are Ready and why the others are not.
func (r *readiness) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	byReason := map[string]int{}
	for name, ok := range r.ready {
		if !ok {
			byReason[r.reasons[name]]++
		}
	}
	byReason["NotSeen"] = r.want - len(r.ready)
	parts := []string{fmt.Sprintf("%d of %d Ready", r.countLocked(), r.want)}
	for _, reason := range slices.Sorted(maps.Keys(byReason)) {
		if byReason[reason] > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", reason, byReason[reason]))
		}
	}
	return strings.Join(parts, ", ")
}

// watchSyncRepoTasks watches the SyncRepoTasks of the bench namespace, whole, as the manager's
// cache does, and returns the function that stops it.
func watchSyncRepoTasks(ctx context.Context, cp *controlPlane) (func(), error) {
	return watchBenchNamespace(ctx, cp, "the SyncRepoTask informer did not sync",
		watchKind(&swrv1.SyncRepoTask{}, addsOnly, nil))
}

// Which events watchKind passes on.
const (
	addsOnly       = false
	addsAndUpdates = true
)

// kindWatch creates one informer in an informer cache that is not started yet.
type kindWatch func(ctx context.Context, c cache.Cache) error

// watchKind is the informer of obj's kind; it hands handle every object it adds and, with
// addsAndUpdates, every updated one. A nil handle only creates the informer.
func watchKind[T client.Object](obj T, updates bool, handle func(T)) kindWatch {
	return func(ctx context.Context, c cache.Cache) error {
		kind := fmt.Sprintf("%T", obj)
		informer, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("creating the %s informer: %w", kind, err)
		}
		if handle == nil {
			return nil
		}
		pass := func(o any) {
			if typed, ok := o.(T); ok {
				handle(typed)
			}
		}
		handlers := toolscache.ResourceEventHandlerFuncs{AddFunc: pass}
		if updates {
			handlers.UpdateFunc = func(_, o any) { pass(o) }
		}
		if _, err := informer.AddEventHandler(handlers); err != nil {
			return fmt.Errorf("watching %s: %w", kind, err)
		}
		return nil
	}
}

// watchBenchNamespace starts an informer cache of the bench namespace with the informers of
// watches and waits until they have synced; what names them in the error. The returned function
// stops the cache and waits until it has.
func watchBenchNamespace(ctx context.Context, cp *controlPlane, what string, watches ...kindWatch) (stop func(), err error) {
	c, err := cache.New(cp.cfg, cache.Options{Scheme: cp.scheme, DefaultNamespaces: map[string]cache.Config{benchNamespace: {}}})
	if err != nil {
		return nil, fmt.Errorf("creating an informer cache: %w", err)
	}
	for _, watch := range watches {
		if err := watch(ctx, c); err != nil {
			return nil, err
		}
	}
	cacheCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = c.Start(cacheCtx) // returns when cacheCtx ends; sync failures show below
	}()
	stop = func() { cancel(); <-stopped }
	if !c.WaitForCacheSync(ctx) {
		stop()
		return nil, errors.Join(errors.New(what), ctx.Err())
	}
	return stop, nil
}
