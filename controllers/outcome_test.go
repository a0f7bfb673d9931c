package controllers

import (
	"errors"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

func TestFailureReasons(t *testing.T) {
	tests := []struct {
		err     error
		reason  string
		stalled bool
	}{
		{&credentials.Error{Problem: credentials.NotFound}, swrv1.ReasonCredentialsNotFound, true},
		{&credentials.Error{Problem: credentials.Invalid}, swrv1.ReasonCredentialsInvalid, true},
		{&credentials.Error{Problem: credentials.CertificateInvalid}, swrv1.ReasonCertificateInvalid, true},
		{&credentials.Error{Problem: credentials.EndpointRefused}, swrv1.ReasonEndpointNotAllowed, true},
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
	if repo.Status.LastSuccessfulPollTime.After(t0.Add(61e9)) {
		t.Fatalf("a failure moved lastSuccessfulPollTime")
	}
}
