package swr_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// wantJobQuery is the query of a first page of 100 jobs, byte for byte as the vendor SDK sends it.
const wantJobQuery = "filter=limit%3A%3A100%7Coffset%3A%3A0%7Corder%3A%3Adesc"

// listJobs calls ListSyncJobs with a generous deadline, so that a hang fails the test instead of
// stalling it.
func listJobs(t testing.TB, c *swr.Client, target swr.Target, auth swr.Authenticator, limit int) (swr.SyncJobPage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.ListSyncJobs(ctx, target, auth, limit)
}

// sampleJobs are three jobs of the sample policies' targets, oldest first.
func sampleJobs() []swr.SyncJob {
	job := func(id int64, created, status, tag string) swr.SyncJob {
		return swr.SyncJob{ID: id, CreatedAt: created, UpdatedAt: created, DomainID: "d1", DomainName: "tenant",
			Namespace: org, RepoName: repo, RemoteRegionID: "eu-west-101", RemoteNamespace: "mirror", Override: true,
			Status: status, SyncOperatorID: "u1", SyncOperatorName: "robot", Tag: tag}
	}
	return []swr.SyncJob{
		job(31, "2024-01-02T03:04:05Z", swr.SyncJobSuccess, "1.25"),
		job(32, "2024-01-02T03:04:05.5Z", swr.SyncJobFailed, "1.26"),
		job(40, "2024-01-03T00:00:00.123456Z", swr.SyncJobRunning, "1.27"),
	}
}

// newJobFixture is newFixture with the sample jobs stored too.
func newJobFixture(t testing.TB) (*swrtest.Server, *swr.Client, swr.Target, *swr.TokenAuth) {
	t.Helper()
	srv, c, target, auth := newFixture(t, samplePolicies()...)
	srv.SetSyncJobs(org, repo, sampleJobs()...)
	return srv, c, target, auth
}

