package swrtest

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
)

const jobPath = "/v2/manage/namespaces/acme/repos/library$nginx/sync_job"

// jobFilter is the filter limit::{limit}|offset::{offset}|order::desc as the vendor SDK sends it.
func jobFilter(limit, offset string) string {
	return "?filter=limit%3A%3A" + limit + "%7Coffset%3A%3A" + offset + "%7Corder%3A%3Adesc"
}

// sampleJobs are five jobs whose creation times need a time comparison (fraction digits vary),
// with two created at the same instant, spelled differently.
func sampleJobs() []swr.SyncJob {
	return []swr.SyncJob{
		{ID: 1, CreatedAt: "2024-01-01T00:00:00Z", Status: swr.SyncJobSuccess, Tag: "v1"},
		{ID: 2, CreatedAt: "2024-01-01T00:00:00.5Z", Status: swr.SyncJobFailed, Tag: "v2"},
		{ID: 3, CreatedAt: "2024-01-01T00:00:00.45Z", Status: swr.SyncJobExisted, Tag: "v3"},
		{ID: 7, CreatedAt: "2024-01-02T00:00:00Z", Status: swr.SyncJobRunning, Tag: "v4"},
		{ID: 5, CreatedAt: "2024-01-02T00:00:00.000Z", Status: "paused-by-ops", Tag: "v5"},
	}
}

// newJobServer starts a server whose library/nginx has the sample policies and jobs.
func newJobServer(t *testing.T) *Server {
	t.Helper()
	s := newTestServer(t)
	s.SetSyncJobs("acme", "library/nginx", sampleJobs()...)
	return s
}

