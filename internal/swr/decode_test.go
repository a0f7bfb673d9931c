package swr

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// seedExample is the example response of the vendor's documentation page, verbatim.
const seedExample = `[ {
  "createdAt" : "2020-04-17T02:11:03.53183Z",
  "domainID" : "8b1e81************************633fb",
  "domainName" : "p*********59",
  "id" : 45,
  "namespace" : "test",
  "override" : true,
  "remoteNamespace" : "sdsad",
  "remoteRegionId" : "region1",
  "repoName" : "grpc-helloworld",
  "syncAuto" : true,
  "updatedAt" : "2020-04-17T02:11:03.531831Z"
} ]`

func TestDecodeSyncRepos(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []SyncRepo
		wantErr string // a phrase the error must contain; "" means success
	}{
		{
			name: "seed example",
			body: seedExample,
			want: []SyncRepo{{
				ID:              45,
				CreatedAt:       "2020-04-17T02:11:03.53183Z",
				UpdatedAt:       "2020-04-17T02:11:03.531831Z",
				DomainID:        "8b1e81************************633fb",
				DomainName:      "p*********59",
				Namespace:       "test",
				RepoName:        "grpc-helloworld",
				RemoteRegionID:  "region1",
				RemoteNamespace: "sdsad",
				Override:        true,
				SyncAuto:        true,
			}},
		},
		{
			name: "unknown fields ignored",
			body: `[{"id":1,"remoteRegionId":"r","extra":{"nested":[1,2]},"futureFlag":true}]`,
			want: []SyncRepo{{ID: 1, RemoteRegionID: "r"}},
		},
		{
			name: "synAuto typo is not syncAuto",
			body: `[{"id":1,"synAuto":true}]`,
			want: []SyncRepo{{ID: 1, SyncAuto: false}},
		},
		{
			name: "order kept",
			body: `[{"id":7},{"id":3}]`,
			want: []SyncRepo{{ID: 7}, {ID: 3}},
		},
		{name: "empty array", body: ` [] `, want: []SyncRepo{}},
		{name: "id beyond float64 precision", body: `[{"id":9007199254740993}]`, want: []SyncRepo{{ID: 9007199254740993}}},
		{name: "largest int64 id", body: `[{"id":9223372036854775807}]`, want: []SyncRepo{{ID: 9223372036854775807}}},
		{name: "null", body: `null`, wantErr: "expected a JSON array, got null"},
		{name: "object", body: `{"id":1}`, wantErr: "expected a JSON array, got an object"},
		{name: "empty", body: ``, wantErr: "empty body"},
		{name: "html", body: `<html>oops</html>`, wantErr: "got something that is not JSON"},
		{name: "truncated", body: `[{"id":1},{"id":`, wantErr: "truncated JSON"},
		{name: "trailing garbage", body: `[{"id":1}] x`, wantErr: "malformed JSON"},
		{name: "missing id", body: `[{"id":1},{"namespace":"a"}]`, wantErr: "entry 1: no id"},
		{name: "null id", body: `[{"id":null}]`, wantErr: "entry 0: id is null"},
		{name: "string id", body: `[{"id":"45"}]`, wantErr: "id is a string"},
		{name: "fractional id", body: `[{"id":4.5}]`, wantErr: "id is not an integer"},
		{name: "exponent id", body: `[{"id":1e3}]`, wantErr: "id is not an integer"},
		{name: "id beyond int64", body: `[{"id":9223372036854775808}]`, wantErr: "does not fit in a 64-bit integer"},
		{name: "duplicate id", body: `[{"id":5},{"id":6},{"id":5}]`, wantErr: "entries 0 and 2 have the same id 5"},
		{name: "null entry", body: `[null]`, wantErr: "entry 0: no id"},
		{name: "number entry", body: `[1]`, wantErr: "an entry is a JSON number"},
		{name: "wrong field type", body: `[{"id":1,"override":"yes"}]`, wantErr: `field "override" is a JSON string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSyncRepos([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeSyncRepos() error = %v, want one containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("decodeSyncRepos() = %v with an error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSyncRepos() error = %v", err)
			}
			if got == nil {
				t.Fatal("decodeSyncRepos() = nil, want a non-nil slice")
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("decodeSyncRepos() =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestDecodeSyncJobs(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []SyncJob
		wantErr string // a phrase the error must contain; "" means success
	}{
		{
			name: "every field",
			body: `[{"id":12,"createdAt":"2024-01-02T03:04:05.1Z","updatedAt":"2024-01-02T03:04:06Z","domainID":"d",` +
				`"domainName":"t","namespace":"acme","repoName":"library/nginx","remoteRegionId":"cn-north-4",` +
				`"remoteNamespace":"mirror","override":true,"status":"success","syncOperatorId":"u","syncOperatorName":"robot","tag":"1.27"}]`,
			want: []SyncJob{{
				ID: 12, CreatedAt: "2024-01-02T03:04:05.1Z", UpdatedAt: "2024-01-02T03:04:06Z", DomainID: "d",
				DomainName: "t", Namespace: "acme", RepoName: "library/nginx", RemoteRegionID: "cn-north-4",
				RemoteNamespace: "mirror", Override: true, Status: SyncJobSuccess, SyncOperatorID: "u", SyncOperatorName: "robot", Tag: "1.27",
			}},
		},
		{name: "unknown status kept", body: `[{"id":1,"status":"Paused "}]`, want: []SyncJob{{ID: 1, Status: "Paused "}}},
		{name: "missing status kept empty", body: `[{"id":1}]`, want: []SyncJob{{ID: 1}}},
		{name: "unknown fields ignored", body: `[{"id":1,"tag":"a","jobType":"auto","extra":{"x":[1]}}]`, want: []SyncJob{{ID: 1, Tag: "a"}}},
		{name: "order kept", body: `[{"id":7},{"id":3}]`, want: []SyncJob{{ID: 7}, {ID: 3}}},
		{name: "empty array", body: "\n[]\n", want: []SyncJob{}},
		{name: "id beyond float64 precision", body: `[{"id":9007199254740993},{"id":9007199254740992}]`,
			want: []SyncJob{{ID: 9007199254740993}, {ID: 9007199254740992}}},
		{name: "strings kept exactly", body: `[{"id":1,"tag":" v1\u00e9 ","createdAt":"2024-01-02 03:04:05"}]`,
			want: []SyncJob{{ID: 1, Tag: " v1é ", CreatedAt: "2024-01-02 03:04:05"}}},
		{name: "null", body: `null`, wantErr: "expected a JSON array, got null"},
		{name: "object", body: `{"jobs":[]}`, wantErr: "expected a JSON array, got an object"},
		{name: "empty", body: ` `, wantErr: "empty body"},
		{name: "truncated", body: `[{"id":1,"status":"succ`, wantErr: "truncated JSON"},
		{name: "trailing garbage", body: `[] []`, wantErr: "malformed JSON"},
		{name: "missing id", body: `[{"id":1},{"tag":"a"}]`, wantErr: "entry 1: no id"},
		{name: "null id", body: `[{"id":null}]`, wantErr: "entry 0: id is null"},
		{name: "string id", body: `[{"id":"45"}]`, wantErr: "id is a string"},
		{name: "fractional id", body: `[{"id":4.5}]`, wantErr: "id is not an integer"},
		{name: "id beyond int64", body: `[{"id":-9223372036854775809}]`, wantErr: "does not fit in a 64-bit integer"},
		{name: "duplicate id", body: `[{"id":5},{"id":6},{"id":5}]`, wantErr: "entries 0 and 2 have the same id 5"},
		{name: "null entry", body: `[null]`, wantErr: "entry 0: no id"},
		{name: "string entry", body: `["job"]`, wantErr: "an entry is a JSON string"},
		{name: "status not a string", body: `[{"id":1,"status":true}]`, wantErr: `field "status" is a JSON bool`},
		{name: "override not a bool", body: `[{"id":1,"override":"true"}]`, wantErr: `field "override" is a JSON string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSyncJobs([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeSyncJobs() error = %v, want one containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("decodeSyncJobs() = %v with an error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSyncJobs() error = %v", err)
			}
			if got == nil {
				t.Fatal("decodeSyncJobs() = nil, want a non-nil slice")
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("decodeSyncJobs() =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseErrorBody(t *testing.T) {
	long := strings.Repeat("x", 500)
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantMsg  string
	}{
		{
			name:     "old form",
			body:     `[{"errorCode":"SVCSTG.SWR.4001048","errorMessage":"Invalid parameter","detail":""}]`,
			wantCode: "SVCSTG.SWR.4001048", wantMsg: "Invalid parameter",
		},
		{
			name:     "new form",
			body:     `{"error_code":"SVCSTG.SWR.4040058","error_msg":"namespace not found","errors":[{"errorCode":"SVCSTG.SWR.4040058","errorMessage":"namespace not found"}]}`,
			wantCode: "SVCSTG.SWR.4040058", wantMsg: "namespace not found",
		},
		{
			name:     "new form with only the nested list",
			body:     `{"errors":[{"errorCode":"SVCSTG.SWR.4039002","errorMessage":"no permission"}]}`,
			wantCode: "SVCSTG.SWR.4039002", wantMsg: "no permission",
		},
		{
			name:     "APIG form",
			body:     `{"error_code":"APIG.0308","error_msg":"The request is throttled","request_id":"abc"}`,
			wantCode: "APIG.0308", wantMsg: "The request is throttled",
		},
		{
			name:     "old names in an object",
			body:     `{"errorCode":"SVCSTG.SWR.4010000","errorMessage":"token expired"}`,
			wantCode: "SVCSTG.SWR.4010000", wantMsg: "token expired",
		},
		{
			name:     "wrong type for one field keeps the other",
			body:     `{"error_code":12,"error_msg":"busy"}`,
			wantCode: "", wantMsg: "busy",
		},
		{name: "html", body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{name: "empty"},
		{name: "plain text", body: "upstream connect error"},
		{name: "truncated json", body: `{"error_code":"SVCSTG.SWR.40`},
		{name: "empty array", body: `[]`},
		{
			name:     "control characters stripped",
			body:     `{"error_code":"X\u0000Y","error_msg":"line1\nline2\t\u001b[31mred\u202e"}`,
			wantCode: "X Y", wantMsg: "line1 line2 [31mred",
		},
		{
			name:     "long message truncated",
			body:     `{"error_code":"C","error_msg":"` + long + `"}`,
			wantCode: "C", wantMsg: strings.Repeat("x", maxMessageRunes) + "…",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := parseErrorBody([]byte(tt.body))
			if code != tt.wantCode || msg != tt.wantMsg {
				t.Errorf("parseErrorBody() = %q, %q; want %q, %q", code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   Class
	}{
		{400, "SVCSTG.SWR.4001028", ClassBadRequest},
		{401, "SVCSTG.SWR.4010000", ClassUnauthorized},
		{403, "SVCSTG.SWR.4039002", ClassForbidden},
		{403, "", ClassForbidden},
		{403, "SVCSTG.SWR.4031032", ClassThrottled},
		{403, "SVCSTG.SWR.4031042", ClassThrottled},
		{404, "SVCSTG.SWR.4040058", ClassNotFound},
		{404, "SVCSTG.SWR.4040010", ClassNotFound},
		{409, "SVCSTG.SWR.4090023", ClassThrottled},
		{409, "SVCSTG.SWR.4090001", ClassConflict},
		{429, "APIG.0308", ClassThrottled},
		{429, "", ClassThrottled},
		{500, "", ClassServer},
		{502, "", ClassServer},
		{503, "", ClassServer},
		{302, "", ClassServer},
		{405, "", ClassServer},
		{418, "", ClassServer},
		// A throttling code on a status that does not carry it is not throttling.
		{404, "SVCSTG.SWR.4031032", ClassNotFound},
	}
	for _, tt := range tests {
		if got := classify(tt.status, tt.code); got != tt.want {
			t.Errorf("classify(%d, %q) = %q, want %q", tt.status, tt.code, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	want := map[Class]bool{
		ClassBadRequest:   false,
		ClassUnauthorized: false,
		ClassForbidden:    false,
		ClassNotFound:     false,
		ClassConflict:     true,
		ClassThrottled:    true,
		ClassServer:       true,
		ClassNetwork:      true,
		ClassTimeout:      true,
		ClassBadBody:      true,
		Class("Unknown"):  false,
	}
	for class, retryable := range want {
		if got := (&Error{Class: class}).Retryable(); got != retryable {
			t.Errorf("Error{Class: %q}.Retryable() = %v, want %v", class, got, retryable)
		}
	}
}

func TestClassOf(t *testing.T) {
	inner := &Error{Class: ClassThrottled}
	if got := ClassOf(fmt.Errorf("poll: %w", inner)); got != ClassThrottled {
		t.Errorf("ClassOf(wrapped) = %q, want %q", got, ClassThrottled)
	}
	if got := ClassOf(fmt.Errorf("plain")); got != "" {
		t.Errorf("ClassOf(plain) = %q, want empty", got)
	}
	if got := ClassOf(nil); got != "" {
		t.Errorf("ClassOf(nil) = %q, want empty", got)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{
			&Error{Class: ClassNotFound, StatusCode: 404, Code: "SVCSTG.SWR.4040058", Message: "namespace not found"},
			"SWR returned 404 Not Found: SVCSTG.SWR.4040058 namespace not found",
		},
		{&Error{Class: ClassServer, StatusCode: 502}, "SWR returned 502 Bad Gateway"},
		{&Error{Class: ClassServer, StatusCode: 599}, "SWR returned 599"},
		{
			&Error{Class: ClassThrottled, StatusCode: 429, Code: "APIG.0308", Message: "throttled", RetryAfter: 30 * time.Second},
			"SWR returned 429 Too Many Requests: APIG.0308 throttled (retry after 30s)",
		},
		{
			&Error{Class: ClassNetwork, Host: "swr-api.x.com", Message: "connection refused"},
			"cannot reach SWR at swr-api.x.com: connection refused",
		},
		{&Error{Class: ClassTimeout, Host: "swr-api.x.com"}, "timed out waiting for SWR at swr-api.x.com"},
		{
			&Error{Class: ClassBadBody, StatusCode: 200, Message: "response body exceeds 4 MiB"},
			"invalid response from SWR (200 OK): response body exceeds 4 MiB",
		},
		{
			&Error{Class: ClassBadRequest, Message: `organization "1a" must start with a lowercase letter`},
			`organization "1a" must start with a lowercase letter`,
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999999999", time.Duration(math.MaxInt64).Truncate(time.Second)},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(2 * time.Minute).Format(time.RFC850), 2 * time.Minute},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.value, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[int64]string{4 << 20: "4 MiB", 1 << 10: "1 KiB", 1500: "1500 bytes", 1: "1 bytes"}
	for n, want := range tests {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzDecodeSyncRepos(f *testing.F) {
	for _, seed := range []string{
		seedExample, `[]`, `null`, `{}`, `[{"id":1},{"id":1}]`, `[{"id":9007199254740993}]`,
		`[{"id":null}]`, `[{"id":1.5}]`, `[{"id":1,"synAuto":true}]`, `[{"id":`, `[1]`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		repos, err := decodeSyncRepos(body)
		if err != nil {
			if repos != nil {
				t.Fatalf("decodeSyncRepos returned %d entries with error %v", len(repos), err)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
				t.Fatalf("error message %q is not sanitized", msg)
			}
			return
		}
		if repos == nil {
			t.Fatal("decodeSyncRepos succeeded with a nil slice")
		}
		seen := make(map[int64]bool, len(repos))
		for _, r := range repos {
			if seen[r.ID] {
				t.Fatalf("duplicate id %d in a successful decode", r.ID)
			}
			seen[r.ID] = true
		}
		// Whatever decoded must survive a round trip through its own encoding unchanged.
		encoded, err := json.Marshal(repos)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSyncRepos(encoded)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", encoded, err)
		}
		if fmt.Sprintf("%#v", again) != fmt.Sprintf("%#v", repos) {
			t.Fatalf("round trip changed the result:\n%#v\n%#v", repos, again)
		}
	})
}

func FuzzDecodeSyncJobs(f *testing.F) {
	for _, seed := range []string{
		`[{"id":45,"createdAt":"2020-04-17T02:11:03.53183Z","status":"existed","tag":"v1","override":true}]`,
		`[]`, `null`, `{}`, `[{"id":1},{"id":1}]`, `[{"id":9007199254740993}]`, `[{"id":null}]`,
		`[{"id":1,"status":"\u00ff\n"}]`, `[{"id":1,"status":7}]`, `[{"id":`, `["x"]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		jobs, err := decodeSyncJobs(body)
		if err != nil {
			if jobs != nil {
				t.Fatalf("decodeSyncJobs returned %d entries with error %v", len(jobs), err)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
				t.Fatalf("error message %q is not sanitized", msg)
			}
			return
		}
		if jobs == nil {
			t.Fatal("decodeSyncJobs succeeded with a nil slice")
		}
		seen := make(map[int64]bool, len(jobs))
		for _, j := range jobs {
			if seen[j.ID] {
				t.Fatalf("duplicate id %d in a successful decode", j.ID)
			}
			seen[j.ID] = true
		}
		// Whatever decoded must survive a round trip through its own encoding unchanged.
		encoded, err := json.Marshal(jobs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSyncJobs(encoded)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", encoded, err)
		}
		if fmt.Sprintf("%#v", again) != fmt.Sprintf("%#v", jobs) {
			t.Fatalf("round trip changed the result:\n%#v\n%#v", jobs, again)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, seed := range []string{
		`[{"errorCode":"SVCSTG.SWR.4001048","errorMessage":"bad","detail":""}]`,
		`{"error_code":"SVCSTG.SWR.4040058","error_msg":"namespace not found","errors":[{"errorCode":"a","errorMessage":"b"}]}`,
		`{"error_code":"APIG.0308","error_msg":"throttled"}`,
		`<html>502</html>`, ``, `[]`, `{}`, `null`, `{"error_msg":"a\nb\u202e"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := parseErrorBody(body)
		for _, s := range []string{code, msg} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in %q", s)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
				t.Fatalf("control or format character in %q", s)
			}
			if s != strings.TrimSpace(s) {
				t.Fatalf("surrounding space in %q", s)
			}
		}
		if n := utf8.RuneCountInString(code); n > maxCodeRunes+1 {
			t.Fatalf("code has %d runes, limit %d", n, maxCodeRunes)
		}
		if n := utf8.RuneCountInString(msg); n > maxMessageRunes+1 {
			t.Fatalf("message has %d runes, limit %d", n, maxMessageRunes)
		}
		// Only JSON arrays and objects can carry a code or message: HTML and text never leak.
		if trimmed := strings.TrimSpace(string(body)); trimmed == "" || (trimmed[0] != '[' && trimmed[0] != '{') {
			if code != "" || msg != "" {
				t.Fatalf("non-JSON body %q yielded %q, %q", body, code, msg)
			}
		}
	})
}