func TestListSyncJobs(t *testing.T) {
	srv, c, target, auth := newJobFixture(t)
	page, err := listJobs(t, c, target, auth, swr.MaxSyncJobsPerList)
	if err != nil {
		t.Fatalf("ListSyncJobs() error = %v", err)
	}
	jobs := sampleJobs()
	want := swr.SyncJobPage{Jobs: []swr.SyncJob{jobs[2], jobs[1], jobs[0]}, Total: 3}
	if !reflect.DeepEqual(page, want) {
		t.Errorf("ListSyncJobs() =\n%+v\nwant\n%+v", page, want)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	checks := []struct{ name, got, want string }{
		{"kind", r.Kind, swrtest.RequestKindSyncJob},
		{"method", r.Method, http.MethodGet},
		{"path", r.Path, "/v2/manage/namespaces/acme/repos/library$nginx/sync_job"},
		{"query", r.Query, wantJobQuery},
		{"Content-Type", r.ContentType, "application/json"},
		{"Accept", r.Accept, "application/json"},
		{"User-Agent", r.UserAgent, swr.DefaultUserAgent},
		{"auth kind", r.AuthKind, swrtest.AuthKindToken},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("request %s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if n := srv.RequestCount(org, repo); n != 0 {
		t.Errorf("RequestCount = %d, want 0: a job listing is not a policy listing", n)
	}
}

func TestListSyncJobsPaging(t *testing.T) {
	_, c, target, auth := newJobFixture(t)
	page, err := listJobs(t, c, target, auth, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 2 || page.Jobs[0].ID != 40 || page.Jobs[1].ID != 32 || page.Total != 3 {
		t.Errorf("ListSyncJobs(limit 2) = %+v, want jobs 40 and 32 of 3", page)
	}

	_, c, empty, auth := newFixture(t)
	page, err = listJobs(t, c, empty, auth, 10)
	if err != nil {
		t.Fatal(err)
	}
	if page.Jobs == nil || len(page.Jobs) != 0 || page.Total != 0 {
		t.Errorf("ListSyncJobs() of a repository without jobs = %#v, want an empty non-nil page of 0", page)
	}
}

// jobUpstream is an SWR stand-in that answers every request with body and, unless it is empty,
// the Content-Range header, and remembers each request target as it arrived.
type jobUpstream struct {
	*httptest.Server
	mu           sync.Mutex
	seen         []string
	body         string
	contentRange string
}

func newJobUpstream(t *testing.T, body string) *jobUpstream {
	t.Helper()
	u := &jobUpstream{body: body}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.RequestURI)
		cr := u.contentRange
		u.mu.Unlock()
		if cr != "" {
			w.Header().Set("Content-Range", cr)
		}
		_, _ = w.Write([]byte(u.body))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *jobUpstream) targets() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

func (u *jobUpstream) setContentRange(v string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.contentRange = v
}

// TestListSyncJobsWire checks the request target byte for byte as it leaves the client: the '$'
// for '/', the path prefix of the endpoint, the encoded filter and the clamped limit.
func TestListSyncJobsWire(t *testing.T) {
	u := newJobUpstream(t, `[]`)
	const filter = "?filter=limit%3A%3A"
	const rest = "%7Coffset%3A%3A0%7Corder%3A%3Adesc"
	tests := []struct {
		endpoint, repository string
		limit                int
		want                 string
	}{
		{u.URL, "library/nginx", 100, "/v2/manage/namespaces/acme/repos/library$nginx/sync_job?" + wantJobQuery},
		{u.URL + "/", "a/b/c", 10, "/v2/manage/namespaces/acme/repos/a$b$c/sync_job" + filter + "10" + rest},
		{u.URL + "/gateway", "nginx", 1, "/gateway/v2/manage/namespaces/acme/repos/nginx/sync_job" + filter + "1" + rest},
		{u.URL, "nginx", 0, "/v2/manage/namespaces/acme/repos/nginx/sync_job" + filter + "1" + rest},
		{u.URL, "nginx", -7, "/v2/manage/namespaces/acme/repos/nginx/sync_job" + filter + "1" + rest},
		{u.URL, "nginx", 101, "/v2/manage/namespaces/acme/repos/nginx/sync_job" + filter + "100" + rest},
		{u.URL, "nginx", 1 << 40, "/v2/manage/namespaces/acme/repos/nginx/sync_job" + filter + "100" + rest},
	}
	c := swr.NewClient()
	for _, tt := range tests {
		before := len(u.targets())
		target := swr.Target{Endpoint: tt.endpoint, Organization: org, Repository: tt.repository}
		if _, err := listJobs(t, c, target, swr.NewTokenAuth("t"), tt.limit); err != nil {
			t.Fatalf("ListSyncJobs(%q, limit %d) error = %v", tt.endpoint, tt.limit, err)
		}
		if got := u.targets()[before:]; len(got) != 1 || got[0] != tt.want {
			t.Errorf("endpoint %q, repository %q, limit %d: request target %q, want [%q]",
				tt.endpoint, tt.repository, tt.limit, got, tt.want)
		}
	}
}

func TestListSyncJobsContentRange(t *testing.T) {
	u := newJobUpstream(t, `[{"id":1},{"id":2}]`)
	target := swr.Target{Endpoint: u.URL, Organization: org, Repository: repo}
	tests := []struct {
		header string
		want   int64
	}{
		{"0-2/42", 42},
		{" 0-2/2 ", 2},
		{"0-1/42", 42}, // the last index instead of the count: the total is the same
		{"", -1},       // absent
		{"garbage", -1},
		{"0-2/", -1},
		{"0-2/x", -1},
		{"0-2/-5", -1},
		{"0-2/+5", -1},
		{"*/42", -1},
		{"items 0-2/42", -1},
		{"0-2/42/7", -1},
		{"0-2/99999999999999999999", -1}, // beyond int64
		{"0-2/1", -1},                    // fewer than the page holds: not to be trusted
	}
	c := swr.NewClient()
	for _, tt := range tests {
		u.setContentRange(tt.header)
		page, err := listJobs(t, c, target, swr.NewTokenAuth("t"), 10)
		if err != nil {
			t.Fatalf("Content-Range %q: %v", tt.header, err)
		}
		if page.Total != tt.want || len(page.Jobs) != 2 {
			t.Errorf("Content-Range %q: Total = %d with %d jobs, want %d with 2", tt.header, page.Total, len(page.Jobs), tt.want)
		}
	}
}

func TestListSyncJobsStatuses(t *testing.T) {
	statuses := []string{
		swr.SyncJobWaiting, swr.SyncJobRunning, swr.SyncJobSuccess, swr.SyncJobFailed,
		swr.SyncJobTimeout, swr.SyncJobCancel, swr.SyncJobExisted,
		// Unknown values are kept exactly, not refused or normalized.
		"SUCCESS", "paused", " running ", "",
	}
	wantConstants := map[string]string{
		"waiting": swr.SyncJobWaiting, "running": swr.SyncJobRunning, "success": swr.SyncJobSuccess,
		"failed": swr.SyncJobFailed, "timeout": swr.SyncJobTimeout, "cancel": swr.SyncJobCancel, "existed": swr.SyncJobExisted,
	}
	for wire, constant := range wantConstants {
		if wire != constant {
			t.Errorf("status constant for %q is %q", wire, constant)
		}
	}
	srv, c, target, auth := newFixture(t)
	jobs := make([]swr.SyncJob, len(statuses))
	for i, s := range statuses {
		jobs[i] = swr.SyncJob{ID: int64(i + 1), CreatedAt: "2024-01-01T00:00:00Z", Status: s}
	}
	srv.SetSyncJobs(org, repo, jobs...)
	page, err := listJobs(t, c, target, auth, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, j := range page.Jobs {
		got[j.ID] = j.Status
	}
	for i, s := range statuses {
		if st, ok := got[int64(i+1)]; !ok || st != s {
			t.Errorf("job %d: status %q (present %v), want %q", i+1, st, ok, s)
		}
	}
}

func TestListSyncJobsVerbatimBody(t *testing.T) {
	// The field set of the vendor SDK's SyncJob, with an unknown field and odd spacing.
	const body = `[ {
  "createdAt" : "2020-04-17T02:11:03.53183Z",
  "domainID" : "8b1e81************************633fb",
  "domainName" : "p*********59",
  "id" : 9007199254740993,
  "namespace" : "test",
  "override" : true,
  "remoteNamespace" : "sdsad",
  "remoteRegionId" : "region1",
  "repoName" : "grpc-helloworld",
  "status" : "existed",
  "syncOperatorId" : "0970dd7a1300f5672ff2c003c60ae115",
  "syncOperatorName" : "p*********59",
  "tag" : "v1",
  "updatedAt" : "2020-04-17T02:11:04Z",
  "futureField" : {"nested": [1, 2]}
} ]`
	srv, c, target, auth := newFixture(t)
	srv.SetSyncJobFault(org, repo, swrtest.Fault{RawBody: body})
	page, err := listJobs(t, c, target, auth, 10)
	if err != nil {
		t.Fatalf("ListSyncJobs() error = %v", err)
	}
	want := swr.SyncJobPage{Total: -1, Jobs: []swr.SyncJob{{
		ID: 9007199254740993, CreatedAt: "2020-04-17T02:11:03.53183Z", UpdatedAt: "2020-04-17T02:11:04Z",
		DomainID: "8b1e81************************633fb", DomainName: "p*********59", Namespace: "test",
		RepoName: "grpc-helloworld", RemoteRegionID: "region1", RemoteNamespace: "sdsad", Override: true,
		Status: swr.SyncJobExisted, SyncOperatorID: "0970dd7a1300f5672ff2c003c60ae115", SyncOperatorName: "p*********59", Tag: "v1",
	}}}
	if !reflect.DeepEqual(page, want) {
		t.Errorf("ListSyncJobs() =\n%+v\nwant\n%+v", page, want)
	}
}

// TestListSyncJobsForbidden is a credential allowed to list policies but not jobs: only the job
// listing fails, as Forbidden with SWR's code, and is not worth retrying.
func TestListSyncJobsForbidden(t *testing.T) {
	srv, c, target, auth := newJobFixture(t)
	srv.SetSyncJobFault(org, repo, swrtest.Fault{Status: http.StatusForbidden,
		Body: swrtest.NewErrorBody("SVCSTG.SWR.4039002", "no permission")})
	page, err := listJobs(t, c, target, auth, 10)
	e := asError(t, err)
	if e.Class != swr.ClassForbidden || e.StatusCode != http.StatusForbidden || e.Code != "SVCSTG.SWR.4039002" || e.Retryable() {
		t.Errorf("error = %+v, want a non-retryable Forbidden 403 SVCSTG.SWR.4039002", e)
	}
	if want := "SWR returned 403 Forbidden: SVCSTG.SWR.4039002 no permission"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if page.Jobs != nil || page.Total != 0 {
		t.Errorf("ListSyncJobs() returned %+v with an error, want the zero page", page)
	}
	if policies, err := list(t, c, target, auth); err != nil || len(policies) != 2 {
		t.Errorf("ListSyncRepos() with the same credential = %d policies, %v; want 2", len(policies), err)
	}
}

func TestListSyncJobsErrorResponses(t *testing.T) {
	tests := []struct {
		name  string
		fault swrtest.Fault
		class swr.Class
		code  string
	}{
		{"throttled", swrtest.Fault{Status: 403, Body: swrtest.NewErrorBody("SVCSTG.SWR.4031032", "too many requests")},
			swr.ClassThrottled, "SVCSTG.SWR.4031032"},
		{"bad filter", swrtest.Fault{Status: 400, Body: swrtest.NewErrorBody("SVCSTG.SWR.4001000", "bad filter")},
			swr.ClassBadRequest, "SVCSTG.SWR.4001000"},
		{"server error", swrtest.Fault{Status: 502, Body: "<html>502</html>"}, swr.ClassServer, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, target, auth := newJobFixture(t)
			srv.SetSyncJobFault(org, repo, tt.fault)
			_, err := listJobs(t, c, target, auth, 10)
			if e := asError(t, err); e.Class != tt.class || e.Code != tt.code || e.StatusCode != tt.fault.Status {
				t.Errorf("error = %+v, want %s %d %q", e, tt.class, tt.fault.Status, tt.code)
			}
		})
	}
	t.Run("unknown repository", func(t *testing.T) {
		_, c, target, auth := newJobFixture(t)
		target.Repository = "nope"
		_, err := listJobs(t, c, target, auth, 10)
		if e := asError(t, err); e.Class != swr.ClassNotFound || e.Code != swrtest.CodeRepositoryNotFound {
			t.Errorf("error = %+v, want NotFound %s", e, swrtest.CodeRepositoryNotFound)
		}
	})
}

func TestListSyncJobsBadBodies(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantMsg string
	}{
		{"null", `null`, "expected a JSON array, got null"},
		{"object", `{"jobs":[]}`, "expected a JSON array, got an object"},
		{"truncated", `[{"id":1},{"id":2`, "truncated JSON"},
		{"malformed", `[{"id":1},]`, "malformed JSON"},
		{"missing id", `[{"status":"success"}]`, "entry 0: no id"},
		{"string id", `[{"id":"7"}]`, "entry 0: id is a string"},
		{"fractional id", `[{"id":7.5}]`, "entry 0: id is not an integer"},
		{"duplicate id", `[{"id":7,"tag":"a"},{"id":7,"tag":"b"}]`, "entries 0 and 1 have the same id 7"},
		{"status not a string", `[{"id":7,"status":1}]`, `field "status" is a JSON number`},
		{"html with 200", `<html>login</html>`, "expected a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, target, auth := newJobFixture(t)
			srv.SetSyncJobFault(org, repo, swrtest.Fault{RawBody: tt.body, Header: http.Header{"Content-Range": {"0-1/1"}}})
			page, err := listJobs(t, c, target, auth, 10)
			e := asError(t, err)
			if page.Jobs != nil {
				t.Errorf("ListSyncJobs() returned %d jobs with an error", len(page.Jobs))
			}
			if e.Class != swr.ClassBadBody || e.StatusCode != http.StatusOK || !e.Retryable() {
				t.Errorf("error = %+v, want a retryable BadResponse with status 200", e)
			}
			if want := "invalid response from SWR (200 OK): "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Error() = %q, want %q...%q", err, want, tt.wantMsg)
			}
		})
	}
}

