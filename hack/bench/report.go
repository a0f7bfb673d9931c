package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// row is one line of the table: a metric, its target and one cell per size.
type row struct {
	metric, target string
	cell           func(r sizeResult) string
}

// discoveryRow is one line of the table about the discovery phase.
type discoveryRow struct {
	metric, target string
	cell           func(d *discoveryResult) string
}

// printTable writes the results as one Markdown table, with the setup in a line above it and
// the notes that the cells refer to below it. Each size has a column, and so has the discovery
// phase when it ran; a row of one leaves the others' cells empty.
func printTable(w io.Writer, o *options, res *results) {
	fmt.Fprintf(w, "swr-sync-operator benchmark, %s, %d CPUs, %s/%s, %s. Manager: main.go's default flags, except %s; %s. "+
		"Baseline: %d writers, %s. IAM password Secret shared by all ImageRepositories; %d sync jobs per repository; SWR simulator over http; every phase on a fresh envtest kube-apiserver + etcd.\n\n",
		time.Now().Format(time.DateOnly), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		managerFlagsText(o), envText(), o.concurrent, qpsText(o.kubeAPIQPS, o.kubeAPIBurst), syncJobsPerRepository)

	rows := []row{
		{"Cold mirror: manager start until every ImageRepository is Ready and N×M tasks exist", "", coldCell},
		{"Cold mirror with the SWR limit off (--swr-qps=0), when the main run has a limit", "", unlimitedCell},
		{"Baseline: bare client, the same task creates + task status writes + ImageRepository status patches + events, as many writers as the manager has workers, same QPS", "", baselineCell},
		{"Ratio cold mirror (SWR limit off) / baseline; each pair's", "≤ 1.30×", ratioCell},
		{"Watched baseline: the baseline plus an informer watching the SyncRepoTasks, as the manager's cache does; ratio cold mirror / it, each pair's", "", watchedBaselineCell},
		{"Cold start: apiserver requests per ImageRepository beyond the baseline's (SWR limit off)", "≤ 1", extraRequestsCell},
		{"Cold start: apiserver requests per ImageRepository, whole cold start (baseline)", "", trafficCell},
		{"CPU seconds apiserver / etcd / manager until Ready, limit-off run (baselines: … / bare client, and the apiserver's per write)", "", cpuCell},
		{"SWR requests (policy and sync_job listings) during the cold mirror", "with a limit: mean ≤ qps; 1 s ≤ qps + burst", coldSWRCell},
		{"Steady state: polls (sync_repo requests) per ImageRepository per interval", "exactly 1", pollsCell},
		{"Steady state: sync_job requests per ImageRepository per interval (spec.syncJobs.mode Observe)", "exactly 1", jobListingsCell},
		{"Steady state: busiest second vs mean SWR request rate", "", burstCell},
		{"IAM token requests, whole run (before the restart)", "1", iamCell},
		{"Steady state: ImageRepository status patches per poll", "≤ 1", statusCell},
		{"Steady state: SyncRepoTask writes in one interval", "0", taskWritesCell},
		{"Steady state: apiserver GETs per poll", "0", readsCell},
		{"Restart on the mirrored state, one interval: reads of SyncRepoTasks", "the informer's initial list only: LISTs ≤ 1, GETs 0, none per ImageRepository", restartReadsCell},
		{"Restart: writes, SWR polls, restarted manager's peak RSS", "", restartOtherCell},
		{"Manager idle RSS (VmHWM): CRDs installed, no objects", "", func(sizeResult) string { return idleCell(res.idle) }},
		{"Manager peak RSS (VmHWM); per task above idle", "≤ 8 KiB per task above idle", func(r sizeResult) string { return rssCell(r, res.idle) }},
		{"Manager CPU seconds", "", managerCPUCell},
	}
	discoveryRows := []discoveryRow{
		{"Discovery: SWR repository listing pages, first discovery", fmt.Sprintf("⌈%d / %d⌉ = %d", o.discoveryRepos, swr.DefaultRepositoryPageSize, discoveryPages(o.discoveryRepos)),
			func(d *discoveryResult) string { return discoveryPagesCell(d, discoveryPages(o.discoveryRepos)) }},
		{"Discovery: ImageOrganization created until every ImageRepository exists", "", discoveryTimeCell},
		{"Discovery: ImageRepository writes (creates, patches, deletes) per unchanged rediscovery", "0", rediscoveryRepoWritesCell},
		{"Discovery: ImageOrganization status patches per unchanged rediscovery", "1", rediscoveryStatusCell},
		{"Discovery phase: manager peak RSS, CPU seconds; SWR and IAM requests besides the listing", "", discoveryManagerCell},
	}

	header := []string{"Metric", "Target"}
	for _, r := range res.sizes {
		header = append(header, fmt.Sprintf("%s (%d tasks, interval %s)", r.size, r.size.tasks(), r.interval))
	}
	if res.discovery != nil {
		header = append(header, fmt.Sprintf("ImageOrganization over %d repositories (ImageRepositories suspended)", res.discovery.repos))
	}
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat(" --- |", len(header)))
	if len(res.sizes) > 0 {
		for _, rw := range rows {
			cells := []string{rw.metric, rw.target}
			for _, r := range res.sizes {
				cells = append(cells, rw.cell(r))
			}
			if res.discovery != nil {
				cells = append(cells, "")
			}
			fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
		}
	}
	if res.discovery != nil {
		for _, rw := range discoveryRows {
			cells := []string{rw.metric, rw.target}
			for range res.sizes {
				cells = append(cells, "")
			}
			cells = append(cells, rw.cell(res.discovery))
			fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
		}
	}

	fmt.Fprintln(w)
	for _, r := range res.sizes {
		if r.raiseWhy != "" {
			fmt.Fprintf(w, "- %s: interval raised from -interval=%s to %s: %s.\n", r.size, o.interval, r.interval, r.raiseWhy)
		}
	}
	if len(res.sizes) > 0 {
		fmt.Fprintln(w, "- Cold mirror times run from the manager's process start (binary start-up and cache sync included; \"first SWR\" shows that part). "+
			"The SWR floor is (2N − burst) / qps: the fastest --swr-qps lets the N first polls out, each a policy listing and a sync_job listing.")
		fmt.Fprintln(w, "- apiserver figures are differences of apiserver_request_total for the operator's kinds, Secrets and Events (the apiserver's own timed requests, such as its endpoint and Lease upkeep every 10 s, are left out); \"409\" are task creates refused as AlreadyExists; events are the manager's Event writes. "+
			"Steady-state windows are one interval long and start 0.75 intervals after the cold mirror, when the first ImageRepositories poll again.")
		fmt.Fprintln(w, "- Poll gaps are between one ImageRepository's consecutive policy listings. Each ImageRepository polls at a fixed slot of its interval "+
			"(evenly spaced among the ImageRepositories of that interval): from its second poll on every gap is one interval; the gap after the cold start's poll "+
			"is between 0.75× and 1.75× interval, depending on where its slot lies. An extra poll is a gap under half the interval.")
		fmt.Fprintln(w, "- Memory: peak RSS is the manager's VmHWM at the end of a run (the highest of the size's runs); the idle manager's is measured the same way, "+
			"once its workers started on a control plane with the CRDs and no objects; per task above idle is (peak − idle) / tasks.")
		fmt.Fprintln(w, "- Restart: after the steady state the manager is stopped with SIGTERM and started again on the same control plane and simulator; "+
			"its LISTs and GETs of SyncRepoTasks are counted for one interval and "+restartMargin.String()+", in which every ImageRepository polls once. "+
			"The informer's initial list is a LIST, or part of its WATCH when client-go streams it (WatchListClient), which the count leaves out.")
	}
	if res.discovery != nil {
		fmt.Fprintln(w, "- Discovery: the ImageOrganization is created once the manager has started its ImageOrganization workers, and its template suspends the generated "+
			"ImageRepositories, so that they never poll SWR (each still gets one Suspended status patch from the ImageRepository reconciler). "+
			"The rediscovery is asked for with the "+swrv1.RequestedAtAnnotation+" annotation on the unchanged listing; its writes are differences of apiserver_request_total "+
			"from just before that annotation patch until the manager has been quiet for "+settleQuiet.String()+" after the status showed it handled.")
	}
}