// jobIDs decodes a job listing body into its ids, failing on anything but a JSON array.
func jobIDs(t *testing.T, body string) []int64 {
	t.Helper()
	var jobs []swr.SyncJob
	if err := json.Unmarshal([]byte(body), &jobs); err != nil || jobs == nil {
		t.Fatalf("body %q is not a JSON array of jobs: %v", body, err)
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

func TestSyncJobsOrderAndPaging(t *testing.T) {
	s := newJobServer(t)
	s.SetSyncJobs("acme", "empty")
	tests := []struct {
		name         string
		path         string
		want         []int64
		contentRange string
	}{
		// 7 and 5 share an instant: the higher id comes first. 0.5 s is later than 0.45 s.
		{"newest first", jobPath + jobFilter("10", "0"), []int64{7, 5, 2, 3, 1}, "0-5/5"},
		{"oldest first", jobPath + "?filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Aasc", []int64{1, 3, 2, 5, 7}, "0-5/5"},
		{"first page", jobPath + jobFilter("2", "0"), []int64{7, 5}, "0-2/5"},
		{"second page", jobPath + jobFilter("2", "2"), []int64{2, 3}, "2-2/5"},
		{"last, short page", jobPath + jobFilter("2", "4"), []int64{1}, "4-1/5"},
		{"past the end", jobPath + jobFilter("2", "5"), []int64{}, "5-0/5"},
		{"far past the end", jobPath + jobFilter("2", "9223372036854775807"), []int64{}, "9223372036854775807-0/5"},
		{"order defaults to desc", jobPath + "?filter=limit%3A%3A1%7Coffset%3A%3A0", []int64{7}, "0-1/5"},
		{"keys in any order", jobPath + "?filter=order%3A%3Aasc%7Coffset%3A%3A1%7Climit%3A%3A1", []int64{3}, "1-1/5"},
		{"raw separators", jobPath + "?filter=limit::2|offset::1|order::desc", []int64{5, 2}, "1-2/5"},
		{"no jobs", "/v2/manage/namespaces/acme/repos/empty/sync_job" + jobFilter("10", "0"), []int64{}, "0-0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, "GET", tt.path, goodHeader())
			if got.status != 200 {
				t.Fatalf("status = %d, want 200 (body %s)", got.status, got.body)
			}
			if ids := jobIDs(t, got.body); !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
			if cr := got.header.Get("Content-Range"); cr != tt.contentRange {
				t.Errorf("Content-Range = %q, want %q", cr, tt.contentRange)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestSyncJobsFieldsOnTheWire(t *testing.T) {
	s := newTestServer(t)
	job := swr.SyncJob{ID: 9007199254740993, CreatedAt: "2024-05-06T07:08:09.123456Z", UpdatedAt: "2024-05-06T07:09:00Z",
		DomainID: "d1", DomainName: "tenant", Namespace: "acme", RepoName: "library/nginx", RemoteRegionID: "cn-north-4",
		RemoteNamespace: "mirror", Override: true, Status: swr.SyncJobWaiting, SyncOperatorID: "u1", SyncOperatorName: "robot", Tag: "1.27"}
	s.SetSyncJobs("acme", "library/nginx", job)
	got := do(t, s, "GET", jobPath+jobFilter("1", "0"), goodHeader())
	want := `[{"id":9007199254740993,"createdAt":"2024-05-06T07:08:09.123456Z","updatedAt":"2024-05-06T07:09:00Z",` +
		`"domainID":"d1","domainName":"tenant","namespace":"acme","repoName":"library/nginx","remoteRegionId":"cn-north-4",` +
		`"remoteNamespace":"mirror","override":true,"status":"waiting","syncOperatorId":"u1","syncOperatorName":"robot","tag":"1.27"}]`
	if got.status != 200 || got.body != want {
		t.Errorf("answer = %d %s\nwant 200 %s", got.status, got.body, want)
	}
}

func TestSyncJobsFilterRefused(t *testing.T) {
	s := newJobServer(t)
	tests := []struct{ name, query, wantMsg string }{
		{"no query", "", "the filter parameter is required"},
		{"empty filter", "?filter=", "the filter parameter is required"},
		{"other parameter only", "?limit=10&offset=0", "the filter parameter is required"},
		{"filter twice", jobFilter("1", "0") + "&filter=limit%3A%3A1%7Coffset%3A%3A0", "must be given once"},
		{"limit without offset", "?filter=limit%3A%3A10%7Corder%3A%3Adesc", "limit and offset must be given together"},
		{"offset without limit", "?filter=offset::0|order::desc", "limit and offset must be given together"},
		{"order only", "?filter=order%3A%3Adesc", "limit and offset must be given together"},
		{"zero limit", jobFilter("0", "0"), `filter limit "0" is not a positive integer`},
		{"negative offset", jobFilter("1", "-1"), `filter offset "-1" is not a non-negative integer`},
		{"word limit", jobFilter("ten", "0"), `filter limit "ten"`},
		{"bad order", "?filter=limit::1|offset::0|order::newest", `filter order "newest" is neither desc nor asc`},
		{"single colon", "?filter=limit:1|offset::0", `filter item "limit:1" is not key::value`},
		{"misspelled key", "?filter=limt::1|offset::0", `filter key "limt" is unknown`},
		{"repeated key", "?filter=limit::1|offset::0|limit::2", `filter key "limit" is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, "GET", jobPath+tt.query, goodHeader())
			if got.status != 400 {
				t.Fatalf("status = %d, want 400 (body %s)", got.status, got.body)
			}
			code, msg := errorOf(t, got.body)
			if code != CodeBadRequest || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error = %s %q, want %s with %q", code, msg, CodeBadRequest, tt.wantMsg)
			}
		})
	}
}

// errorOf reads the code and message of an error body in SWR's new form.
func errorOf(t *testing.T, body string) (code, msg string) {
	t.Helper()
	var e newError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q is not an SWR error body: %v", body, err)
	}
	return e.ErrorCode, e.ErrorMsg
}

func TestSyncJobsAnswersLikeTheListing(t *testing.T) {
	s := newJobServer(t)
	without := func(key string) http.Header { h := goodHeader(); h.Del(key); return h }
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		code   string
	}{
		{"no token", "GET", jobPath + jobFilter("1", "0"), without("X-Auth-Token"), 401, CodeUnauthorized},
		// Authentication comes before the filter is looked at.
		{"no token, no filter", "GET", jobPath, without("X-Auth-Token"), 401, CodeUnauthorized},
		{"no content type", "GET", jobPath + jobFilter("1", "0"), without("Content-Type"), 400, ""},
		{"unknown organization", "GET", "/v2/manage/namespaces/other/repos/library$nginx/sync_job" + jobFilter("1", "0"),
			goodHeader(), 404, CodeNamespaceNotFound},
		{"unknown repository", "GET", "/v2/manage/namespaces/acme/repos/nope/sync_job" + jobFilter("1", "0"),
			goodHeader(), 404, CodeRepositoryNotFound},
		{"unencoded slash", "GET", "/v2/manage/namespaces/acme/repos/library/nginx/sync_job" + jobFilter("1", "0"),
			goodHeader(), 404, CodeAPINotFound},
		{"escaped dollar", "GET", "/v2/manage/namespaces/acme/repos/library%24nginx/sync_job" + jobFilter("1", "0"),
			goodHeader(), 200, ""},
		{"POST", "POST", jobPath + jobFilter("1", "0"), goodHeader(), 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, tt.method, tt.path, tt.header)
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tt.status, got.body)
			}
			if tt.code != "" {
				if code, _ := errorOf(t, got.body); code != tt.code {
					t.Errorf("code = %q, want %q", code, tt.code)
				}
			}
		})
	}

	s.DeleteRepository("acme", "library/nginx")
	if got := s.SyncJobs("acme", "library/nginx"); got != nil {
		t.Errorf("SyncJobs() after DeleteRepository = %+v, want nil", got)
	}
	if got := do(t, s, "GET", jobPath+jobFilter("1", "0"), goodHeader()); got.status != 404 {
		t.Errorf("after DeleteRepository: status %d, want 404", got.status)
	}
}

func TestSyncJobsAndPoliciesAreKeptApart(t *testing.T) {
	s := NewServer()
	defer s.Close()
	jobs := sampleJobs()
	s.SetSyncJobs("acme", "app", jobs...)
	jobs[0].Status = "changed by caller"
	if got := s.Policies("acme", "app"); got == nil || len(got) != 0 {
		t.Errorf("Policies() of a repository made by SetSyncJobs = %#v, want empty non-nil", got)
	}
	s.SetPolicies("acme", "app", swr.SyncRepo{ID: 1})
	got := s.SyncJobs("acme", "app")
	if ids := []int64{got[0].ID, got[1].ID, got[2].ID, got[3].ID, got[4].ID}; !reflect.DeepEqual(ids, []int64{7, 5, 2, 3, 1}) {
		t.Errorf("SyncJobs() ids = %v, want newest first", ids)
	}
	for _, j := range got {
		if j.Status == "changed by caller" {
			t.Error("SetSyncJobs kept the caller's slice")
		}
	}
	got[0].Tag = "changed again"
	if again := s.SyncJobs("acme", "app"); again[0].Tag != "v4" {
		t.Errorf("SyncJobs() after mutating a returned copy: tag %q, want v4", again[0].Tag)
	}
	s.SetSyncJobs("acme", "app")
	if got := s.SyncJobs("acme", "app"); got == nil || len(got) != 0 {
		t.Errorf("SyncJobs() after SetSyncJobs with none = %#v, want empty non-nil", got)
	}
	if got := s.Policies("acme", "app"); len(got) != 1 {
		t.Errorf("SetSyncJobs changed the policies: %+v", got)
	}
	if got := s.SyncJobs("acme", "missing"); got != nil {
		t.Errorf("SyncJobs(missing) = %+v, want nil", got)
	}
}

func TestSyncJobFaultsAreIndependent(t *testing.T) {
	s := newJobServer(t)
	s.SetPolicies("acme", "other")
	s.SetSyncJobs("acme", "other")
	jobs := jobPath + jobFilter("1", "0")
	otherJobs := "/v2/manage/namespaces/acme/repos/other/sync_job" + jobFilter("1", "0")
	denied := Fault{Status: http.StatusForbidden, Body: NewErrorBody("SVCSTG.SWR.4039002", "no permission")}

	s.SetSyncJobFault("acme", "library/nginx", denied)
	if got := do(t, s, "GET", jobs, goodHeader()); got.status != 403 || !strings.Contains(got.body, "SVCSTG.SWR.4039002") {
		t.Errorf("job listing with a job fault: %d %s, want 403 SVCSTG.SWR.4039002", got.status, got.body)
	}
	if got := do(t, s, "GET", listPath, goodHeader()); got.status != 200 {
		t.Errorf("policy listing with a job fault: %d, want 200", got.status)
	}

	s.ClearSyncJobFault("acme", "library/nginx")
	s.SetFault("", "", Fault{Status: 503})
	if got := do(t, s, "GET", jobs, goodHeader()); got.status != 200 {
		t.Errorf("job listing with a global policy fault: %d, want 200", got.status)
	}
	if got := do(t, s, "GET", listPath, goodHeader()); got.status != 503 {
		t.Errorf("policy listing with a global policy fault: %d, want 503", got.status)
	}
	s.ClearFault("", "")

	// Wildcards and precedence work as SetFault's.
	s.SetSyncJobFault("", "", Fault{Status: 500})
	s.SetSyncJobFault("acme", "", Fault{Status: 429})
	s.SetSyncJobFault("acme", "library/nginx", Fault{RawBody: `{}`})
	if got := do(t, s, "GET", jobs, goodHeader()); got.status != 200 || got.body != `{}` {
		t.Errorf("exact job fault: %d %q, want 200 {}", got.status, got.body)
	}
	if got := do(t, s, "GET", otherJobs, goodHeader()); got.status != 429 {
		t.Errorf("organization job fault: %d, want 429", got.status)
	}
	s.ClearSyncJobFault("acme", "")
	if got := do(t, s, "GET", otherJobs, goodHeader()); got.status != 500 {
		t.Errorf("global job fault: %d, want 500", got.status)
	}
	s.ClearSyncJobFault("", "")
	s.SetSyncJobFault("acme", "library/nginx", Fault{Header: http.Header{"Content-Range": {"garbage"}}})
	if got := do(t, s, "GET", jobs, goodHeader()); got.status != 200 || got.header.Get("Content-Range") != "garbage" ||
		!strings.HasPrefix(got.body, `[{"id":7,`) {
		t.Errorf("header-only job fault: %d %v %q, want the normal page with the fault's Content-Range", got.status, got.header, got.body)
	}
	s.ClearSyncJobFault("acme", "library/nginx")
	if got := do(t, s, "GET", otherJobs, goodHeader()); got.status != 200 {
		t.Errorf("after clearing every job fault: %d, want 200", got.status)
	}
}

func TestSyncJobFaultsSendThePage(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetSyncJobs("acme", "app", sampleJobs()...)
	client := swr.NewClient()
	target := swr.Target{Endpoint: s.URL(), Organization: "acme", Repository: "app"}
	auth := swr.NewTokenAuth(DefaultToken)

	s.SetSyncJobFault("acme", "app", Fault{ResetMidBody: true})
	if _, err := client.ListSyncJobs(context.Background(), target, auth, 2); swr.ClassOf(err) != swr.ClassNetwork && swr.ClassOf(err) != swr.ClassBadBody {
		t.Fatalf("a connection dropped mid-body gave %v (class %q), want a network or bad-body error", err, swr.ClassOf(err))
	}

	// A drip slow enough to outlast no deadline still sends the requested page, byte by byte.
	s.SetSyncJobFault("acme", "app", Fault{DripBody: time.Microsecond})
	page, err := client.ListSyncJobs(context.Background(), target, auth, 2)
	if err != nil || len(page.Jobs) != 2 || page.Jobs[0].ID != 7 || page.Total != -1 {
		t.Fatalf("dripped page = %+v, %v; want jobs 7 and 5 without a total", page, err)
	}
}

func TestSyncJobRequestsRecorded(t *testing.T) {
	s := newJobServer(t)
	do(t, s, "GET", listPath, goodHeader())
	do(t, s, "GET", jobPath+jobFilter("3", "0"), goodHeader())
	do(t, s, "GET", jobPath, goodHeader())
	do(t, s, "GET", jobPath+"?filter=limit::1|offset::0", goodHeader())

	reqs := s.Requests()
	if len(reqs) != 4 {
		t.Fatalf("Requests() has %d entries, want 4", len(reqs))
	}
	if reqs[0].Kind != RequestKindSyncRepo || reqs[0].Query != "" {
		t.Errorf("policy listing recorded as %+v", reqs[0])
	}
	want := RecordedRequest{Kind: RequestKindSyncJob, Method: "GET", Path: jobPath,
		Query:        "filter=limit%3A%3A3%7Coffset%3A%3A0%7Corder%3A%3Adesc",
		Organization: "acme", Repository: "library/nginx", ContentType: "application/json", HasToken: true,
		AuthKind: AuthKindToken, UserAgent: reqs[1].UserAgent, Time: reqs[1].Time}
	if reqs[1] != want {
		t.Errorf("job listing recorded as\n%+v\nwant\n%+v", reqs[1], want)
	}
	if got := reqs[3].Query; got != "filter=limit::1|offset::0" {
		t.Errorf("Query = %q, want the raw separators as sent", got)
	}
	// A refused job listing is still a job listing request.
	if got := s.SyncJobRequestCount("acme", "library/nginx"); got != 3 {
		t.Errorf("SyncJobRequestCount = %d, want 3", got)
	}
	if got := s.RequestCount("acme", "library/nginx"); got != 1 {
		t.Errorf("RequestCount = %d, want 1: job listings are not policy polls", got)
	}
}

func TestParseSyncJobFilter(t *testing.T) {
	tests := []struct {
		values []string
		want   syncJobFilter
	}{
		{[]string{"limit::10|offset::0|order::desc"}, syncJobFilter{limit: 10}},
		{[]string{"limit::1|offset::20|order::asc"}, syncJobFilter{limit: 1, offset: 20, ascending: true}},
		{[]string{"offset::3|limit::4"}, syncJobFilter{limit: 4, offset: 3}},
	}
	for _, tt := range tests {
		got, problem := parseSyncJobFilter(tt.values)
		if problem != "" || got != tt.want {
			t.Errorf("parseSyncJobFilter(%q) = %+v, %q; want %+v", tt.values, got, problem, tt.want)
		}
	}
	for _, bad := range [][]string{nil, {""}, {"limit::1"}, {"limit::1|offset::0|"}, {"limit::1|offset::0", "x"}, {"limit::1|offset::0|order::"}} {
		if got, problem := parseSyncJobFilter(bad); problem == "" {
			t.Errorf("parseSyncJobFilter(%q) = %+v, want a problem", bad, got)
		}
	}
}
