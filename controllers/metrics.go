package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// metricsNamespace prefixes every metric the operator exports, next to controller-runtime's own.
const metricsNamespace = "swr_sync"

// Values of the result label of swr_sync_poll_duration_seconds (besides the Ready reasons of
// failures) and of swr_sync_token_requests_total.
const (
	resultSuccess = "success"
	resultFailure = "failure"
)

// Values of the code label of swr_sync_swr_requests_total: the status class of SWR's answer, or
// codeError when no complete answer arrived.
const (
	code2xx   = "2xx"
	code3xx   = "3xx"
	code4xx   = "4xx"
	code5xx   = "5xx"
	codeError = "error"
)

// pollDurationBuckets suit a poll made of one or two HTTP calls (plus an IAM token request now and
// then) and a few Kubernetes writes: tens of milliseconds when all is well, up to spec.timeout
// (30 s by default) when SWR hangs. Slower polls land in +Inf.
var pollDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30}

// Metrics holds the operator's Prometheus collectors. A nil *Metrics is valid and records
// nothing, so that reconcilers built without metrics (tests) need no special case.
//
// Labels never carry credentials. Only the per-ImageRepository gauges carry the object's
// namespace and name; the histogram and counters do not, so that their cardinality stays fixed
// however many ImageRepositories there are.
//
// The per-ImageRepository gauges mirror the object's status rather than events seen by this
// process: a restarted manager exports them again at its first reconcile of each object, without
// waiting for a poll. Otherwise a repository that keeps failing after a restart would have no
// last-success timestamp to alert on.
type Metrics struct {
	pollDuration  *prometheus.HistogramVec
	swrRequests   *prometheus.CounterVec
	tokenRequests *prometheus.CounterVec
	mirroredTasks *prometheus.GaugeVec
	lastSuccess   *prometheus.GaugeVec
	pollInterval  *prometheus.GaugeVec
	suspended     *prometheus.GaugeVec
	replication   *replicationCollector
	policyDrift   *prometheus.GaugeVec
	discovered    *prometheus.GaugeVec
	discoveryTime *prometheus.HistogramVec

	mu sync.Mutex
	// seen holds the UID of each ImageRepository whose gauges were exported from its status, so
	// that a reconcile from a possibly stale cache never moves them back after a poll set them.
	seen map[types.NamespacedName]types.UID
}

// NewMetrics creates the operator's collectors and registers them on reg: pass
// sigs.k8s.io/controller-runtime/pkg/metrics.Registry to serve them on the manager's metrics
// endpoint, or a fresh prometheus.NewRegistry() in tests. It fails if reg already holds
// collectors of the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		pollDuration: newDurationHistogram("poll_duration_seconds",
			"How long polls of SWR took, from reading the credentials to mirroring the listing, "+
				`by result: "success" or the Ready reason of the failure.`),
		swrRequests: newCounter("swr_requests_total", "code",
			"HTTP requests sent to the SWR API, retries included, by the class of the answer's status "+
				`("2xx" to "5xx"), or "error" when no complete answer arrived (network error, timeout).`),
		tokenRequests: newCounter("token_requests_total", "result",
			`IAM token requests for IAM password credentials, by result: "success" or "failure".`),
		mirroredTasks: newObjectGauge("mirrored_tasks",
			"SyncRepoTasks mirrored by the last successful poll of the ImageRepository."),
		lastSuccess: newObjectGauge("last_successful_poll_timestamp_seconds",
			"Unix time of the last successful poll of the ImageRepository (whole seconds, as in its status). "+
				"Absent until the first success."),
		pollInterval: newObjectGauge("poll_interval_seconds",
			"The ImageRepository's effective poll interval: spec.interval, raised to --min-interval."),
		suspended: newObjectGauge("suspended",
			"1 while the ImageRepository's spec.suspend is true (no polls: the last successful poll grows old on purpose), else 0."),
		replication: newReplicationCollector(),
		policyDrift: newObjectGauge("policy_drift",
			"1 while the ImageRepository's sync policies differ from its spec.expectedPolicies, else 0."),
		discovered: newObjectGauge("discovered_repositories",
			"Repositories the last complete listing of the ImageOrganization selected, each kept as an ImageRepository."),
		discoveryTime: newDurationHistogram("discovery_duration_seconds",
			"How long discoveries of ImageOrganizations took, every page and every ImageRepository write, "+
				`by result: "success" or the Ready reason of the failure.`),
		seen: map[types.NamespacedName]types.UID{},
	}
	// Series with a fixed, known set of label values start at zero, so that rate() and
	// increase() see the first request rather than a series appearing out of nowhere.
	for _, code := range []string{code2xx, code3xx, code4xx, code5xx, codeError} {
		m.swrRequests.WithLabelValues(code)
	}
	for _, result := range []string{resultSuccess, resultFailure} {
		m.tokenRequests.WithLabelValues(result)
	}
	for _, c := range []prometheus.Collector{m.pollDuration, m.swrRequests, m.tokenRequests, m.mirroredTasks, m.lastSuccess, m.pollInterval,
		m.suspended, m.replication, m.policyDrift, m.discovered, m.discoveryTime} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// newDurationHistogram returns a histogram of durations by result (see pollOutcome.result), in