// discoveryPages is the number of pages of the default size a listing of n repositories takes.
func discoveryPages(n int) int {
	return (n + swr.DefaultRepositoryPageSize - 1) / swr.DefaultRepositoryPageSize
}

func discoveryPagesCell(d *discoveryResult, want int) string {
	return fmt.Sprintf("**%d** (the rediscovery: %d)%s", d.firstPages, d.rediscoveryPages, verdict(d.firstPages == want))
}

func discoveryTimeCell(d *discoveryResult) string {
	t := d.firstTraffic
	return fmt.Sprintf("**%s** (ImageOrganization Ready with repositoryCount %d after %s; apiserver until quiet: %d ImageRepository creates, %d other ImageRepository writes, "+
		"%d ImageRepository status patches, %d ImageOrganization status patches, %d events; manager workers started %s after its process)",
		seconds(d.allExist), d.repos, seconds(d.orgReady), t.repoCreates, t.repoPatches+t.repoDeletes,
		t.repoStatusWrites, t.orgStatusWrites, t.events, seconds(d.workersAfter))
}

func rediscoveryRepoWritesCell(d *discoveryResult) string {
	t := d.rediscoveryTraffic
	return fmt.Sprintf("**%d** (creates %d, patches %d, deletes %d; status writes %d; %d of %d ImageRepositories changed resourceVersion)%s",
		t.repoWrites(), t.repoCreates, t.repoPatches, t.repoDeletes, t.repoStatusWrites, d.reposChanged, d.repos, verdict(t.repoWrites() == 0))
}

