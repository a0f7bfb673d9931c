package swrtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
)

const listPath = "/v2/manage/namespaces/acme/repos/library$nginx/sync_repo"

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a raw request, so that the tests control every byte of the path and headers.
func do(t *testing.T, s *Server, method, rawPath string, header http.Header) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL()+rawPath, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func goodHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Auth-Token": {DefaultToken}}
}

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	s.SetPolicies("acme", "library/nginx", swr.SyncRepo{ID: 9, RemoteRegionID: "r2"}, swr.SyncRepo{ID: 2, RemoteRegionID: "r1"})
	return s
}

func TestServerAnswers(t *testing.T) {
	s := newTestServer(t)
	s.SetPolicies("acme", "empty")
	without := func(key string) http.Header { h := goodHeader(); h.Del(key); return h }
	with := func(key, value string) http.Header { h := goodHeader(); h.Set(key, value); return h }

	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		body   string
	}{
		{"listing in id order", "GET", listPath, goodHeader(), 200,
			`[{"id":2,"createdAt":"","updatedAt":"","domainID":"","domainName":"","namespace":"","repoName":"","remoteRegionId":"r1","remoteNamespace":"","override":false,"syncAuto":false},` +
				`{"id":9,"createdAt":"","updatedAt":"","domainID":"","domainName":"","namespace":"","repoName":"","remoteRegionId":"r2","remoteNamespace":"","override":false,"syncAuto":false}]`},
		{"empty repository", "GET", "/v2/manage/namespaces/acme/repos/empty/sync_repo", goodHeader(), 200, `[]`},
		{"escaped dollar", "GET", "/v2/manage/namespaces/acme/repos/library%24nginx/sync_repo", goodHeader(), 200, ""},
		{"unencoded slash", "GET", "/v2/manage/namespaces/acme/repos/library/nginx/sync_repo", goodHeader(), 404,
			NewErrorBody(CodeAPINotFound, "The API does not exist or has not been published in the environment")},
		{"escaped slash", "GET", "/v2/manage/namespaces/acme/repos/library%2Fnginx/sync_repo", goodHeader(), 404,
			NewErrorBody(CodeRepositoryNotFound, "image not found")},
		{"other path", "GET", "/v2/manage/repositories", goodHeader(), 404, ""},
		{"trailing slash", "GET", listPath + "/", goodHeader(), 404, ""},
		{"POST", "POST", listPath, goodHeader(), 405, ""},
		{"no token", "GET", listPath, without("X-Auth-Token"), 401,
			NewErrorBody(CodeUnauthorized, "Authenticate Error: token missing, invalid or expired")},
		{"wrong token", "GET", listPath, with("X-Auth-Token", "nope"), 401, ""},
		{"no content type", "GET", listPath, without("Content-Type"), 400,
			OldErrorBody(CodeBadRequest, "Content-Type must be application/json")},
		{"text content type", "GET", listPath, with("Content-Type", "text/plain"), 400, ""},
		{"content type with charset", "GET", listPath, with("Content-Type", "application/json; charset=utf-8"), 200, ""},
		{"vendor's odd content type", "GET", listPath, with("Content-Type", "charset=utf-8 application/json"), 200, ""},
		{"unknown organization", "GET", "/v2/manage/namespaces/other/repos/library$nginx/sync_repo", goodHeader(), 404,
			NewErrorBody(CodeNamespaceNotFound, "namespace not found")},
		{"unknown repository", "GET", "/v2/manage/namespaces/acme/repos/nope/sync_repo", goodHeader(), 404,
			NewErrorBody(CodeRepositoryNotFound, "image not found")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, tt.method, tt.path, tt.header)
			if got.status != tt.status {
				t.Errorf("status = %d, want %d (body %s)", got.status, tt.status, got.body)
			}
			if tt.body != "" && got.body != tt.body {
				t.Errorf("body =\n%s\nwant\n%s", got.body, tt.body)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.status == 405 && got.header.Get("Allow") != "GET" {
				t.Errorf("Allow = %q, want GET", got.header.Get("Allow"))
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	if got, want := OldErrorBody("SVCSTG.SWR.4001048", "bad"), `[{"errorCode":"SVCSTG.SWR.4001048","errorMessage":"bad","detail":""}]`; got != want {
		t.Errorf("OldErrorBody() = %s, want %s", got, want)
	}
	want := `{"error_code":"C","error_msg":"m \"q\"","errors":[{"errorCode":"C","errorMessage":"m \"q\"","detail":""}]}`
	if got := NewErrorBody("C", `m "q"`); got != want {
		t.Errorf("NewErrorBody() = %s, want %s", got, want)
	}
}

func TestRecordedRequests(t *testing.T) {
	const token = "very-secret-token"
	s := newTestServer(t)
	s.SetToken(token)
	h := goodHeader()
	h.Set("X-Auth-Token", token)
	h.Set("User-Agent", "probe/1")
	do(t, s, "GET", listPath, h)
	do(t, s, "GET", "/v2/manage/namespaces/acme/repos/other/sync_repo", nil)
	do(t, s, "GET", "/elsewhere", nil)

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("Requests() has %d entries, want 3", len(reqs))
	}
	first := reqs[0]
	first.Time = time.Time{}
	want := RecordedRequest{Kind: RequestKindSyncRepo, Method: "GET", Path: listPath, Organization: "acme", Repository: "library/nginx",
		ContentType: "application/json", UserAgent: "probe/1", HasToken: true, AuthKind: AuthKindToken}
	if first != want {
		t.Errorf("first request = %+v, want %+v", first, want)
	}
	if reqs[1].HasToken || reqs[1].AuthKind != AuthKindNone || reqs[1].Repository != "other" {
		t.Errorf("second request = %+v, want repository other without token", reqs[1])
	}
	if reqs[2].Organization != "" || reqs[2].Path != "/elsewhere" || reqs[2].Kind != "" {
		t.Errorf("third request = %+v, want an unrecognized path", reqs[2])
	}
	if reqs[0].Time.IsZero() || reqs[1].Time.Before(reqs[0].Time) {
		t.Errorf("times %v, %v: want set and in arrival order", reqs[0].Time, reqs[1].Time)
	}
	if dump := fmt.Sprintf("%+v", reqs); strings.Contains(dump, token) {
		t.Errorf("recorded requests contain the token: %s", dump)
	}
	if got := s.RequestCount("acme", "library/nginx"); got != 1 {
		t.Errorf("RequestCount = %d, want 1", got)
	}
	s.ResetRequests()
	if got := len(s.Requests()); got != 0 {
		t.Errorf("after ResetRequests, %d requests remain", got)
	}
}

func TestPoliciesAreCopies(t *testing.T) {
	s := NewServer()
	defer s.Close()
	in := []swr.SyncRepo{{ID: 5, RemoteNamespace: "b"}, {ID: 1, RemoteNamespace: "a"}}
	s.SetPolicies("acme", "app", in...)
	in[0].RemoteNamespace = "changed by caller"

	out := s.Policies("acme", "app")
	want := []swr.SyncRepo{{ID: 1, RemoteNamespace: "a"}, {ID: 5, RemoteNamespace: "b"}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("Policies() = %+v, want %+v", out, want)
	}
	out[0].RemoteNamespace = "changed again"
	if got := s.Policies("acme", "app"); !reflect.DeepEqual(got, want) {
		t.Errorf("Policies() after mutating a returned copy = %+v, want %+v", got, want)
	}
	if got := s.Policies("acme", "missing"); got != nil {
		t.Errorf("Policies(missing) = %+v, want nil", got)
	}
	s.SetPolicies("acme", "none")
	if got := s.Policies("acme", "none"); got == nil || len(got) != 0 {
		t.Errorf("Policies(none) = %#v, want empty non-nil", got)
	}
	s.DeleteRepository("acme", "app")
	if got := s.Policies("acme", "app"); got != nil {
		t.Errorf("Policies() after DeleteRepository = %+v, want nil", got)
	}
}

func TestFaults(t *testing.T) {
	s := newTestServer(t)
	s.SetPolicies("acme", "other")
	s.SetPolicies("zeta", "app")
	otherPath := "/v2/manage/namespaces/acme/repos/other/sync_repo"
	zetaPath := "/v2/manage/namespaces/zeta/repos/app/sync_repo"

	s.SetFault("", "", Fault{Status: 503})
	s.SetFault("acme", "", Fault{Status: 500, Body: "<html>oops</html>"})
	s.SetFault("acme", "library/nginx", Fault{Status: 429, Header: http.Header{"Retry-After": {"5"}},
		Body: `{"error_code":"APIG.0308","error_msg":"throttled"}`})

	got := do(t, s, "GET", listPath, goodHeader())
	if got.status != 429 || got.header.Get("Retry-After") != "5" || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("exact fault: %d %v, want 429 with Retry-After and JSON", got.status, got.header)
	}
	if got := do(t, s, "GET", otherPath, goodHeader()); got.status != 500 || got.body != "<html>oops</html>" ||
		!strings.HasPrefix(got.header.Get("Content-Type"), "text/html") {
		t.Errorf("organization fault: %d %q %v, want 500 HTML", got.status, got.body, got.header)
	}
	if got := do(t, s, "GET", zetaPath, goodHeader()); got.status != 503 || got.body != "" {
		t.Errorf("global fault: %d %q, want 503 without body", got.status, got.body)
	}
	// Faults come before authentication, as at a gateway.
	if got := do(t, s, "GET", listPath, nil); got.status != 429 {
		t.Errorf("fault without token: %d, want 429", got.status)
	}

	s.ClearFault("acme", "library/nginx")
	if got := do(t, s, "GET", listPath, goodHeader()); got.status != 500 {
		t.Errorf("after clearing the exact fault: %d, want the organization's 500", got.status)
	}
	s.ClearFault("acme", "")
	s.ClearFault("", "")
	if got := do(t, s, "GET", listPath, goodHeader()); got.status != 200 {
		t.Errorf("after clearing every fault: %d, want 200", got.status)
	}

	s.SetFault("acme", "library/nginx", Fault{RawBody: `null`})
	if got := do(t, s, "GET", listPath, goodHeader()); got.status != 200 || got.body != "null" {
		t.Errorf("raw body fault: %d %q, want 200 null", got.status, got.body)
	}
	s.SetFault("acme", "library/nginx", Fault{Header: http.Header{"X-Extra": {"1"}}})
	if got := do(t, s, "GET", listPath, goodHeader()); got.status != 200 || got.header.Get("X-Extra") != "1" ||
		!strings.HasPrefix(got.body, `[{"id":2`) {
		t.Errorf("header-only fault: %d %v %q, want the normal listing plus the header", got.status, got.header, got.body)
	}
}