// pollDurationBuckets.
func newDurationHistogram(name, help string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: name, Help: help,
		Buckets: pollDurationBuckets}, []string{"result"})
}

// newCounter returns a counter with the one label.
func newCounter(name, label, help string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, []string{label})
}

// newObjectGauge returns a gauge with a series per object, labelled with its namespace and name.
func newObjectGauge(name, help string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: name, Help: help}, []string{"namespace", "name"})
}

// ObserveSWRRequest counts one HTTP request to SWR. It has the signature of
// swr.WithRequestObserver: statusCode is 0 when no response arrived, and err is non-nil when no
// complete response was read, which counts as "error" whatever the status.
func (m *Metrics) ObserveSWRRequest(statusCode int, err error) {
	if m == nil {
		return
	}
	m.swrRequests.WithLabelValues(statusClass(statusCode, err)).Inc()
}

// statusClass returns the code label for one SWR request.
func statusClass(statusCode int, err error) string {
	switch {
	case err != nil:
		return codeError
	case statusCode >= 200 && statusCode <= 299:
		return code2xx
	case statusCode >= 300 && statusCode <= 399:
		return code3xx
	case statusCode >= 400 && statusCode <= 499:
		return code4xx
	case statusCode >= 500 && statusCode <= 599:
		return code5xx
	default:
		// net/http never returns a 1xx as the final response, and codes past 599 are not HTTP:
		// such an answer is unusable, and a label per odd code would be unbounded.
		return codeError
	}
}

// ObserveTokenRequest counts one IAM token request. It has the signature of
// swr.WithTokenRequestObserver: err is nil when IAM issued a token.
func (m *Metrics) ObserveTokenRequest(err error) {
	if m == nil {
		return
	}
	result := resultSuccess
	if err != nil {
		result = resultFailure
	}
	m.tokenRequests.WithLabelValues(result).Inc()
}

// observePoll records how long a poll took and how it ended.
func (m *Metrics) observePoll(out pollOutcome, took time.Duration) {
	if m == nil {
		return
	}
	m.pollDuration.WithLabelValues(out.result()).Observe(took.Seconds())
}

// result is the result label of an outcome: "success", or the Ready reason of the failure.
func (out pollOutcome) result() string {
	if out.err != nil {
		return out.reason
	}
	return resultSuccess
}

// observeRepository exports repo's effective poll interval, whether it is suspended and, the
// first time this process sees this object, the gauges its status implies. Later reconciles leave those gauges to
// recordStatus: they may read a cached object that does not show the last poll yet.
func (m *Metrics) observeRepository(repo *swrv1.ImageRepository, interval time.Duration) {
	if m == nil {
		return
	}
	key := client.ObjectKeyFromObject(repo)
	m.pollInterval.WithLabelValues(key.Namespace, key.Name).Set(interval.Seconds())
	// From the spec, which every reconcile reads: a suspension needs no poll to show, and an
	// alert on old successful polls can leave suspended objects out.
	suspended := 0.0
	if repo.Spec.Suspend {
		suspended = 1
	}
	m.suspended.WithLabelValues(key.Namespace, key.Name).Set(suspended)

	m.mu.Lock()
	uid, seen := m.seen[key]
	m.seen[key] = repo.UID
	m.mu.Unlock()
	if seen && uid == repo.UID {
		return
	}
	if seen {
		// The object was deleted and recreated under the same name faster than a reconcile
		// could notice: the old object's numbers are not the new one's.
		m.mirroredTasks.DeleteLabelValues(key.Namespace, key.Name)
		m.lastSuccess.DeleteLabelValues(key.Namespace, key.Name)
	}
	m.recordStatus(repo)
}

// recordStatus exports the task count and the last successful poll time from repo's status.
// Before the first success there is nothing to export, and the gauges stay absent.
func (m *Metrics) recordStatus(repo *swrv1.ImageRepository) {
	if m == nil || repo.Status.LastSuccessfulPollTime == nil {
		return
	}
	m.mirroredTasks.WithLabelValues(repo.Namespace, repo.Name).Set(float64(repo.Status.TaskCount))
	m.lastSuccess.WithLabelValues(repo.Namespace, repo.Name).Set(float64(repo.Status.LastSuccessfulPollTime.Unix()))
}

// forget deletes every series of the ImageRepository key, once it is gone, so that deleted
// objects neither linger on dashboards nor trip the missed-polls alert.
func (m *Metrics) forget(key types.NamespacedName) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.seen, key)
	m.mu.Unlock()
	for _, g := range []*prometheus.GaugeVec{m.mirroredTasks, m.lastSuccess, m.pollInterval, m.suspended, m.policyDrift} {
		g.DeleteLabelValues(key.Namespace, key.Name)
	}
	m.recordReplication(key, nil)
}