func rediscoveryStatusCell(d *discoveryResult) string {
	t := d.rediscoveryTraffic
	cell := fmt.Sprintf("**%d** (handled %s after the annotation patch; %d listing pages; GETs %d, LISTs %d, events %d",
		t.orgStatusWrites, seconds(d.rediscovery), d.rediscoveryPages, t.gets, t.lists, t.events)
	// The benchmark's own annotation patch is one write of the ImageOrganization.
	if other := t.otherOrgWrites - 1; other != 0 {
		cell += fmt.Sprintf("; %d other ImageOrganization writes", other)
	}
	return cell + ")" + verdict(t.orgStatusWrites == 1)
}

func discoveryManagerCell(d *discoveryResult) string {
	return fmt.Sprintf("%.0f MiB, %.1f s CPU; %d policy and sync_job listings, %d IAM token requests",
		float64(d.peakRSS)/(1<<20), d.managerCPU, d.policyListings, d.iamRequests)
}

// managerFlagsText names the flags the manager gets beyond main.go's defaults (see managerArgs).
func managerFlagsText(o *options) string {
	parts := []string{fmt.Sprintf("--swr-qps=%g", o.swrQPS)}
	if o.swrQPS <= 0 {
		parts[0] += " (the SWR rate limit off; its default is 10)"
	}
	for _, f := range []struct {
		name, value string
	}{
		{"concurrent", fmt.Sprint(o.concurrent)},
		{"kube-api-qps", fmt.Sprint(o.kubeAPIQPS)},
		{"kube-api-burst", fmt.Sprint(o.kubeAPIBurst)},
		{"swr-burst", fmt.Sprint(o.swrBurst)},
	} {
		if o.set[f.name] {
			parts = append(parts, "--"+f.name+"="+f.value)
		}
	}
	return strings.Join(parts, " ") + fmt.Sprintf(" (and --min-interval=%s, the simulator's --allow-insecure-endpoints, probes and metrics off)", managerMinInterval)
}

