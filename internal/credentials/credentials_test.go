package credentials

import (
	"errors"
	"strings"
	"testing"
)

// spec holds the fields of an ImageRepository's spec that Endpoint reads.
type spec struct{ Endpoint, Region string }

func TestFromSecret(t *testing.T) {
	const secretValue = "hunter2-value"
	tests := []struct {
		name     string
		data     map[string]string
		wantKind string
		wantErr  string
	}{
		{name: "token", data: map[string]string{"token": "t0k3n\n"}, wantKind: tokenKind.name},
		{name: "password", data: map[string]string{"username": "u", "password": secretValue, "domainName": "d"}, wantKind: passwordKind.name},
		{name: "password with options", data: map[string]string{"username": "u", "password": secretValue, "domainName": "d",
			"projectName": "p", "iamEndpoint": "https://iam.example"}, wantKind: passwordKind.name},
		{name: "access key", data: map[string]string{"accessKey": "AK", "secretKey": secretValue}, wantKind: accessKeyKind.name},
		{name: "access key with token", data: map[string]string{"accessKey": "AK", "secretKey": secretValue,
			"projectId": "p", "securityToken": "st"}, wantKind: accessKeyKind.name},
		{name: "unrelated keys only", data: map[string]string{"ca.crt": secretValue},
			wantErr: `Secret "creds" holds no SWR credentials (keys: "ca.crt")`},
		{name: "no keys", data: map[string]string{}, wantErr: `(keys: none)`},
		{name: "two kinds", data: map[string]string{"token": secretValue, "accessKey": "AK", "secretKey": secretValue},
			wantErr: `mixes credential kinds (keys: "accessKey", "secretKey", "token")`},
		{name: "incomplete password", data: map[string]string{"username": "u", "domainName": "d"},
			wantErr: `has IAM password credentials but no key "password"`},
		{name: "incomplete access key", data: map[string]string{"secretKey": secretValue},
			wantErr: `has access key credentials but no key "accessKey"`},
		{name: "empty token", data: map[string]string{"token": ""}, wantErr: `key "token" is empty`},
		{name: "newline-only password", data: map[string]string{"username": "u", "password": "\n", "domainName": "d"},
			wantErr: `key "password" is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range tt.data {
				data[k] = []byte(v)
			}
			kind, values, err := fromSecret("creds", data)
			if tt.wantErr != "" {
				var credErr *Error
				if !errors.As(err, &credErr) || credErr.Problem != Invalid {
					t.Fatalf("got %v, want a CredentialsInvalid error", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secretValue) {
					t.Fatalf("the error shows a Secret value: %v", err)
				}
				return
			}
			if err != nil || kind.name != tt.wantKind {
				t.Fatalf("got kind %q, error %v; want kind %q", kind.name, err, tt.wantKind)
			}
			for k, v := range values {
				if strings.HasSuffix(v, "\n") {
					t.Fatalf("value of %q keeps its trailing newline", k)
				}
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		spec    spec
		policy  EndpointPolicy
		want    string
		wantErr string
	}{
		{spec: spec{Region: "ap-southeast-1"}, want: "https://swr-api.ap-southeast-1.myhuaweicloud.com"},
		{spec: spec{Region: "eu-west-101"}, want: "https://swr-api.eu-west-101.myhuaweicloud.eu"},
		{spec: spec{Region: "cn-north-4", Endpoint: "https://swr.internal.example/"}, want: "https://swr.internal.example"},
		{spec: spec{Endpoint: "http://127.0.0.1:8080"}, wantErr: "--allow-insecure-endpoints"},
		{spec: spec{Endpoint: "http://127.0.0.1:8080"}, policy: EndpointPolicy{AllowInsecure: true}, want: "http://127.0.0.1:8080"},
		{spec: spec{Endpoint: "https://user:s3cr3t@swr.example"}, wantErr: "user information"},
		{spec: spec{Endpoint: "ftp://swr.example"}, wantErr: "not supported"},
		{spec: spec{Endpoint: "https://swr.example?x=1"}, wantErr: "query"},
		{spec: spec{}, wantErr: "neither"},
		{spec: spec{Region: "ap-southeast-1"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			want: "https://swr-api.ap-southeast-1.myhuaweicloud.com"},
		{spec: spec{Endpoint: "https://swr.attacker.example"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			wantErr: "host swr.attacker.example is not allowed by the manager's --allowed-endpoint-hosts (.myhuaweicloud.com)"},
		{spec: spec{Endpoint: "https://evilmyhuaweicloud.com"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			wantErr: "not allowed"},
		{spec: spec{Region: "eu-west-101"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			wantErr: "not allowed"},
		{spec: spec{Endpoint: "https://swr.internal:8443"}, policy: EndpointPolicy{AllowedHosts: []string{"swr.internal"}},
			want: "https://swr.internal:8443"},
	}
	for _, tt := range tests {
		got, err := tt.policy.Endpoint(tt.spec.Endpoint, tt.spec.Region)
		switch {
		case tt.wantErr != "":
			var endpointErr *Error
			if err != nil && (!errors.As(err, &endpointErr) || endpointErr.Problem != EndpointRefused) {
				t.Errorf("Endpoint(%+v) error %v is not an EndpointRefused *Error", tt.spec, err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Endpoint(%+v) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
		case err != nil || got != tt.want:
			t.Errorf("Endpoint(%+v) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
}
