package main

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

func TestParseRequestCounts(t *testing.T) {
	page := []byte(`# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="swr.imagesync.io",resource="syncrepotasks",scope="resource",subresource="",verb="POST",version="v1alpha1"} 40
apiserver_request_total{code="409",component="apiserver",dry_run="",group="swr.imagesync.io",resource="syncrepotasks",scope="resource",subresource="",verb="POST",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="swr.imagesync.io",resource="imagerepositories",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 8
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 4
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 9
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 8
apiserver_request_duration_seconds_bucket{verb="POST",le="0.1"} 12
`)
	before, err := parseRequestCounts(page)
	if err != nil {
		t.Fatal(err)
	}
	after := requestCounts{}
	for k, v := range before {
		after[k] = 2 * v
	}
	got := summarize(after.minus(before))
	want := trafficSummary{taskCreates: 40, taskCreateFailures: 2, statusPatches: 8,
		requestTotals: requestTotals{gets: 4, secretGets: 4, events: 8, writes: 58, refused: 2}}
	if got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
	if _, err := parseRequestCounts([]byte(`apiserver_request_total{verb="POST} 1`)); err == nil {
		t.Error("unterminated label value accepted")
	}
}

// TestOperatorResourcesLeaveTheAPIServersOwnRequestsOut keeps what the manager can request and
// drops what the apiserver requests of itself on its timers.
func TestOperatorResourcesLeaveTheAPIServersOwnRequestsOut(t *testing.T) {
	counts := requestCounts{
		{verb: "POST", resource: syncRepoTasks, code: "201"}:                                                 1,
		{verb: "PATCH", resource: imageRepositories, subresource: "status"}:                                  2,
		{verb: "GET", resource: schema.GroupResource{Resource: "secrets"}}:                                   3,
		{verb: "POST", resource: schema.GroupResource{Group: "events.k8s.io", Resource: "events"}}:           4,
		{verb: "GET", resource: schema.GroupResource{Resource: "endpoints"}}:                                 5,
		{verb: "GET", resource: schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}}: 6,
		{verb: "PUT", resource: schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}}:      7,
		{verb: "GET", resource: schema.GroupResource{Group: "example.com", Resource: "secrets"}}:             8,
	}
	got := summarize(counts.of(operatorResources))
	want := trafficSummary{taskCreates: 1, statusPatches: 2,
		requestTotals: requestTotals{gets: 3, secretGets: 3, events: 4, writes: 7}}
	if got != want {
		t.Errorf("the operator's traffic %+v, want %+v", got, want)
	}
}