// envText says whether the environment, which the manager inherits, changes its GC.
func envText() string {
	var set []string
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(name); ok {
			set = append(set, name+"="+v)
		}
	}
	if len(set) == 0 {
		return "GOGC and GOMEMLIMIT unset (main.go's GOGC 50, no memory limit)"
	}
	return "**" + strings.Join(set, " ") + " from the environment**"
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func coldCell(r sizeResult) string {
	m := r.main
	cell := fmt.Sprintf("**%s** at --swr-qps=%g (first SWR %s", seconds(m.cold), m.run.swrQPS, seconds(m.firstSWR))
	if m.run.swrQPS > 0 {
		floor := float64(max(r.size.repos*swrRequestsPerPoll-m.run.swrBurst, 0)) / m.run.swrQPS
		cell += fmt.Sprintf("; SWR floor %.1f s", floor)
	}
	return cell + ")"
}

func unlimitedCell(r sizeResult) string {
	if r.unlimited == nil {
		return "not run (-compare-unlimited=false)"
	}
	return fmt.Sprintf("**%s** (first SWR %s)", seconds(r.unlimited.cold), seconds(r.unlimited.firstSWR))
}

func baselineCell(r sizeResult) string {
	b := r.baseline
	return fmt.Sprintf("**%s** (%d writes, %.0f writes/s)", seconds(b.duration), b.traffic.writes, float64(b.traffic.writes)/b.duration.Seconds())
}

// verdict marks a figure that has a target.
func verdict(met bool) string {
	if met {
		return " — met"
	}
	return " — **missed**"
}

// limitOff is the run with the SWR limit off: the main run unless it had a limit, else the
// comparison run (nil when there was none).
func limitOff(r sizeResult) *operatorResult {
	if r.main.run.swrQPS <= 0 {
		return r.main
	}
	return r.unlimited
}

func ratioCell(r sizeResult) string {
	var cell string
	if r.main.run.swrQPS > 0 {
		cell = fmt.Sprintf("%.2f× at --swr-qps=%g; ", r.main.cold.Seconds()/r.baseline.duration.Seconds(), r.main.run.swrQPS)
	}
	pairs := r.pairs()
	if len(pairs) == 0 {
		return cell + "limit off: not run (-compare-unlimited=false)"
	}
	ratios := make([]float64, len(pairs))
	each := make([]string, len(pairs))
	for i, p := range pairs {
		ratios[i] = p.ratio()
		each[i] = fmt.Sprintf("%.2f× (%s against %s; CPU %.2f×)", ratios[i], seconds(p.cold.cold-p.cold.firstSWR), seconds(p.baseline.duration), p.cpuRatio())
	}
	ratio := median(ratios)
	of := "with the limit off"
	if len(pairs) > 1 {
		of = fmt.Sprintf("the median of %d pairs with the limit off, measured alternately", len(pairs))
	}
	// The target is on the mirror's work, from the manager's first SWR request: before it the
	// manager starts its process and syncs its caches, which a bare client does not have to.
	last := pairs[len(pairs)-1]
	return cell + fmt.Sprintf("**%.2f×**, %s, from the first SWR request: %s (the last %.2f× from the manager's process start, %s before its first SWR request)%s",
		ratio, of, strings.Join(each, ", "), last.cold.cold.Seconds()/last.baseline.duration.Seconds(), seconds(last.cold.firstSWR), verdict(ratio <= maxColdRatio))
}

// ratio is the pair's cold mirror, from its first SWR request, over its baseline.
func (p pair) ratio() float64 {
	return (p.cold.cold - p.cold.firstSWR).Seconds() / p.baseline.duration.Seconds()
}

// cpuRatio is the CPU seconds of apiserver, etcd and manager in the pair's cold mirror over
// those of apiserver, etcd and bare client in its baseline.
func (p pair) cpuRatio() float64 {
	return p.cold.coldCPU.total() / p.baseline.cpu.total()
}

