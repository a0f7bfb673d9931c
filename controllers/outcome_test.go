package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

func TestFailureReasons(t *testing.T) {
	tests := []struct {
		err     error
		reason  string
		stalled bool
	}{
		{&credentialsError{reason: swrv1.ReasonCredentialsNotFound, msg: "x"}, swrv1.ReasonCredentialsNotFound, true},
		{invalidCredentials("x"), swrv1.ReasonCredentialsInvalid, true},
		{&endpointError{msg: "x"}, swrv1.ReasonEndpointNotAllowed, true},
		{&swr.Error{Class: swr.ClassUnauthorized}, swrv1.ReasonAuthenticationFailed, true},
		{&swr.Error{Class: swr.ClassForbidden}, swrv1.ReasonAccessDenied, true},
		{&swr.Error{Class: swr.ClassNotFound}, swrv1.ReasonRepositoryNotFound, true},
		{&swr.Error{Class: swr.ClassBadRequest}, swrv1.ReasonInvalidRequest, true},
		{&swr.Error{Class: swr.ClassThrottled}, swrv1.ReasonThrottled, false},
		{&swr.Error{Class: swr.ClassConflict}, swrv1.ReasonUpstreamUnavailable, false},
		{&swr.Error{Class: swr.ClassServer}, swrv1.ReasonUpstreamUnavailable, false},
		{&swr.Error{Class: swr.ClassNetwork}, swrv1.ReasonUpstreamUnavailable, false},
		{&swr.Error{Class: swr.ClassTimeout}, swrv1.ReasonUpstreamUnavailable, false},
		{&swr.Error{Class: swr.ClassBadBody}, swrv1.ReasonUpstreamUnavailable, false},
		{fmt.Errorf("wrapped: %w", &swr.Error{Class: swr.ClassNotFound}), swrv1.ReasonRepositoryNotFound, true},
		{errors.New("apiserver said no"), swrv1.ReasonMirrorFailed, false},
	}
	for _, tt := range tests {
		got := failure(tt.err)
		if got.reason != tt.reason || got.stalled != tt.stalled {
			t.Errorf("failure(%v) = %s stalled=%v, want %s stalled=%v", tt.err, got.reason, got.stalled, tt.reason, tt.stalled)
		}
	}
}

func TestApplyOutcomeKeepsTransitionTimeWhileStatusHolds(t *testing.T) {
	repo := &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	t0 := metav1.Now().Time
	applyOutcome(repo, pollOutcome{tasks: 2}, t0, true)
	first := *readyOf(repo)
	applyOutcome(repo, pollOutcome{tasks: 3}, t0.Add(60e9), true)
	second := *readyOf(repo)
	if !second.LastTransitionTime.Equal(&first.LastTransitionTime) {
		t.Fatalf("lastTransitionTime moved without a transition")
	}
	if second.Message != "3 sync tasks" || repo.Status.TaskCount != 3 {
		t.Fatalf("message %q, taskCount %d", second.Message, repo.Status.TaskCount)
	}

	applyOutcome(repo, failure(&swr.Error{Class: swr.ClassServer, StatusCode: 503}), t0.Add(120e9), true)
	if repo.Status.TaskCount != 3 {
		t.Fatalf("a failure changed taskCount to %d", repo.Status.TaskCount)
	}
	if repo.Status.LastSuccessfulPollTime.Time.After(t0.Add(61e9)) {
		t.Fatalf("a failure moved lastSuccessfulPollTime")
	}
}

func TestCredentialsFromSecret(t *testing.T) {
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
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{}}
			for k, v := range tt.data {
				secret.Data[k] = []byte(v)
			}
			kind, values, err := credentialsFromSecret(secret)
			if tt.wantErr != "" {
				var credErr *credentialsError
				if !errors.As(err, &credErr) || credErr.reason != swrv1.ReasonCredentialsInvalid {
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

func TestResolveEndpoint(t *testing.T) {
	tests := []struct {
		spec    swrv1.ImageRepositorySpec
		policy  EndpointPolicy
		want    string
		wantErr string
	}{
		{spec: swrv1.ImageRepositorySpec{Region: "ap-southeast-1"}, want: "https://swr-api.ap-southeast-1.myhuaweicloud.com"},
		{spec: swrv1.ImageRepositorySpec{Region: "eu-west-101"}, want: "https://swr-api.eu-west-101.myhuaweicloud.eu"},
		{spec: swrv1.ImageRepositorySpec{Region: "cn-north-4", Endpoint: "https://swr.internal.example/"}, want: "https://swr.internal.example"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "http://127.0.0.1:8080"}, wantErr: "--allow-insecure-endpoints"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "http://127.0.0.1:8080"}, policy: EndpointPolicy{AllowInsecure: true}, want: "http://127.0.0.1:8080"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "https://user:s3cr3t@swr.example"}, wantErr: "user information"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "ftp://swr.example"}, wantErr: "not supported"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "https://swr.example?x=1"}, wantErr: "query"},
		{spec: swrv1.ImageRepositorySpec{}, wantErr: "neither"},
		{spec: swrv1.ImageRepositorySpec{Region: "ap-southeast-1"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			want: "https://swr-api.ap-southeast-1.myhuaweicloud.com"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "https://swr.attacker.example"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			wantErr: "host swr.attacker.example is not allowed by the manager's --allowed-endpoint-hosts (.myhuaweicloud.com)"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "https://evilmyhuaweicloud.com"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			wantErr: "not allowed"},
		{spec: swrv1.ImageRepositorySpec{Region: "eu-west-101"}, policy: EndpointPolicy{AllowedHosts: []string{".myhuaweicloud.com"}},
			wantErr: "not allowed"},
		{spec: swrv1.ImageRepositorySpec{Endpoint: "https://swr.internal:8443"}, policy: EndpointPolicy{AllowedHosts: []string{"swr.internal"}},
			want: "https://swr.internal:8443"},
	}
	for _, tt := range tests {
		got, err := resolveEndpoint(tt.spec.Endpoint, tt.spec.Region, tt.policy)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("resolveEndpoint(%+v) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
		case err != nil || got != tt.want:
			t.Errorf("resolveEndpoint(%+v) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
}
