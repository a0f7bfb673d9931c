package controllers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// These tests call Reconcile directly on a fake Kubernetes client and a plain-http SWR test
// server, and read the metrics from a registry of their own, so that they run without a control
// plane and never see another test's series.

const (
	metricsNamespace   = "team-a"
	metricsOrg         = "acme"
	metricsSecret      = "swr-credentials"
	metricsRepoName    = "nginx"
	metricsIAMDomain   = "acme-domain"
	metricsIAMUser     = "robot"
	metricsIAMPassword = "pa55-w0rd-metrics"
)

// metricsStart is the fake clock's start: a poll at this time is recorded in status, and so in
// the timestamp gauge, as 2026-03-04T05:06:07Z.
var metricsStart = time.Date(2026, 3, 4, 5, 6, 7, 500_000_000, time.UTC)

// metricsFixture is a reconciler with metrics on a fresh registry, a fake client and an SWR
// test server.
type metricsFixture struct {
	t      *testing.T
	reg    *prometheus.Registry
	client client.Client
	srv    *swrtest.Server
	clock  *clocktesting.FakeClock
	rec    *controllers.ImageRepositoryReconciler
}

func newMetricsFixture(t *testing.T, objects ...client.Object) *metricsFixture {
	t.Helper()
	scheme := newTestScheme(t)
	reg := prometheus.NewRegistry()
	m, err := controllers.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.ImageRepository{}, &swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, controllers.TaskOwnerIndex, controllers.TaskOwnerUIDs).
		WithObjects(objects...).
		Build()
	clk := clocktesting.NewFakeClock(metricsStart)
	return &metricsFixture{t: t, reg: reg, client: c, srv: srv, clock: clk, rec: controllers.NewImageRepositoryReconciler(controllers.Options{
		Client:      c,
		APIReader:   c,
		Tokens:      swr.NewTokenCache(swr.WithTokenRequestObserver(m.ObserveTokenRequest)),
		Recorder:    &events.FakeRecorder{}, // no channel: events are dropped
		Clock:       clk,
		MinInterval: time.Second,
		Endpoints:   credentials.EndpointPolicy{AllowInsecure: true}, // the test server speaks plain http
		Metrics:     m,
	}, swr.NewClient(swr.WithRequestObserver(m.ObserveSWRRequest)))}
}

// metricsRepo returns an ImageRepository polling repository every ten minutes on endpoint.
func metricsRepo(name, repository, endpoint string) *swrv1.ImageRepository {
	return &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metricsNamespace, UID: types.UID("uid-" + name), Generation: 1},
		Spec: swrv1.ImageRepositorySpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: metricsOrg,
				Endpoint:     endpoint,
				SecretRef:    swrv1.SecretReference{Name: metricsSecret},
			},
			Repository: repository,
			Interval:   &metav1.Duration{Duration: 10 * time.Minute},
			// One SWR request per poll, so that request counts read as polls; the replication
			// metrics have their own test.
			SyncJobs: swrv1.SyncJobsSpec{Mode: swrv1.SyncJobsIgnore},
		},
	}
}

func secretWith(name string, data map[string]string) *corev1.Secret {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metricsNamespace}, Data: map[string][]byte{}}
	for k, v := range data {
		secret.Data[k] = []byte(v)
	}
	return secret
}

// create adds objects to the fake cluster.
func (f *metricsFixture) create(objects ...client.Object) {
	f.t.Helper()
	for _, o := range objects {
		if err := f.client.Create(context.Background(), o); err != nil {
			f.t.Fatal(err)
		}
	}
}

// reconcile runs one Reconcile of the ImageRepository name and returns its error, which transient
// failures are reported with.
func (f *metricsFixture) reconcile(name string) error {
	f.t.Helper()
	_, err := f.rec.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: metricsNamespace, Name: name}})
	return err
}

// mustReconcile runs one Reconcile that must succeed.
func (f *metricsFixture) mustReconcile(name string) {
	f.t.Helper()
	if err := f.reconcile(name); err != nil {
		f.t.Fatalf("reconciling %s: %v", name, err)
	}
}

// fetch reads the ImageRepository name from the fake cluster.
func (f *metricsFixture) fetch(name string) *swrv1.ImageRepository {
	f.t.Helper()
	repo := &swrv1.ImageRepository{}
	if err := f.client.Get(context.Background(), types.NamespacedName{Namespace: metricsNamespace, Name: name}, repo); err != nil {
		f.t.Fatal(err)
	}
	return repo
}