// median is the middle value of xs (the mean of the two middle ones for an even count); xs is
// not empty.
func median(xs []float64) float64 {
	sorted := slices.Sorted(slices.Values(xs))
	mid := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[mid-1] + sorted[mid]) / 2
	}
	return sorted[mid]
}

// watchedBaselineCell compares the cold mirror with the baseline that also watches the
// SyncRepoTasks: the floor of an operator that notices hand edits and deletes of what it mirrors.
func watchedBaselineCell(r sizeResult) string {
	var ratios []float64
	var each []string
	for _, p := range r.pairs() {
		if p.watched == nil {
			continue
		}
		ratio := (p.cold.cold - p.cold.firstSWR).Seconds() / p.watched.duration.Seconds()
		ratios = append(ratios, ratio)
		each = append(each, fmt.Sprintf("%.2f× (it %s, %.2f× its bare baseline)", ratio, seconds(p.watched.duration),
			p.watched.duration.Seconds()/p.baseline.duration.Seconds()))
	}
	if len(ratios) == 0 {
		return "not run (-watched-baseline=false)"
	}
	return fmt.Sprintf("**%.2f×** (median): %s", median(ratios), strings.Join(each, ", "))
}

// extraRequestsCell is the apiserver requests (writes and GETs) of the limit-off cold start
// beyond the baseline's, per ImageRepository. The manager's one-time requests, which do not grow
// with the ImageRepositories, are shown apart: its informers' initial LISTs and its reads of the
// one Secret they all share.
func extraRequestsCell(r sizeResult) string {
	run := limitOff(r)
	if run == nil {
		return "n/a"
	}
	t, b := run.coldTraffic, r.baseline.traffic
	perRepo := func(t trafficSummary) int { return t.writes + t.gets - t.secretGets }
	extra := float64(perRepo(t)-perRepo(b)) / float64(r.size.repos)
	return fmt.Sprintf("**%.3f** (%d writes and GETs against %d; once per run: %d LISTs, %d Secret GETs)%s",
		extra, perRepo(t), perRepo(b), t.lists-b.lists, t.secretGets, verdict(extra <= 1))
}

// trafficCell shows the cold start's apiserver requests per ImageRepository, for the run with the
// limit off when there is one (the limit only spreads the same requests out).
func trafficCell(r sizeResult) string {
	run := r.main
	if off := limitOff(r); off != nil {
		run = off
	}
	n := float64(r.size.repos)
	t := run.coldTraffic
	b := r.baseline.traffic
	return fmt.Sprintf("task creates %.2f + 409 %.2f, other task writes %.2f, status patches %.2f, GETs %.2f, LISTs %.2f, events %.2f (baseline: creates %.2f, status patches %.2f); "+
		"in all %d task creates, %d other task writes, %d status patches, %d events, %d requests refused (not 2xx)",
		float64(t.taskCreates)/n, float64(t.taskCreateFailures)/n, float64(t.taskOtherWrites)/n, float64(t.statusPatches)/n,
		float64(t.gets)/n, float64(t.lists)/n, float64(t.events)/n,
		float64(b.taskCreates)/n, float64(b.statusPatches)/n,
		t.taskCreates, t.taskOtherWrites, t.statusPatches, t.events, t.refused) + refusedText(run.coldRefused)
}

// refusedText is what the refused requests were, in parentheses, or "" when none were.
func refusedText(refused string) string {
	if refused == "" {
		return ""
	}
	return " (" + refused + ")"
}