func TestFaultHeaderIsCopied(t *testing.T) {
	s := newTestServer(t)
	h := http.Header{"Retry-After": {"5"}}
	s.SetFault("acme", "", Fault{Status: 429, Header: h})
	h.Set("Retry-After", "99")
	if got := do(t, s, "GET", listPath, goodHeader()).header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want the value at SetFault time", got)
	}
}

func TestHangEndsWithClientDeadline(t *testing.T) {
	s := newTestServer(t)
	s.SetFault("acme", "", Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+listPath, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = goodHeader()
	resp, err := s.Client().Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("hanging request answered %d", resp.StatusCode)
	}
	// Close waits for every handler: it returns only if the hanging one noticed the client left.
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on the hanging handler")
	}
}

func TestHangEndsWithClose(t *testing.T) {
	s := newTestServer(t)
	s.SetFault("", "", Fault{Hang: true})
	result := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+listPath, http.NoBody)
		if err != nil {
			result <- err
			return
		}
		req.Header = goodHeader()
		resp, err := s.Client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
			err = fmt.Errorf("hanging request answered %d", resp.StatusCode)
		}
		result <- err
	}()

	// Wait, without sleeping blindly, until the handler holds the request.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for s.RequestCount("acme", "library/nginx") == 0 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the request never reached the server")
		}
	}

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on the hanging handler")
	}
	select {
	case err := <-result:
		if err == nil {
			t.Error("the hanging request succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client never saw the server close")
	}
}

