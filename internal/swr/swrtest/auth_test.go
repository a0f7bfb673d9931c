package swrtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// TestSignatureKnownAnswers checks the independent verifier's signature computation against
// answers it did not produce: the vendor SDK's own published test vectors, and the signature
// recorded from the SDK in the swr package's TestAKSKMatchesSDK.
func TestSignatureKnownAnswers(t *testing.T) {
	xDate := func(string) []string { return []string{"20060102T150405Z"} }
	tests := []struct {
		name, method, path, sk, date string
		query                        url.Values
		signed                       []string
		values                       func(string) []string
		body                         string
		want                         string
	}{
		{
			// core/auth/signer/signer_test.go, testParam1 (the TEST_UNDERSCORE header is not signed).
			name: "SDK vector 1", method: "GET", path: "/path", sk: "SecretKey", date: "20060102T150405Z",
			query: url.Values{"limit": {"1"}}, signed: []string{"x-sdk-date"}, values: xDate,
			want: "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
		},
		{
			// testParam2: a JSON body as the SDK's encoder writes it, with its trailing newline.
			name: "SDK vector 2", method: "POST", path: "/path", sk: "SecretKey", date: "20060102T150405Z",
			query: url.Values{"key": {"value"}}, signed: []string{"x-sdk-date"}, values: xDate,
			body: "{\"Name\":\"test\",\"Id\":1}\n",
			want: "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
		},
		{
			name: "SWR listing", method: "GET", path: "/v2/manage/namespaces/acme/repos/library$nginx/sync_repo",
			sk: "sEcReT/kEy+ExAmPlE0123456789abcdefGHIJ", date: "20261127T083015Z",
			query:  url.Values{"filter": {"limit::10|offset::0"}},
			signed: []string{"host", "x-project-id", "x-sdk-date"},
			values: func(name string) []string {
				return map[string][]string{
					"host": {"swr-api.ap-southeast-1.myhuaweicloud.com"}, "x-project-id": {"0123456789abcdef"}, "x-sdk-date": {"20261127T083015Z"},
				}[name]
			},
			want: "e13fc8a18316b19c42e6f8ee57fb8b7802d4fbe803ecda275b834a32a646673e",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := canonicalRequest(tt.method, tt.path, tt.query, tt.signed, tt.values, []byte(tt.body))
			if got := hex.EncodeToString(sign(tt.sk, tt.date, cr)); got != tt.want {
				t.Errorf("signature = %s, want %s\ncanonical request:\n%s", got, tt.want, cr)
			}
		})
	}
}

func TestCanonicalParts(t *testing.T) {
	for path, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/v2/a$b/c":            "/v2/a%24b/c/",
		"/x/":                  "/x/",
		"/sp ace/é/~_-.":       "/sp%20ace/%C3%A9/~_-./",
		"/a:b@c!d*e(f)g'h+i,j": "/a%3Ab%40c%21d%2Ae%28f%29g%27h%2Bi%2Cj/",
	} {
		if got := canonicalURI(path); got != want {
			t.Errorf("canonicalURI(%q) = %q, want %q", path, got, want)
		}
	}
	q := url.Values{"b": {"2"}, "a": {"z", "y"}, "c d": {"/"}, "e": {""}}
	if got, want := canonicalQuery(q), "a=y&a=z&b=2&c%20d=%2F&e="; got != want {
		t.Errorf("canonicalQuery() = %q, want %q", got, want)
	}
}