func cpuCell(r sizeResult) string {
	run := r.main
	if off := limitOff(r); off != nil {
		run = off
	}
	c, b := run.coldCPU, r.baseline.cpu
	cell := fmt.Sprintf("%.1f / %.1f / %.1f = %.1f in %s, apiserver %s per write (baseline %.1f / %.1f / %.1f = %.1f in %s, %s per write",
		c.apiserver, c.etcd, c.client, c.total(), seconds(run.cold), perWrite(c.apiserver, run.coldWrites),
		b.apiserver, b.etcd, b.client, b.total(), seconds(r.baseline.duration), perWrite(b.apiserver, r.baseline.traffic.writes))
	if w := r.watchedBaseline; w != nil {
		cell += fmt.Sprintf("; watched %.1f / %.1f / %.1f = %.1f in %s, %s per write",
			w.cpu.apiserver, w.cpu.etcd, w.cpu.client, w.cpu.total(), seconds(w.duration), perWrite(w.cpu.apiserver, w.traffic.writes))
	}
	return cell + ")"
}

// perWrite is CPU seconds per apiserver write, in milliseconds.
func perWrite(cpuSeconds float64, writes int) string {
	if writes == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ms", 1000*cpuSeconds/float64(writes))
}

func coldSWRCell(r sizeResult) string {
	m := r.main
	cell := fmt.Sprintf("%.1f/s mean, max %d in 1 s (--swr-qps=%g)", m.coldSWR.meanPerSecond(), m.coldSWR.maxPerSecond, m.run.swrQPS)
	if r.unlimited != nil {
		cell += fmt.Sprintf("; limit off: %.1f/s mean, max %d in 1 s", r.unlimited.coldSWR.meanPerSecond(), r.unlimited.coldSWR.maxPerSecond)
	}
	return cell
}

func pollsCell(r sizeResult) string {
	s := r.main.steady
	if s == nil || s.gaps == 0 {
		return "n/a"
	}
	iv := r.interval.Seconds()
	return fmt.Sprintf("**%d** at most (%d polled once, %d more than once, %d due just after the window; gaps %.2f–%.2f× interval, mean %.2f×; %d extra polls)%s",
		s.maxPerRepo, s.polledRepos-s.repeatRepos, s.repeatRepos, r.size.repos-s.polledRepos,
		s.gapMin.Seconds()/iv, s.gapMax.Seconds()/iv, s.gapMean.Seconds()/iv, s.extraPolls, verdict(s.maxPerRepo == 1 && s.extraPolls == 0))
}

func jobListingsCell(r sizeResult) string {
	s := r.main.steady
	if s == nil || s.polls == 0 {
		return "n/a"
	}
	return fmt.Sprintf("**%d** at most (%d sync_job requests from %d ImageRepositories, for %d polls)%s",
		s.maxJobsPerRepo, s.jobListings, s.jobRepos, s.polls, verdict(s.maxJobsPerRepo == 1 && s.jobListings == s.polls))
}

func burstCell(r sizeResult) string {
	s := r.main.steady
	if s == nil || s.polls == 0 {
		return "n/a"
	}
	mean := s.swr.meanPerSecond()
	ratio := float64(s.swr.maxPerSecond) / mean
	return fmt.Sprintf("%.2f× (%d vs %.1f/s; polls alone: %d vs %.1f/s)", ratio, s.swr.maxPerSecond, mean,
		s.maxPerSecond, float64(s.polls)/s.window.Seconds())
}

func iamCell(r sizeResult) string {
	cell := fmt.Sprintf("**%d**", r.main.iamRequests)
	met := r.main.iamRequests == 1
	if r.unlimited != nil {
		cell += fmt.Sprintf(" (limit-off run: %d)", r.unlimited.iamRequests)
		met = met && r.unlimited.iamRequests == 1
	}
	return cell + verdict(met)
}

func statusCell(r sizeResult) string {
	s := r.main.steady
	if s == nil || s.polls == 0 {
		return "n/a"
	}
	perPoll := float64(s.traffic.statusPatches) / float64(s.polls)
	return fmt.Sprintf("**%.2f** (%d patches for %d polls; %d of %d ImageRepositories changed resourceVersion)%s",
		perPoll, s.traffic.statusPatches, s.polls, s.reposChanged, s.repos, verdict(perPoll <= 1))
}