func TestTLSServer(t *testing.T) {
	s := NewTLSServer()
	defer s.Close()
	s.SetPolicies("acme", "library/nginx")
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL() = %q, want https", s.URL())
	}
	got := do(t, s, "GET", listPath, goodHeader())
	var policies []swr.SyncRepo
	if got.status != 200 || json.Unmarshal([]byte(got.body), &policies) != nil || policies == nil {
		t.Errorf("TLS listing: %d %q, want 200 []", got.status, got.body)
	}
}

func TestDripAndResetFaults(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetPolicies("acme", "app", swr.SyncRepo{ID: 1, RepoName: "app"}, swr.SyncRepo{ID: 2, RepoName: "app"})
	client := swr.NewClient()
	target := swr.Target{Endpoint: s.URL(), Organization: "acme", Repository: "app"}
	auth := swr.NewTokenAuth(DefaultToken)

	s.SetFault("acme", "app", Fault{ResetMidBody: true})
	if _, err := client.ListSyncRepos(context.Background(), target, auth); swr.ClassOf(err) != swr.ClassNetwork && swr.ClassOf(err) != swr.ClassBadBody {
		t.Fatalf("a connection dropped mid-body gave %v (class %q), want a network or bad-body error", err, swr.ClassOf(err))
	}

	s.SetFault("acme", "app", Fault{DripBody: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := client.ListSyncRepos(ctx, target, auth); swr.ClassOf(err) != swr.ClassTimeout {
		t.Fatalf("a dripping body gave %v (class %q), want a timeout", err, swr.ClassOf(err))
	}

	s.ClearFault("acme", "app")
	if got, err := client.ListSyncRepos(context.Background(), target, auth); err != nil || len(got) != 2 {
		t.Fatalf("after the faults: %v, %v", got, err)
	}
}