// sdkSigned signs a GET to s's listing path with the vendor SDK directly, the way an SDK user
// would, and returns the request.
func sdkSigned(t *testing.T, s *Server, ak, sk string, at time.Time, extra map[string]string) *http.Request {
	t.Helper()
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(s.URL()).WithPath("/v2/manage/namespaces/acme/repos/library$nginx/sync_repo").
		WithMethod("GET").AddQueryParam("limit", reflect.ValueOf(10)).
		AddHeaderParam("Host", u.Host).AddHeaderParam("X-Sdk-Date", at.UTC().Format(sdkDateFormat))
	for k, v := range extra {
		b.AddHeaderParam(k, v)
	}
	sdkReq := b.Build()
	headers, err := signer.Signer{}.Sign(sdkReq, ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+listPath+"?limit=10", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range sdkReq.GetHeaderParams() {
		if k != "Host" {
			req.Header.Set(k, v)
		}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

func send(t *testing.T, s *Server, req *http.Request) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Client().Do(req.WithContext(ctx))
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

// TestVerifierAcceptsSDKSignatures checks the verifier against requests signed by the SDK
// directly, and the rules beyond the signature itself.
func TestVerifierAcceptsSDKSignatures(t *testing.T) {
	s := newTestServer(t)
	s.SetToken("")
	s.AddAccessKey("AK1234567890", "SK-secret")
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	refused := func(msg string) string { return gatewayErrorBody(CodeAKSKAuth, msg) }

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		body   string
	}{
		{"SDK signature", func() *http.Request { return sdkSigned(t, s, "AK1234567890", "SK-secret", now, nil) }, 200, ""},
		{"with security token and project", func() *http.Request {
			return sdkSigned(t, s, "AK1234567890", "SK-secret", now, map[string]string{"X-Security-Token": "st", "X-Project-Id": "p"})
		}, 200, ""},
		{"14 minutes ahead", func() *http.Request {
			return sdkSigned(t, s, "AK1234567890", "SK-secret", now.Add(14*time.Minute), nil)
		}, 200, ""},
		{"16 minutes ahead", func() *http.Request {
			return sdkSigned(t, s, "AK1234567890", "SK-secret", now.Add(16*time.Minute), nil)
		},
			401, refused(MsgDateExpired)},
		{"16 minutes behind", func() *http.Request {
			return sdkSigned(t, s, "AK1234567890", "SK-secret", now.Add(-16*time.Minute), nil)
		},
			401, refused(MsgDateExpired)},
		{"wrong secret key", func() *http.Request { return sdkSigned(t, s, "AK1234567890", "SK-secreT", now, nil) }, 401, refused(MsgSignatureMismatch)},
		{"unknown access key", func() *http.Request { return sdkSigned(t, s, "AK0000000000", "SK-secret", now, nil) }, 401, refused(MsgUnknownAccessKey)},
		{"host not signed", func() *http.Request {
			// A correct signature over everything but the host.
			r := sdkSigned(t, s, "AK1234567890", "SK-secret", now, nil)
			cr := canonicalRequest("GET", r.URL.Path, r.URL.Query(), []string{"x-sdk-date"}, headerValues(r), nil)
			r.Header.Set("Authorization", fmt.Sprintf("%s Access=AK1234567890, SignedHeaders=x-sdk-date, Signature=%x",
				sdkAlgorithm, sign("SK-secret", r.Header.Get("X-Sdk-Date"), cr)))
			return r
		}, 401, refused(MsgSignatureMismatch)},
		{"security token not signed", func() *http.Request {
			r := sdkSigned(t, s, "AK1234567890", "SK-secret", now, nil)
			r.Header.Set("X-Security-Token", "added after signing")
			return r
		}, 401, refused(MsgSignatureMismatch)},
		{"no date", func() *http.Request {
			r := sdkSigned(t, s, "AK1234567890", "SK-secret", now, nil)
			r.Header.Del("X-Sdk-Date")
			return r
		}, 401, refused(MsgSignatureMismatch)},
		{"malformed Authorization", func() *http.Request {
			r := sdkSigned(t, s, "AK1234567890", "SK-secret", now, nil)
			r.Header.Set("Authorization", sdkAlgorithm+" Access=AK1234567890 SignedHeaders=host Signature=zz")
			return r
		}, 401, refused(MsgSignatureMismatch)},
		{"another host", func() *http.Request {
			r := sdkSigned(t, s, "AK1234567890", "SK-secret", now, nil)
			r.Host = "swr-api.example.com"
			return r
		}, 401, refused(MsgSignatureMismatch)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetRequests()
			got := send(t, s, tt.req())
			if got.status != tt.status || tt.body != "" && got.body != tt.body {
				t.Errorf("status %d, body %s; want %d %s", got.status, got.body, tt.status, tt.body)
			}
			if reqs := s.Requests(); len(reqs) != 1 || reqs[0].AuthKind != AuthKindAKSK {
				t.Errorf("recorded %+v, want one request of kind %s", reqs, AuthKindAKSK)
			}
		})
	}
}

// tokenRequestBody returns a password token request body.
func tokenRequestBody(domain, user, password, project string) string {
	return fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"password":%q,"domain":{"name":%q}}}},"scope":{"project":{"name":%q}}}}`,
		user, password, domain, project)
}

func postToken(t *testing.T, s *Server, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v3/auth/tokens?nocatalog=true", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	return send(t, s, req)
}

func TestIAMTokenEndpoint(t *testing.T) {
	s := newTestServer(t)
	s.SetToken("static")
	s.AddIAMUser("dom", "bot", "pw")
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	s.SetTokenLifetime(time.Hour)

	got := postToken(t, s, tokenRequestBody("dom", "bot", "pw", "ap-southeast-1"))
	token := got.header.Get("X-Subject-Token")
	if got.status != 201 || !strings.HasPrefix(token, "MII") || len(token) < 40 {
		t.Fatalf("token request: %d, token %q; want 201 with a long token", got.status, token)
	}
	want := `{"token":{"expires_at":"2026-11-27T09:00:00.000000Z","issued_at":"2026-11-27T08:00:00.000000Z","methods":["password"],` +
		`"project":{"name":"ap-southeast-1"},"user":{"name":"bot","domain":{"name":"dom"}}}}`
	if got.body != want {
		t.Errorf("body =\n%s\nwant\n%s", got.body, want)
	}
	if again := postToken(t, s, tokenRequestBody("dom", "bot", "pw", "ap-southeast-1")); again.header.Get("X-Subject-Token") == token {
		t.Error("two requests got the same token")
	}

	withToken := func(tok string) http.Header { h := goodHeader(); h.Set("X-Auth-Token", tok); return h }
	if got := do(t, s, "GET", listPath, withToken(token)); got.status != 200 {
		t.Errorf("listing with the IAM token: %d, want 200", got.status)
	}
	advance(time.Hour - time.Second)
	if got := do(t, s, "GET", listPath, withToken(token)); got.status != 200 {
		t.Errorf("listing a second before expiry: %d, want 200", got.status)
	}
	advance(time.Second)
	if got := do(t, s, "GET", listPath, withToken(token)); got.status != 401 {
		t.Errorf("listing at expiry: %d, want 401", got.status)
	}

	fresh := postToken(t, s, tokenRequestBody("dom", "bot", "pw", "ap-southeast-1")).header.Get("X-Subject-Token")
	s.RevokeIssuedTokens()
	if got := do(t, s, "GET", listPath, withToken(fresh)); got.status != 401 ||
		got.body != NewErrorBody(CodeUnauthorized, "Authenticate Error: token missing, invalid or expired") {
		t.Errorf("listing with a revoked token: %d %s, want 401 %s", got.status, got.body, CodeUnauthorized)
	}
	if got := do(t, s, "GET", listPath, withToken("static")); got.status != 200 {
		t.Errorf("the static token after revocation: %d, want 200", got.status)
	}
	after := postToken(t, s, tokenRequestBody("dom", "bot", "pw", "ap-southeast-1")).header.Get("X-Subject-Token")
	if got := do(t, s, "GET", listPath, withToken(after)); got.status != 200 {
		t.Errorf("a token issued after revocation: %d, want 200", got.status)
	}

	var kinds []string
	for _, r := range s.Requests() {
		if r.Organization != "" {
			kinds = append(kinds, r.AuthKind)
		}
	}
	if want := []string{"iam-token", "iam-token", "iam-token", "iam-token", "token", "iam-token"}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("AuthKinds = %v, want %v", kinds, want)
	}
	if dump := fmt.Sprintf("%+v", s.Requests()); strings.Contains(dump, token) || strings.Contains(dump, `"pw"`) {
		t.Errorf("recorded requests contain a credential: %s", dump)
	}
	if got := s.IAMRequestCount(); got != 4 {
		t.Errorf("IAMRequestCount() = %d, want 4", got)
	}
}

func TestIAMTokenEndpointRefusals(t *testing.T) {
	s := newTestServer(t)
	s.AddIAMUser("dom", "bot", "pw")
	wrong := keystoneErrorBody(401, "The username or password is wrong.")
	tests := []struct {
		name, body string
		status     int
		wantBody   string
	}{
		{"wrong password", tokenRequestBody("dom", "bot", "pW", "p"), 401, wrong},
		{"unknown user", tokenRequestBody("dom", "robot", "pw", "p"), 401, wrong},
		{"unknown domain", tokenRequestBody("other", "bot", "pw", "p"), 401, wrong},
		{"no project", tokenRequestBody("dom", "bot", "pw", ""), 400, ""},
		{"no scope", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"bot","password":"pw","domain":{"name":"dom"}}}}}}`, 400, ""},
		{"token method", strings.Replace(tokenRequestBody("dom", "bot", "pw", "p"), `["password"]`, `["token"]`, 1), 400, ""},
		{"no domain", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"bot","password":"pw"}}},"scope":{"project":{"name":"p"}}}}`, 400, ""},
		{"not JSON", `{"auth":`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := postToken(t, s, tt.body)
			if got.status != tt.status || tt.wantBody != "" && got.body != tt.wantBody || got.header.Get("X-Subject-Token") != "" {
				t.Errorf("%d %s (token %q), want %d %s", got.status, got.body, got.header.Get("X-Subject-Token"), tt.status, tt.wantBody)
			}
			var parsed struct {
				Error struct {
					Code int `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(got.body), &parsed); err != nil || parsed.Error.Code != tt.status {
				t.Errorf("body %s is not a Keystone error with code %d", got.body, tt.status)
			}
		})
	}
	if got := do(t, s, "GET", "/v3/auth/tokens", nil); got.status != 405 || got.header.Get("Allow") != "POST" {
		t.Errorf("GET /v3/auth/tokens: %d, Allow %q; want 405 POST", got.status, got.header.Get("Allow"))
	}
	if got := s.IAMRequestCount(); got != len(tests) {
		t.Errorf("IAMRequestCount() = %d, want %d (POSTs only)", got, len(tests))
	}
}

func TestIAMFault(t *testing.T) {
	s := newTestServer(t)
	s.AddIAMUser("dom", "bot", "pw")
	s.SetIAMFault(Fault{Status: 503, Body: "<html>down</html>"})
	if got := postToken(t, s, tokenRequestBody("dom", "bot", "pw", "p")); got.status != 503 || got.body != "<html>down</html>" {
		t.Errorf("with a fault: %d %s, want 503", got.status, got.body)
	}
	s.SetIAMFault(Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v3/auth/tokens", bytes.NewReader([]byte(tokenRequestBody("dom", "bot", "pw", "p"))))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := s.Client().Do(req); err == nil {
		_ = resp.Body.Close()
		t.Errorf("hanging IAM answered %d", resp.StatusCode)
	}
	s.ClearIAMFault()
	if got := postToken(t, s, tokenRequestBody("dom", "bot", "pw", "p")); got.status != 201 {
		t.Errorf("after ClearIAMFault: %d, want 201", got.status)
	}
	if got := s.IAMRequestCount(); got != 3 {
		t.Errorf("IAMRequestCount() = %d, want 3", got)
	}
}