func taskWritesCell(r sizeResult) string {
	s := r.main.steady
	if s == nil {
		return "n/a"
	}
	writes := s.traffic.taskCreates + s.traffic.taskCreateFailures + s.traffic.taskOtherWrites
	return fmt.Sprintf("**%d** (%d of %d tasks changed resourceVersion)%s", writes, s.tasksChanged, s.tasks, verdict(writes == 0))
}

func readsCell(r sizeResult) string {
	s := r.main.steady
	if s == nil || s.polls == 0 {
		return "n/a"
	}
	gets := float64(s.traffic.gets) / float64(s.polls)
	return fmt.Sprintf("**%.2f** (%d GETs, %.2f events per poll)%s", gets, s.traffic.gets, float64(s.traffic.events)/float64(s.polls), verdict(s.traffic.gets == 0))
}

// maxColdRatio is the target of the cold mirror's time over the bare baseline's.
const maxColdRatio = 1.30

// maxKiBPerTask is the target of the manager's peak RSS above the idle manager's, per task.
const maxKiBPerTask = 8.0

func idleCell(idle int64) string {
	if idle == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(idle)/(1<<20))
}

// rssCell is the manager's peak RSS at the size and what it holds per task above the idle
// manager's.
func rssCell(r sizeResult, idle int64) string {
	peak := r.main.peakRSS
	if r.unlimited != nil {
		peak = max(peak, r.unlimited.peakRSS)
	}
	for _, p := range r.earlierPairs {
		peak = max(peak, p.cold.peakRSS)
	}
	cell := fmt.Sprintf("%.0f MiB", float64(peak)/(1<<20))
	if idle == 0 {
		return cell
	}
	perTask := kibPerTask(peak, idle, r.size.tasks())
	return fmt.Sprintf("%s; **%.2f KiB per task** above idle (%.0f MiB above it for %d tasks)%s",
		cell, perTask, float64(peak-idle)/(1<<20), r.size.tasks(), verdict(perTask <= maxKiBPerTask))
}

// kibPerTask is peak above idle, in KiB per task.
func kibPerTask(peak, idle int64, tasks int) float64 {
	return float64(peak-idle) / 1024 / float64(tasks)
}

// restartReadsCell counts the restarted manager's reads of SyncRepoTasks: its informer's initial
// list is the only one allowed (none when client-go streams it over the watch), not one list or
// read per ImageRepository.
func restartReadsCell(r sizeResult) string {
	rs := r.main.restart
	if rs == nil {
		return "not run (-restart=false)"
	}
	met := rs.taskLists <= 1 && rs.taskGets == 0
	return fmt.Sprintf("**%d LISTs, %d GETs** (%.2f per ImageRepository) in %s, in which %d of %d ImageRepositories polled%s",
		rs.taskLists, rs.taskGets, float64(rs.taskLists+rs.taskGets)/float64(r.size.repos), seconds(rs.window), rs.polledRepos, r.size.repos, verdict(met))
}

func restartOtherCell(r sizeResult) string {
	rs := r.main.restart
	if rs == nil {
		return "not run (-restart=false)"
	}
	t := rs.traffic
	return fmt.Sprintf("task writes %d, status patches %d, events %d, GETs %d (Secrets %d), LISTs %d; %.0f MiB peak",
		t.taskCreates+t.taskCreateFailures+t.taskOtherWrites, t.statusPatches, t.events, t.gets, t.secretGets, t.lists, float64(rs.peakRSS)/(1<<20))
}

func managerCPUCell(r sizeResult) string {
	m := r.main
	cell := fmt.Sprintf("%.1f until Ready", m.coldCPU.client)
	if m.steady != nil {
		cell += fmt.Sprintf(", %.1f in the steady interval", m.steady.managerCPU)
	}
	return cell + fmt.Sprintf(", %.1f whole run", m.managerCPU)
}