func TestParseRequestCountsLabelEscapes(t *testing.T) {
	page := []byte(`apiserver_request_total{verb="x,y",group="say \"hi\"",resource="back\\slash"} 3
apiserver_request_total_other{verb="GET"} 7
# HELP apiserver_request_total_other another family, dropped
`)
	counts, err := parseRequestCounts(page)
	if err != nil {
		t.Fatal(err)
	}
	want := requestCounts{{verb: "x,y", resource: schema.GroupResource{Group: `say "hi"`, Resource: `back\slash`}}: 3}
	if !maps.Equal(counts, want) {
		t.Errorf("got %v, want %v", counts, want)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []size{{1000, 5}, {200, 50}}; !slices.Equal(o.sizes, want) {
		t.Errorf("default sizes %v, want %v", o.sizes, want)
	}
	if o.discoveryRepos != 1000 {
		t.Errorf("default -discovery-repos %d, want 1000", o.discoveryRepos)
	}
	if o, err = parseFlags([]string{"-repos", "50"}); err != nil || !slices.Equal(o.sizes, []size{{50, 5}}) {
		t.Errorf("-repos 50: %v, %v", o.sizes, err)
	}
	if o, err = parseFlags([]string{"-sizes="}); err != nil || len(o.sizes) != 0 || o.discoveryRepos != 1000 {
		t.Errorf("-sizes=: %v, %v; want the discovery phase alone", o, err)
	}
	if o, err = parseFlags([]string{"-discovery-repos", "0"}); err != nil || o.discoveryRepos != 0 || len(o.sizes) != 2 {
		t.Errorf("-discovery-repos 0: %v, %v; want the sizes alone", o, err)
	}
	for _, args := range [][]string{
		{"-sizes", "1000"}, {"-sizes", "10x0"}, {"-sizes", "10x100"}, {"-interval", "5s"},
		{"-concurrent", "0"}, {"-kube-api-qps", "0"}, {"extra"},
		{"-discovery-repos", "-1"}, {"-discovery-repos", "100001"}, {"-sizes=", "-discovery-repos", "0"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestIntervalFor(t *testing.T) {
	o := &options{interval: time.Minute, swrQPS: 10}
	if got, why := o.intervalFor(size{200, 50}); got != time.Minute || why != "" {
		t.Errorf("200 repos at 10 qps: %s %q, want the flag's 1m", got, why)
	}
	// 1000 polls of 2 requests (policies and sync jobs) need 250s at 80% of 10/s.
	if got, why := o.intervalFor(size{1000, 5}); got != 260*time.Second || why == "" {
		t.Errorf("1000 repos at 10 qps: %s %q, want 4m20s with a reason", got, why)
	}
	// 240 polls need 60s: just within the flag's minute.
	if got, why := o.intervalFor(size{240, 5}); got != time.Minute || why != "" {
		t.Errorf("240 repos at 10 qps: %s %q, want the flag's 1m", got, why)
	}
	o.swrQPS = 0
	if got, _ := o.intervalFor(size{1000, 5}); got != time.Minute {
		t.Errorf("no SWR limit: %s, want 1m", got)
	}
}

func TestAnalyzePolls(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(repo string, sec float64) swrtest.RecordedRequest {
		return swrtest.RecordedRequest{Organization: "o", Repository: repo, Time: t0.Add(time.Duration(sec * float64(time.Second)))}
	}
	requests := []swrtest.RecordedRequest{
		at("a", 0), at("b", 1), at("c", 2), // cold polls, before the window
		at("a", 60), at("b", 61.5), // one poll each in the window
		at("c", 62), at("c", 70), // c polls twice: 8s apart is an extra poll
	}
	r := &steadyResult{}
	analyzePolls(r, requests, t0.Add(50*time.Second), t0.Add(110*time.Second), time.Minute)
	if r.polls != 4 || r.polledRepos != 3 || r.repeatRepos != 1 || r.maxPerRepo != 2 || r.gaps != 4 || r.extraPolls != 1 {
		t.Errorf("got %+v", r)
	}
	if r.gapMin != 8*time.Second || r.gapMax != 60500*time.Millisecond {
		t.Errorf("gap min %s max %s", r.gapMin, r.gapMax)
	}
	// Buckets from the window start: 10s (a), 11s (b), 12s (c), 20s (c).
	if r.maxPerSecond != 1 {
		t.Errorf("maxPerSecond %d, want 1", r.maxPerSecond)
	}

	rate := rateOf(requests, t0, t0.Add(3*time.Second))
	if rate.requests != 3 || rate.span != 2*time.Second || rate.maxPerSecond != 1 || rate.meanPerSecond() != 1.5 {
		t.Errorf("cold rate %+v", rate)
	}
}

func TestRequestKinds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := func(kind, repo string, sec int) swrtest.RecordedRequest {
		r := swrtest.RecordedRequest{Kind: kind, Time: t0.Add(time.Duration(sec) * time.Second)}
		if kind != swrtest.RequestKindIAMToken {
			r.Organization, r.Repository = "o", repo
		}
		return r
	}
	// Arrival order is not recording order: the simulator records from concurrent handlers.
	all := []swrtest.RecordedRequest{
		req(swrtest.RequestKindIAMToken, "", 0),
		req(swrtest.RequestKindSyncJob, "a", 2), req(swrtest.RequestKindSyncRepo, "a", 1),
		req(swrtest.RequestKindSyncRepo, "b", 3), req(swrtest.RequestKindSyncJob, "b", 4),
		req(swrtest.RequestKindSyncRepo, "a", 61), req(swrtest.RequestKindSyncJob, "a", 62),
		req("", "x", 5), // a path the simulator does not know
	}
	polls := requestsOfKind(all, swrtest.RequestKindSyncRepo)
	if len(polls) != 3 || polls[0].Repository != "a" || polls[0].Time != t0.Add(time.Second) {
		t.Errorf("polls %+v", polls)
	}
	if got := swrRequests(all); len(got) != 6 || got[0].Kind != swrtest.RequestKindSyncRepo || got[1].Kind != swrtest.RequestKindSyncJob {
		t.Errorf("SWR requests %+v, want the 6 listings in arrival order", got)
	}

	r := &steadyResult{}
	analyzePolls(r, polls, t0, t0.Add(120*time.Second), time.Minute)
	analyzeJobListings(r, requestsOfKind(all, swrtest.RequestKindSyncJob), t0.Add(3*time.Second), t0.Add(120*time.Second))
	if r.polls != 3 || r.maxPerRepo != 2 {
		t.Errorf("polls %d (max per repo %d), want 3 (2): job listings are not polls", r.polls, r.maxPerRepo)
	}
	if r.jobListings != 2 || r.jobRepos != 2 || r.maxJobsPerRepo != 1 {
		t.Errorf("job listings %d from %d repos (max %d), want 2 from 2 (1)", r.jobListings, r.jobRepos, r.maxJobsPerRepo)
	}
}

func TestJobsFor(t *testing.T) {
	for _, m := range []int{1, 3, 5, 50, 99} {
		policies := policiesFor(3, m)
		jobs := jobsFor(3, policies)
		if len(jobs) != swrv1.DefaultSyncJobsLimit {
			t.Fatalf("%d policies: %d jobs, want a page of %d", m, len(jobs), swrv1.DefaultSyncJobsLimit)
		}
		ids := map[int64]bool{}
		perTarget := map[string]int{}
		for k, job := range jobs {
			if ids[job.ID] {
				t.Errorf("%d policies: job id %d twice", m, job.ID)
			}
			ids[job.ID] = true
			perTarget[job.RemoteRegionID+"/"+job.RemoteNamespace]++
			created, err := time.Parse(time.RFC3339Nano, job.CreatedAt)
			if err != nil {
				t.Fatalf("job %d createdAt %q: %v", k, job.CreatedAt, err)
			}
			if updated, err := time.Parse(time.RFC3339Nano, job.UpdatedAt); err != nil || !updated.After(created) {
				t.Errorf("job %d updatedAt %q not after createdAt %q (%v)", k, job.UpdatedAt, job.CreatedAt, err)
			}
			if k > 0 {
				if prev, _ := time.Parse(time.RFC3339Nano, jobs[k-1].CreatedAt); !prev.After(created) || jobs[k-1].ID <= job.ID {
					t.Errorf("%d policies: job %d is not older than job %d", m, k, k-1)
				}
			}
		}
		if len(perTarget) != m {
			t.Errorf("%d policies: jobs to %d targets, want every policy's", m, len(perTarget))
		}
	}
	// Targets are unique within a repository, as SWR's are.
	targets := map[string]bool{}
	for _, p := range policiesFor(0, 99) {
		targets[p.RemoteRegionID+"/"+p.RemoteNamespace] = true
	}
	if len(targets) != 99 {
		t.Errorf("99 policies have %d distinct targets", len(targets))
	}
}

// TestWorkloadReplication checks that the tasks the jobs give carry realistic replication states,
// a tenth of them failed, and that the baseline's ImageRepository status says so.
func TestWorkloadReplication(t *testing.T) {
	scheme, err := controlplane.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	const repos, m = 20, 5
	reasons := map[string]int{}
	unhealthy := 0
	for i := range repos {
		repo := newImageRepository(i, "http://127.0.0.1:9", time.Minute)
		repo.UID, repo.Generation = "uid", 1
		policies := policiesFor(i, m)
		jobs := jobsFor(i, policies)
		var tasks []*swrv1.SyncRepoTask
		for _, p := range policies {
			task, err := controllers.FirstMirrorTask(repo, p, jobs, time.Now(), scheme)
			if err != nil {
				t.Fatal(err)
			}
			replicated := meta.FindStatusCondition(task.Status.Conditions, swrv1.ConditionReplicated)
			if replicated == nil || task.Status.LastSyncJob == nil {
				t.Fatalf("task %s has no replication state: %+v", task.Name, task.Status)
			}
			reasons[replicated.Reason]++
			if replicated.Status == metav1.ConditionFalse && len(task.Status.FailedTags) != 2 {
				t.Errorf("failed task %s has failedTags %v, want the failed and the timed-out tag", task.Name, task.Status.FailedTags)
			}
			tasks = append(tasks, task)
		}
		markReady(repo, tasks, time.Now())
		health := meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReplicationHealthy)
		ready := meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.Message != "5 sync tasks" || health == nil {
			t.Fatalf("ImageRepository %s conditions %+v", repo.Name, repo.Status.Conditions)
		}
		if health.Status == metav1.ConditionFalse {
			unhealthy++
			if !strings.HasPrefix(health.Message, "1 of 5 sync tasks failing: "+repo.Name) {
				t.Errorf("ReplicationHealthy message %q", health.Message)
			}
		}
	}
	if reasons[swrv1.ReasonSyncFailed] != repos*m/failingTaskEvery || reasons[swrv1.ReasonSucceeded] == 0 || reasons[swrv1.ReasonSyncInProgress] == 0 {
		t.Errorf("Replicated reasons %v: want a tenth SyncFailed, some SyncInProgress, the rest Succeeded", reasons)
	}
	if unhealthy == 0 || unhealthy == repos {
		t.Errorf("%d of %d ImageRepositories unhealthy, want some", unhealthy, repos)
	}
}

func TestChangedVersions(t *testing.T) {
	before := map[string]string{"a": "1", "b": "2", "gone": "3"}
	after := map[string]string{"a": "1", "b": "5", "new": "6"}
	if got := changedVersions(before, after); got != 3 {
		t.Errorf("got %d, want 3 (b changed, gone deleted, new created)", got)
	}
}

func TestForEach(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	err := forEach(context.Background(), 100, 7, func(_ context.Context, i int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[i] = true
		return nil
	})
	if err != nil || len(seen) != 100 {
		t.Fatalf("handled %d of 100 indices, err %v", len(seen), err)
	}

	boom := errors.New("boom")
	calls := 0
	err = forEach(context.Background(), 1000, 1, func(_ context.Context, i int) error {
		calls++
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 4 {
		t.Errorf("after an error: err %v after %d calls, want boom after 4", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := forEach(ctx, 10, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestSummarizeDiscovery(t *testing.T) {
	key := func(verb, resource, subresource string) requestKey {
		return requestKey{verb: verb, resource: schema.GroupResource{Group: "swr.imagesync.io", Resource: resource}, subresource: subresource, code: "200"}
	}
	c := requestCounts{
		key("POST", "imagerepositories", ""):                                                       1000,
		key("PATCH", "imagerepositories", ""):                                                      3,
		key("DELETE", "imagerepositories", ""):                                                     2,
		key("PATCH", "imagerepositories", "status"):                                                1000,
		key("PATCH", "imageorganizations", "status"):                                               1,
		key("PATCH", "imageorganizations", ""):                                                     1,
		key("GET", "imageorganizations", ""):                                                       2,
		key("LIST", "imagerepositories", ""):                                                       1,
		{verb: "POST", resource: schema.GroupResource{Group: "events.k8s.io", Resource: "events"}}: 2,
	}
	got := summarizeDiscovery(c)
	want := discoveryTraffic{repoCreates: 1000, repoPatches: 3, repoDeletes: 2, repoStatusWrites: 1000,
		orgStatusWrites: 1, otherOrgWrites: 1, requestTotals: requestTotals{events: 2, gets: 2, lists: 1, writes: 2009}}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got.repoWrites() != 1005 {
		t.Errorf("repoWrites %d, want 1005: status writes are not discovery's", got.repoWrites())
	}
}

func TestIsWorkersStartedLine(t *testing.T) {
	json := `{"level":"info","ts":"2026-01-01T00:00:00Z","msg":"Starting workers","controller":"imageorganization","controllerGroup":"swr.imagesync.io","controllerKind":"ImageOrganization","worker count":16}`
	if !isWorkersStartedLine(json, "ImageOrganization") {
		t.Error("JSON line not recognized")
	}
	if isWorkersStartedLine(strings.Replace(json, "ImageOrganization", "ImageRepository", 1), "ImageOrganization") {
		t.Error("another controller's line recognized")
	}
	if isWorkersStartedLine(strings.Replace(json, "Starting workers", "Starting EventSource", 1), "ImageOrganization") {
		t.Error("another message recognized")
	}
	console := `2026-01-01T00:00:00Z	INFO	Starting workers	{"controller": "imageorganization", "controllerGroup": "swr.imagesync.io", "controllerKind": "ImageOrganization", "worker count": 16}`
	if !isWorkersStartedLine(console, "ImageOrganization") {
		t.Error("console line not recognized")
	}
}

func TestDiscoveryRepositories(t *testing.T) {
	repos := discoveryRepositories(3)
	if len(repos) != 3 || repos[0].Name != "team/svc-00000" || repos[2].Name != "team/svc-00002" || repos[1].Namespace != organization {
		t.Errorf("got %+v", repos)
	}
	for n, want := range map[int]int{1: 1, 100: 1, 101: 2, 1000: 10, 1001: 11} {
		if got := discoveryPages(n); got != want {
			t.Errorf("discoveryPages(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestPrintTableDiscoveryOnly(t *testing.T) {
	o, err := parseFlags([]string{"-sizes="})
	if err != nil {
		t.Fatal(err)
	}
	d := &discoveryResult{repos: 1000, firstPages: 10, rediscoveryPages: 10, allExist: 11 * time.Second, orgReady: 11 * time.Second,
		rediscoveryTraffic: discoveryTraffic{orgStatusWrites: 1, otherOrgWrites: 1}}
	var out bytes.Buffer
	printTable(&out, o, &results{discovery: d})
	table := out.String()
	for _, want := range []string{
		"| Discovery: SWR repository listing pages, first discovery | ⌈1000 / 100⌉ = 10 | **10** (the rediscovery: 10) — met |",
		"| Discovery: ImageRepository writes (creates, patches, deletes) per unchanged rediscovery | 0 | **0** ",
		"| Discovery: ImageOrganization status patches per unchanged rediscovery | 1 | **1** ",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "Cold mirror") || strings.Contains(table, "other ImageOrganization writes") {
		t.Errorf("size rows or the benchmark's own annotation patch in a discovery-only table:\n%s", table)
	}
}

func TestPrintTableColumns(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := sizeResult{size: size{10, 5}, interval: time.Minute, baseline: &baselineResult{duration: time.Second}, main: &operatorResult{}}
	var out bytes.Buffer
	printTable(&out, o, &results{sizes: []sizeResult{s, s}, discovery: &discoveryResult{repos: 1000}})
	rows := 0
	for line := range strings.Lines(out.String()) {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		// Metric, Target, two sizes and the discovery phase: 5 cells, 6 bars.
		if n := strings.Count(line, "|"); n != 6 {
			t.Errorf("%d bars in %q, want 6", n, line)
		}
	}
	if rows != 2+21+5 {
		t.Errorf("%d table lines, want a header, a separator, 21 size rows and 5 discovery rows", rows)
	}
}

func TestManagerArgsAreMainGosDefaultsButTheSWRLimit(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opts: o}
	args := strings.Join(b.managerArgs("/k", 0, 20), " ")
	for _, unwanted := range []string{"--concurrent", "--kube-api-qps", "--kube-api-burst", "--swr-burst"} {
		if strings.Contains(args, unwanted) {
			t.Errorf("default args %q set %s", args, unwanted)
		}
	}
	if !strings.Contains(args, "--swr-qps=0") {
		t.Errorf("default args %q do not turn the SWR limit off", args)
	}
	if o.concurrent != 4 || o.kubeAPIQPS != -1 || o.kubeAPIBurst != 100 {
		t.Errorf("baseline defaults: %d writers, QPS %g, burst %d; want main.go's 4, -1, 100", o.concurrent, o.kubeAPIQPS, o.kubeAPIBurst)
	}
	if o, err = parseFlags([]string{"-concurrent", "16", "-swr-burst", "5"}); err != nil {
		t.Fatal(err)
	}
	b = &bench{opts: o}
	args = strings.Join(b.managerArgs("/k", 10, 5), " ")
	if !strings.Contains(args, "--concurrent=16") || !strings.Contains(args, "--swr-burst=5") || strings.Contains(args, "--kube-api-qps") {
		t.Errorf("args %q, want the flags given and no others", args)
	}
}

func TestMemoryPerTaskAndRestartCells(t *testing.T) {
	if got := kibPerTask(60<<20+10000*5*1024, 60<<20, 10000); got != 5 {
		t.Errorf("kibPerTask = %v, want 5", got)
	}
	r := sizeResult{size: size{10, 5}, main: &operatorResult{peakRSS: 60<<20 + 50*9*1024}}
	if cell := rssCell(r, 60<<20); !strings.Contains(cell, "**9.00 KiB per task**") || !strings.Contains(cell, "missed") {
		t.Errorf("rss cell %q, want 9 KiB per task, missed", cell)
	}
	r.main.restart = &restartResult{taskLists: 1, polledRepos: 10}
	if cell := restartReadsCell(r); !strings.Contains(cell, "— met") {
		t.Errorf("one list: %q, want met", cell)
	}
	r.main.restart = &restartResult{taskLists: 11, polledRepos: 10}
	if cell := restartReadsCell(r); !strings.Contains(cell, "missed") {
		t.Errorf("a list per ImageRepository: %q, want missed", cell)
	}
}

func TestRatioIsTheMedianOfThePairs(t *testing.T) {
	cold := func(d time.Duration) *operatorResult {
		return &operatorResult{cold: d + time.Second, firstSWR: time.Second, coldCPU: phaseCPU{apiserver: 2}}
	}
	base := func(d time.Duration) *baselineResult {
		return &baselineResult{duration: d, cpu: phaseCPU{apiserver: 2}}
	}
	r := sizeResult{
		size:     size{10, 5},
		baseline: base(10 * time.Second),
		main:     cold(9 * time.Second), // 0.90x
		earlierPairs: []pair{
			{baseline: base(10 * time.Second), cold: cold(15 * time.Second)},         // 1.50x, a slow phase
			{baseline: base(10 * time.Second), cold: cold(10500 * time.Millisecond)}, // 1.05x
		},
	}
	cell := ratioCell(r)
	for _, want := range []string{"**1.05×**, the median of 3 pairs", "1.50× (15.0 s against 10.0 s; CPU 1.00×)", "0.90×", "— met"} {
		if !strings.Contains(cell, want) {
			t.Errorf("ratio cell lacks %q: %s", want, cell)
		}
	}
	if got := median([]float64{3, 1, 2, 4}); got != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", got)
	}
}

func TestRefusedRequestsAreNamed(t *testing.T) {
	counts := requestCounts{
		{verb: "POST", resource: syncRepoTasks, code: "409"}:                            2,
		{verb: "PUT", resource: syncRepoTasks, subresource: "status", code: "409"}:      1,
		{verb: "POST", resource: syncRepoTasks, code: "201"}:                            5,
		{verb: "GET", resource: schema.GroupResource{Resource: "secrets"}, code: "404"}: 3,
	}
	want := "1 PUT syncrepotasks/status 409, 2 POST syncrepotasks 409, 3 GET secrets 404"
	if got := counts.refused(); got != want {
		t.Errorf("refused = %q, want %q", got, want)
	}
	if got := (requestCounts{{verb: "GET", code: "200"}: 1}).refused(); got != "" {
		t.Errorf("no refused request described as %q", got)
	}
}
