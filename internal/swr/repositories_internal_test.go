package swr

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// repositoryEntry is one entry of the repository listing with every field the vendor SDK's
// ShowReposResp names, the kept ones and the ignored ones alike.
const repositoryEntry = `{
  "name" : "library/nginx",
  "category" : "linux",
  "description" : "web server",
  "size" : 2099575,
  "is_public" : false,
  "num_images" : 3,
  "num_download" : 12,
  "url" : "",
  "path" : "swr.ap-southeast-1.myhuaweicloud.com/acme/library/nginx",
  "internal_path" : "swr.ap-southeast-1.myhuaweicloud.com/acme/library/nginx",
  "created_at" : "2021-12-09T09:24:46Z",
  "updated_at" : "2021-12-10T01:02:03.5Z",
  "domain_name" : "tenant",
  "namespace" : "acme",
  "tags" : ["1.25", "1.27", "latest"],
  "status" : false,
  "total_range" : 1
}`

func TestDecodeRepositories(t *testing.T) {
	nginx := Repository{Name: "library/nginx", Namespace: "acme", Category: "linux", NumImages: 3,
		Tags: []string{"1.25", "1.27", "latest"}, CreatedAt: "2021-12-09T09:24:46Z", UpdatedAt: "2021-12-10T01:02:03.5Z"}
	tests := []struct {
		name      string
		body      string
		want      []Repository
		wantTotal int64
		wantErr   string // a phrase the error must contain; "" means success
	}{
		{name: "every field", body: "[" + repositoryEntry + "]", want: []Repository{nginx}, wantTotal: 1},
		{name: "name only", body: `[{"name":"a"}]`, want: []Repository{{Name: "a"}}, wantTotal: -1},
		{name: "unknown fields ignored", body: `[{"name":"a","future":{"x":[1]},"total_range":4}]`,
			want: []Repository{{Name: "a"}}, wantTotal: 4},
		{name: "order kept, same name in two organizations", body: `[{"name":"b","namespace":"o"},{"name":"b","namespace":"o-2"},{"name":"a"}]`,
			want: []Repository{{Name: "b", Namespace: "o"}, {Name: "b", Namespace: "o-2"}, {Name: "a"}}, wantTotal: -1},
		{name: "empty tags kept empty, null tags nil", body: `[{"name":"a","tags":[]},{"name":"b","tags":null}]`,
			want: []Repository{{Name: "a", Tags: []string{}}, {Name: "b"}}, wantTotal: -1},
		{name: "strings kept exactly", body: `[{"name":" A\u00e9 ","created_at":"2024-01-02 03:04:05"}]`,
			want: []Repository{{Name: " Aé ", CreatedAt: "2024-01-02 03:04:05"}}, wantTotal: -1},
		{name: "empty array", body: "\n[]\n", want: []Repository{}, wantTotal: -1},
		{name: "total_range repeated", body: `[{"name":"a","total_range":7},{"name":"b","total_range":7}]`,
			want: []Repository{{Name: "a"}, {Name: "b"}}, wantTotal: 7},
		{name: "total_range disagreeing", body: `[{"name":"a","total_range":7},{"name":"b","total_range":8}]`,
			want: []Repository{{Name: "a"}, {Name: "b"}}, wantTotal: -1},
		{name: "total_range on some entries only", body: `[{"name":"a","total_range":7},{"name":"b"}]`,
			want: []Repository{{Name: "a"}, {Name: "b"}}, wantTotal: -1},
		{name: "total_range a string", body: `[{"name":"a","total_range":"7"}]`, want: []Repository{{Name: "a"}}, wantTotal: -1},
		{name: "total_range negative", body: `[{"name":"a","total_range":-1}]`, want: []Repository{{Name: "a"}}, wantTotal: -1},
		{name: "total_range fractional", body: `[{"name":"a","total_range":7.5}]`, want: []Repository{{Name: "a"}}, wantTotal: -1},
		{name: "total_range beyond int64", body: `[{"name":"a","total_range":9223372036854775808}]`,
			want: []Repository{{Name: "a"}}, wantTotal: -1},
		{name: "null", body: `null`, wantErr: "expected a JSON array, got null"},
		{name: "object", body: `{"repos":[]}`, wantErr: "expected a JSON array, got an object"},
		{name: "empty", body: ` `, wantErr: "empty body"},
		{name: "truncated", body: `[{"name":"a"},{"name":"b`, wantErr: "truncated JSON"},
		{name: "trailing garbage", body: `[] []`, wantErr: "malformed JSON"},
		{name: "missing name", body: `[{"name":"a"},{"namespace":"acme"}]`, wantErr: "entry 1: no name"},
		{name: "null name", body: `[{"name":null}]`, wantErr: "entry 0: name is null"},
		{name: "empty name", body: `[{"name":""}]`, wantErr: "entry 0: name is empty"},
		{name: "numeric name", body: `[{"name":7}]`, wantErr: "entry 0: name is not a string"},
		{name: "object name", body: `[{"name":{"n":"a"}}]`, wantErr: "entry 0: name is not a string"},
		{name: "null entry", body: `[null]`, wantErr: "entry 0: no name"},
		{name: "string entry", body: `["nginx"]`, wantErr: "an entry is a JSON string"},
		{name: "num_images a string", body: `[{"name":"a","num_images":"3"}]`, wantErr: `field "num_images" is a JSON string`},
		{name: "num_images fractional", body: `[{"name":"a","num_images":1.5}]`, wantErr: `field "num_images" is a JSON number`},
		{name: "tags a string", body: `[{"name":"a","tags":"latest"}]`, wantErr: `field "tags" is a JSON string`},
		{name: "namespace not a string", body: `[{"name":"a","namespace":1}]`, wantErr: `field "namespace" is a JSON number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := decodeRepositories([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeRepositories() error = %v, want one containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("decodeRepositories() = %v with an error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeRepositories() error = %v", err)
			}
			if got == nil {
				t.Fatal("decodeRepositories() = nil, want a non-nil slice")
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) || total != tt.wantTotal {
				t.Errorf("decodeRepositories() =\n%#v, total %d\nwant\n%#v, total %d", got, total, tt.want, tt.wantTotal)
			}
		})
	}
}

func FuzzDecodeRepositories(f *testing.F) {
	for _, seed := range []string{
		"[" + repositoryEntry + "]", `[]`, `null`, `{}`, `[{"name":""}]`, `[{"name":null}]`, `[{"name":7}]`,
		`[{"name":"a/b","total_range":2},{"name":"a/b","namespace":"x","total_range":2}]`,
		`[{"name":"a","tags":["\u00ff\n",null]}]`, `[{"name":"a","num_images":"1"}]`, `[{"name":`, `["x"]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		repos, total, err := decodeRepositories(body)
		if err != nil {
			if repos != nil {
				t.Fatalf("decodeRepositories returned %d entries with error %v", len(repos), err)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
				t.Fatalf("error message %q is not sanitized", msg)
			}
			return
		}
		if repos == nil {
			t.Fatal("decodeRepositories succeeded with a nil slice")
		}
		if total < -1 || total >= 0 && len(repos) == 0 {
			t.Fatalf("total %d for %d entries", total, len(repos))
		}
		for i, r := range repos {
			if r.Name == "" {
				t.Fatalf("entry %d has an empty name in a successful decode", i)
			}
		}
		// Whatever decoded must survive a round trip through its own encoding unchanged.
		encoded, err := json.Marshal(repos)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := decodeRepositories(encoded)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", encoded, err)
		}
		if fmt.Sprintf("%#v", again) != fmt.Sprintf("%#v", repos) {
			t.Fatalf("round trip changed the result:\n%#v\n%#v", repos, again)
		}
	})
}