// recordOutcome exports what a mirrored listing says about replication and drift: the targets'
// series are replaced by those of targets (none with spec.syncJobs.mode Ignore), unless the job
// listing failed, which says nothing new.
func (m *Metrics) recordOutcome(repo *swrv1.ImageRepository, out pollOutcome) {
	if m == nil || !out.hasReplication {
		return
	}
	key := client.ObjectKeyFromObject(repo)
	if !out.mirrorPending {
		drift := 0.0
		if out.drift {
			drift = 1
		}
		m.policyDrift.WithLabelValues(key.Namespace, key.Name).Set(drift)
	}
	if out.replication == nil || out.replication.Reason != swrv1.ReasonJobsUnavailable {
		m.recordReplication(key, out.targets)
	}
}

// recordReplication makes the replication series of key those of targets.
func (m *Metrics) recordReplication(key types.NamespacedName, targets []targetReplication) {
	m.replication.set(key, targets)
}

// replicationCollector exports the per-target replication gauges from what the last job listing
// of each ImageRepository said, built at every scrape. A GaugeVec keeps two series objects with
// their label pairs per target: about 1 KiB each, the largest part of the manager's heap at
// 10,000 tasks; this keeps two numbers per target and the label values the tasks hold anyway.
type replicationCollector struct {
	failedTags, lastSuccess *prometheus.Desc

	mu      sync.Mutex
	targets map[types.NamespacedName][]replicationSample
}

// replicationSample is one target's replication gauges.
type replicationSample struct {
	target
	failedTags float64
	// lastSuccess is the Unix time of the newest successful job; hasLastSuccess is false when
	// the newest jobs hold none, and the series is absent.
	lastSuccess    float64
	hasLastSuccess bool
}

func newReplicationCollector() *replicationCollector {
	targetLabels := []string{"namespace", "name", "remote_region", "remote_namespace"}
	return &replicationCollector{
		failedTags: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "replication_failed_tags"),
			"Tags whose newest sync job to the policy's target failed, timed out or was cancelled (at most 10), "+
				"per ImageRepository and target, from the last job listing.", targetLabels, nil),
		lastSuccess: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "replication_last_success_timestamp_seconds"),
			"Unix time of the newest successful sync job to the policy's target (its updatedAt), per ImageRepository "+
				"and target. Absent while the newest jobs hold no success.", targetLabels, nil),
		targets: map[types.NamespacedName][]replicationSample{},
	}
}

// set replaces the samples of key; no targets removes them. Of two policies to one target (SWR
// should not allow them), the later one's sample is kept, as a gauge set twice would be: a
// scrape must never see one series twice.
func (c *replicationCollector) set(key types.NamespacedName, targets []targetReplication) {
	samples := make([]replicationSample, 0, len(targets))
	index := make(map[target]int, len(targets))
	for _, t := range targets {
		s := replicationSample{target: t.target, failedTags: float64(t.failedTags)}
		if at, err := time.Parse(time.RFC3339Nano, t.lastSuccess); err == nil {
			s.lastSuccess, s.hasLastSuccess = float64(at.Unix()), true
		}
		if i, seen := index[t.target]; seen {
			samples[i] = s
			continue
		}
		index[t.target] = len(samples)
		samples = append(samples, s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(samples) == 0 {
		delete(c.targets, key)
		return
	}
	c.targets[key] = samples
}

// Describe implements prometheus.Collector.
func (c *replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failedTags
	ch <- c.lastSuccess
}

// Collect implements prometheus.Collector.
func (c *replicationCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, samples := range c.targets {
		for _, s := range samples {
			ch <- prometheus.MustNewConstMetric(c.failedTags, prometheus.GaugeValue, s.failedTags, key.Namespace, key.Name, s.region, s.namespace)
			if s.hasLastSuccess {
				ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, s.lastSuccess, key.Namespace, key.Name, s.region, s.namespace)
			}
		}
	}
}

// observeDiscovery records how long a discovery took and how it ended.
func (m *Metrics) observeDiscovery(out pollOutcome, took time.Duration) {
	if m == nil {
		return
	}
	m.discoveryTime.WithLabelValues(out.result()).Observe(took.Seconds())
}

// recordDiscovered exports how many repositories org's last complete listing selected.
func (m *Metrics) recordDiscovered(org *swrv1.ImageOrganization) {
	if m == nil {
		return
	}
	m.discovered.WithLabelValues(org.Namespace, org.Name).Set(float64(org.Status.RepositoryCount))
}

// forgetOrganization deletes the series of a deleted ImageOrganization.
func (m *Metrics) forgetOrganization(key types.NamespacedName) {
	if m == nil {
		return
	}
	m.discovered.DeleteLabelValues(key.Namespace, key.Name)
}