func TestListSyncJobsBodyLimit(t *testing.T) {
	_, _, target, auth := newJobFixture(t)
	c := swr.NewClient(swr.WithMaxResponseBytes(100))
	_, err := listJobs(t, c, target, auth, 10)
	if swr.ClassOf(err) != swr.ClassBadBody || !strings.Contains(err.Error(), "exceeds 100 bytes") {
		t.Errorf("error = %v, want BadResponse: exceeds 100 bytes", err)
	}
}

func TestListSyncJobsRefusedBeforeSending(t *testing.T) {
	srv, c, good, auth := newJobFixture(t)
	for name, tt := range map[string]struct {
		target swr.Target
		auth   swr.Authenticator
		class  swr.Class
	}{
		"repository already encoded":     {swr.Target{Endpoint: good.Endpoint, Organization: org, Repository: "library$nginx"}, auth, swr.ClassBadRequest},
		"organization starts with digit": {swr.Target{Endpoint: good.Endpoint, Organization: "1a", Repository: repo}, auth, swr.ClassBadRequest},
		"relative endpoint":              {swr.Target{Endpoint: "swr-api.example.com", Organization: org, Repository: repo}, auth, swr.ClassBadRequest},
		"nil authenticator":              {good, nil, swr.ClassUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := listJobs(t, c, tt.target, tt.auth, 10)
			if e := asError(t, err); e.Class != tt.class || e.Retryable() {
				t.Errorf("error = %+v, want a non-retryable %s", e, tt.class)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// TestListSyncJobsRefreshesRevokedToken checks the refresh-once on 401 for the job listing.
func TestListSyncJobsRefreshesRevokedToken(t *testing.T) {
	srv, cache, creds := newIAMFixture(t)
	srv.SetSyncJobs(org, repo, sampleJobs()...)
	c := swr.NewClient()
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}
	auth := cache.PasswordAuth(creds)
	if _, err := listJobs(t, c, target, auth, 10); err != nil {
		t.Fatal(err)
	}
	if srv.IAMRequestCount() != 1 || srv.SyncJobRequestCount(org, repo) != 1 {
		t.Fatalf("first listing: %d IAM, %d SWR requests; want 1, 1", srv.IAMRequestCount(), srv.SyncJobRequestCount(org, repo))
	}

	srv.RevokeIssuedTokens()
	page, err := listJobs(t, c, target, auth, 10)
	if err != nil || len(page.Jobs) != 3 {
		t.Fatalf("listing after revocation: %d jobs, %v; want success", len(page.Jobs), err)
	}
	if srv.IAMRequestCount() != 2 || srv.SyncJobRequestCount(org, repo) != 3 {
		t.Errorf("after revocation: %d IAM, %d SWR requests; want 2, 3 (one new token, one retry)",
			srv.IAMRequestCount(), srv.SyncJobRequestCount(org, repo))
	}
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; last.Query != "filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Adesc" || last.AuthKind != swrtest.AuthKindIAMToken {
		t.Errorf("retry = %+v, want the same query with an IAM token", last)
	}

	// SWR keeps refusing: exactly one retry, then the 401 is returned.
	srv.SetSyncJobFault(org, repo, swrtest.Fault{Status: 401,
		Body: swrtest.NewErrorBody(swrtest.CodeUnauthorized, "Authenticate Error: token missing, invalid or expired")})
	srv.ResetRequests()
	_, err = listJobs(t, c, target, auth, 10)
	e := asError(t, err)
	if e.Class != swr.ClassUnauthorized || e.StatusCode != http.StatusUnauthorized || e.Step != "" || e.Code != swrtest.CodeUnauthorized {
		t.Errorf("error = %+v, want SWR's 401", e)
	}
	if got := srv.SyncJobRequestCount(org, repo); got != 2 {
		t.Errorf("SWR requests = %d, want exactly 2", got)
	}
	if got := srv.IAMRequestCount(); got != 3 {
		t.Errorf("IAMRequestCount() = %d, want 3 (the retry got a new token)", got)
	}
}

// TestListSyncJobsAKSK checks that the signature covers the encoded filter the way the
// independent verifier reads it.
func TestListSyncJobsAKSK(t *testing.T) {
	srv, clock, target := newAKSKFixture(t)
	srv.SetSyncJobs(org, repo, sampleJobs()...)
	auth := swr.NewAKSKAuth(swr.AKSKCredentials{AccessKey: testAK, SecretKey: testSK}, swr.WithSigningClock(clock.Now))
	page, err := listJobs(t, swr.NewClient(), target, auth, 2)
	if err != nil || len(page.Jobs) != 2 || page.Total != 3 {
		t.Fatalf("ListSyncJobs() = %+v, %v; want 2 of 3 jobs", page, err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].AuthKind != swrtest.AuthKindAKSK {
		t.Errorf("requests = %+v, want one AK/SK-signed job listing", reqs)
	}
}