// nextInterval moves the fake clock past the poll interval and its slot, so that the next
// reconcile polls.
func (f *metricsFixture) nextInterval() { f.clock.Step(time.Hour) }

// value returns the value of the series of family name whose labels are exactly labels, and
// whether that series exists. A histogram yields its sample count.
func (f *metricsFixture) value(name string, labels map[string]string) (float64, bool) {
	f.t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
		for _, m := range family.GetMetric() {
			if !labelsEqual(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			default:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// expect fails the test unless the series exists with value want.
func (f *metricsFixture) expect(name string, labels map[string]string, want float64) {
	f.t.Helper()
	got, ok := f.value(name, labels)
	switch {
	case !ok:
		f.t.Errorf("%s%v does not exist, want %v", name, labels, want)
	case got != want:
		f.t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// expectAbsent fails the test if the series exists.
func (f *metricsFixture) expectAbsent(name string, labels map[string]string) {
	f.t.Helper()
	if got, ok := f.value(name, labels); ok {
		f.t.Errorf("%s%v = %v exists, want no such series", name, labels, got)
	}
}

func object(name string) map[string]string {
	return map[string]string{"namespace": metricsNamespace, "name": name}
}

func code(class string) map[string]string   { return map[string]string{"code": class} }
func result(value string) map[string]string { return map[string]string{"result": value} }

// policies returns n sync policies of acme/repository with ids 1..n.
func policies(repository string, n int) []swr.SyncRepo {
	out := make([]swr.SyncRepo, n)
	for i := range out {
		out[i] = policy(metricsOrg, repository, int64(i+1), "cn-north-4")
	}
	return out
}

func TestMetricsSuccessfulPoll(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	f.srv.SetPolicies(metricsOrg, "app", policies("app", 3)...)
	f.create(metricsRepo(metricsRepoName, "app", f.srv.URL()))

	f.mustReconcile(metricsRepoName)

	if got := f.fetch(metricsRepoName).Status.TaskCount; got != 3 {
		t.Fatalf("the poll mirrored %d tasks, want 3", got)
	}
	expected := `
# HELP swr_sync_last_successful_poll_timestamp_seconds Unix time of the last successful poll of the ImageRepository (whole seconds, as in its status). Absent until the first success.
# TYPE swr_sync_last_successful_poll_timestamp_seconds gauge
swr_sync_last_successful_poll_timestamp_seconds{name="nginx",namespace="team-a"} 1.772600767e+09
# HELP swr_sync_mirrored_tasks SyncRepoTasks mirrored by the last successful poll of the ImageRepository.
# TYPE swr_sync_mirrored_tasks gauge
swr_sync_mirrored_tasks{name="nginx",namespace="team-a"} 3
# HELP swr_sync_poll_interval_seconds The ImageRepository's effective poll interval: spec.interval, raised to --min-interval.
# TYPE swr_sync_poll_interval_seconds gauge
swr_sync_poll_interval_seconds{name="nginx",namespace="team-a"} 600
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(expected),
		"swr_sync_last_successful_poll_timestamp_seconds", "swr_sync_mirrored_tasks", "swr_sync_poll_interval_seconds"); err != nil {
		t.Error(err)
	}
	if want := float64(metricsStart.Truncate(time.Second).Unix()); want != 1.772600767e+09 {
		t.Fatalf("the expected timestamp above is stale: the fake clock starts at %v", want)
	}
	f.expect("swr_sync_poll_duration_seconds", result("success"), 1)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 1)
	for _, class := range []string{"3xx", "4xx", "5xx", "error"} {
		f.expect("swr_sync_swr_requests_total", code(class), 0)
	}
	f.expect("swr_sync_token_requests_total", result("success"), 0)

	// A reconcile that finds no poll due asks SWR nothing and changes no number.
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_poll_duration_seconds", result("success"), 1)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 1)
}

func TestMetricsFailedPollKeepsLastSuccess(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	f.srv.SetPolicies(metricsOrg, "app", policies("app", 2)...)
	f.create(metricsRepo(metricsRepoName, "app", f.srv.URL()))
	f.mustReconcile(metricsRepoName)
	lastSuccess := float64(metricsStart.Unix())
	f.expect("swr_sync_last_successful_poll_timestamp_seconds", object(metricsRepoName), lastSuccess)

	f.srv.SetPolicies(metricsOrg, "app", policies("app", 5)...)
	f.srv.SetFault(metricsOrg, "app", swrtest.Fault{Status: 503, Body: swrtest.NewErrorBody("SVCSTG.SWR.5000001", "busy")})
	f.nextInterval()
	if err := f.reconcile(metricsRepoName); err == nil {
		t.Fatal("a 503 was not reported as a transient failure")
	}

	f.expect("swr_sync_poll_duration_seconds", result(swrv1.ReasonUpstreamUnavailable), 1)
	f.expect("swr_sync_poll_duration_seconds", result("success"), 1)
	f.expect("swr_sync_swr_requests_total", code("5xx"), 1)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 1)
	// The failed poll says nothing about SWR's policies: the gauges keep the last success.
	f.expect("swr_sync_mirrored_tasks", object(metricsRepoName), 2)
	f.expect("swr_sync_last_successful_poll_timestamp_seconds", object(metricsRepoName), lastSuccess)

	// The next success moves both.
	f.srv.ClearFault(metricsOrg, "app")
	f.nextInterval()
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_mirrored_tasks", object(metricsRepoName), 5)
	f.expect("swr_sync_last_successful_poll_timestamp_seconds", object(metricsRepoName),
		float64(f.clock.Now().Truncate(time.Second).Unix()))
}

func TestMetricsNetworkErrorCountsAsError(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	gone := swrtest.NewServer()
	endpoint := gone.URL()
	gone.Close() // nothing listens there any more: the request gets no answer at all
	f.create(metricsRepo(metricsRepoName, "app", endpoint))

	if err := f.reconcile(metricsRepoName); err == nil {
		t.Fatal("an unreachable SWR was not reported as a transient failure")
	}
	f.expect("swr_sync_swr_requests_total", code("error"), 1)
	f.expect("swr_sync_poll_duration_seconds", result(swrv1.ReasonUpstreamUnavailable), 1)
	// Never successful: nothing to report yet, but the interval is known, for the alert.
	f.expectAbsent("swr_sync_mirrored_tasks", object(metricsRepoName))
	f.expectAbsent("swr_sync_last_successful_poll_timestamp_seconds", object(metricsRepoName))
	f.expect("swr_sync_poll_interval_seconds", object(metricsRepoName), 600)
}

func TestMetricsSeriesFollowTheObject(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	f.srv.SetPolicies(metricsOrg, "app", policies("app", 2)...)
	f.srv.SetPolicies(metricsOrg, "other", policies("other", 1)...)
	f.create(metricsRepo(metricsRepoName, "app", f.srv.URL()), metricsRepo("other", "other", f.srv.URL()))
	f.mustReconcile(metricsRepoName)
	f.mustReconcile("other")

	// Suspending stops polls, not the series: the object and its tasks still exist.
	repo := f.fetch(metricsRepoName)
	repo.Spec.Suspend = true
	if err := f.client.Update(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	f.expect("swr_sync_suspended", object(metricsRepoName), 0)
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_mirrored_tasks", object(metricsRepoName), 2)
	f.expect("swr_sync_poll_interval_seconds", object(metricsRepoName), 600)
	// Suspended on purpose, not failing: the gauge lets an alert on old polls leave it out, and
	// Ready keeps its status.
	f.expect("swr_sync_suspended", object(metricsRepoName), 1)
	f.expect("swr_sync_suspended", object("other"), 0)
	if ready := meta.FindStatusCondition(f.fetch(metricsRepoName).Status.Conditions, swrv1.ConditionReady); ready == nil ||
		ready.Status != metav1.ConditionTrue || ready.Reason != swrv1.ReasonSuspended {
		t.Errorf("suspended Ready = %+v, want True Suspended", ready)
	}

	if err := f.client.Delete(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	f.mustReconcile(metricsRepoName)
	for _, name := range []string{"swr_sync_mirrored_tasks", "swr_sync_last_successful_poll_timestamp_seconds", "swr_sync_poll_interval_seconds",
		"swr_sync_suspended"} {
		f.expectAbsent(name, object(metricsRepoName))
		// Only the deleted object's series go.
		if n, err := testutil.GatherAndCount(f.reg, name); err != nil || n != 1 {
			t.Errorf("%s has %d series (err %v), want only the other ImageRepository's", name, n, err)
		}
	}
	f.expect("swr_sync_mirrored_tasks", object("other"), 1)
}

func TestMetricsTokenRequests(t *testing.T) {
	iamSecret := func(name, password string, endpoint string) *corev1.Secret {
		return secretWith(name, map[string]string{
			credentials.UsernameKey:    metricsIAMUser,
			credentials.PasswordKey:    password,
			credentials.DomainNameKey:  metricsIAMDomain,
			credentials.ProjectNameKey: "ap-southeast-1",
			credentials.IAMEndpointKey: endpoint,
		})
	}
	f := newMetricsFixture(t)
	f.srv.SetToken("") // only tokens from the server's IAM are accepted
	f.srv.AddIAMUser(metricsIAMDomain, metricsIAMUser, metricsIAMPassword)
	f.srv.SetPolicies(metricsOrg, "app", policies("app", 1)...)
	f.create(iamSecret(metricsSecret, metricsIAMPassword, f.srv.URL()), metricsRepo(metricsRepoName, "app", f.srv.URL()))

	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_token_requests_total", result("success"), 1)
	f.expect("swr_sync_token_requests_total", result("failure"), 0)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 1)

	// A revoked token costs a 401, a new token and a retry: both attempts are counted.
	f.srv.RevokeIssuedTokens()
	f.nextInterval()
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_token_requests_total", result("success"), 2)
	f.expect("swr_sync_swr_requests_total", code("4xx"), 1)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 2)
	f.expect("swr_sync_poll_duration_seconds", result("success"), 2)

	// A wrong password fails at IAM: SWR is never asked.
	wrong := metricsRepo("wrong", "app", f.srv.URL())
	wrong.Spec.SecretRef.Name = "wrong-password"
	f.create(iamSecret("wrong-password", "not-"+metricsIAMPassword, f.srv.URL()), wrong)
	f.mustReconcile("wrong") // a stalled failure is not retried with backoff
	f.expect("swr_sync_token_requests_total", result("failure"), 1)
	f.expect("swr_sync_poll_duration_seconds", result(swrv1.ReasonAuthenticationFailed), 1)
	f.expect("swr_sync_swr_requests_total", code("4xx"), 1)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 2)
}

// staleClient serves a frozen copy of one ImageRepository from Get, as an informer cache that
// has not seen the latest status write yet does.
type staleClient struct {
	client.Client
	frozen *swrv1.ImageRepository
}

// Get returns the frozen copy for its key and passes everything else through.
func (c *staleClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if repo, ok := obj.(*swrv1.ImageRepository); ok && c.frozen != nil && key == client.ObjectKeyFromObject(c.frozen) {
		c.frozen.DeepCopyInto(repo)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func TestMetricsGaugesFromStatus(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	f.srv.SetPolicies(metricsOrg, "app", policies("app", 2)...)
	f.create(metricsRepo(metricsRepoName, "app", f.srv.URL()))
	f.mustReconcile(metricsRepoName)
	firstPoll := f.fetch(metricsRepoName)

	f.srv.SetPolicies(metricsOrg, "app", policies("app", 4)...)
	f.nextInterval()
	f.mustReconcile(metricsRepoName)
	secondSuccess := float64(f.clock.Now().Truncate(time.Second).Unix())

	// A reconcile that reads the object from a cache still showing the first poll must not
	// move the gauges back to it.
	stale := &staleClient{Client: f.client, frozen: firstPoll}
	f.rec.Client = stale
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_mirrored_tasks", object(metricsRepoName), 4)
	f.expect("swr_sync_last_successful_poll_timestamp_seconds", object(metricsRepoName), secondSuccess)

	// A restarted manager (new metrics, no poll due) exports the gauges from status at once,
	// without asking SWR.
	reg := prometheus.NewRegistry()
	m, err := controllers.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f.rec.Client, f.rec.Metrics, f.reg = f.client, m, reg
	f.rec.SWR = swr.NewClient(swr.WithRequestObserver(m.ObserveSWRRequest))
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_mirrored_tasks", object(metricsRepoName), 4)
	f.expect("swr_sync_last_successful_poll_timestamp_seconds", object(metricsRepoName), secondSuccess)
	f.expect("swr_sync_swr_requests_total", code("2xx"), 0)
	f.expectAbsent("swr_sync_poll_duration_seconds", result("success"))
}

func TestMetricsNilIsNoOp(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	f.srv.SetPolicies(metricsOrg, "app", policies("app", 1)...)
	f.create(metricsRepo(metricsRepoName, "app", f.srv.URL()))
	var none *controllers.Metrics
	f.rec.Metrics = none
	f.rec.SWR = swr.NewClient(swr.WithRequestObserver(none.ObserveSWRRequest))
	f.rec.Tokens = swr.NewTokenCache(swr.WithTokenRequestObserver(none.ObserveTokenRequest))

	f.mustReconcile(metricsRepoName)
	if err := f.client.Delete(context.Background(), f.fetch(metricsRepoName)); err != nil {
		t.Fatal(err)
	}
	f.mustReconcile(metricsRepoName)
	if got := f.srv.RequestCount(metricsOrg, "app"); got != 1 {
		t.Errorf("SWR saw %d requests, want the one poll", got)
	}
}

func TestNewMetricsRefusesDuplicates(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := controllers.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := controllers.NewMetrics(reg); err == nil {
		t.Error("registering the collectors twice on one registry succeeded")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range families {
		if !strings.HasPrefix(family.GetName(), "swr_sync_") {
			t.Errorf("metric %s lacks the swr_sync_ prefix", family.GetName())
		}
	}
}

func TestMetricsReplicationAndDrift(t *testing.T) {
	f := newMetricsFixture(t, secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}))
	north, east := policy(metricsOrg, "app", 1, "cn-north-4"), policy(metricsOrg, "app", 2, "cn-east-3")
	f.srv.SetPolicies(metricsOrg, "app", north, east)
	job := func(id int64, p swr.SyncRepo, tag, status, at string) swr.SyncJob {
		return swr.SyncJob{ID: id, RemoteRegionID: p.RemoteRegionID, RemoteNamespace: p.RemoteNamespace, Tag: tag, Status: status,
			CreatedAt: at, UpdatedAt: at}
	}
	f.srv.SetSyncJobs(metricsOrg, "app",
		job(1, north, "v1", swr.SyncJobSuccess, "2026-03-04T05:00:00Z"),
		job(2, north, "v2", swr.SyncJobFailed, "2026-03-04T05:01:00Z"),
		job(3, north, "v3", swr.SyncJobTimeout, "2026-03-04T05:02:00Z"))
	repo := metricsRepo(metricsRepoName, "app", f.srv.URL())
	repo.Spec.SyncJobs.Mode = swrv1.SyncJobsObserve
	repo.Spec.ExpectedPolicies = []swrv1.ExpectedPolicy{{RemoteRegionID: "cn-north-4", RemoteNamespace: north.RemoteNamespace}}
	f.create(repo)
	f.mustReconcile(metricsRepoName)

	target := func(p swr.SyncRepo) map[string]string {
		return map[string]string{"namespace": metricsNamespace, "name": metricsRepoName,
			"remote_region": p.RemoteRegionID, "remote_namespace": p.RemoteNamespace}
	}
	f.expect("swr_sync_replication_failed_tags", target(north), 2)
	f.expect("swr_sync_replication_last_success_timestamp_seconds", target(north),
		float64(time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC).Unix()))
	f.expect("swr_sync_replication_failed_tags", target(east), 0)
	f.expectAbsent("swr_sync_replication_last_success_timestamp_seconds", target(east))
	f.expect("swr_sync_policy_drift", object(metricsRepoName), 0)

	// The east policy goes away, and the north one stops being the only expected one: drift.
	f.srv.SetPolicies(metricsOrg, "app", north)
	current := f.fetch(metricsRepoName)
	current.Spec.ExpectedPolicies = append(current.Spec.ExpectedPolicies, swrv1.ExpectedPolicy{RemoteRegionID: "eu-west-101", RemoteNamespace: "dr"})
	if err := f.client.Update(context.Background(), current); err != nil {
		t.Fatal(err)
	}
	f.nextInterval()
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_policy_drift", object(metricsRepoName), 1)
	f.expectAbsent("swr_sync_replication_failed_tags", target(east))
	f.expect("swr_sync_replication_failed_tags", target(north), 2)

	// A failed job listing says nothing new: the series stay as they were.
	f.srv.SetSyncJobFault(metricsOrg, "app", swrtest.Fault{Status: http.StatusBadGateway})
	f.nextInterval()
	f.mustReconcile(metricsRepoName)
	f.expect("swr_sync_replication_failed_tags", target(north), 2)

	// Deleting the ImageRepository removes every series it had.
	if err := f.client.Delete(context.Background(), f.fetch(metricsRepoName)); err != nil {
		t.Fatal(err)
	}
	f.mustReconcile(metricsRepoName)
	f.expectAbsent("swr_sync_replication_failed_tags", target(north))
	f.expectAbsent("swr_sync_replication_last_success_timestamp_seconds", target(north))
	f.expectAbsent("swr_sync_policy_drift", object(metricsRepoName))
}
