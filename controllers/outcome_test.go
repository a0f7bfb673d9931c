package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
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

func TestMarkSuspendedKeepsReadyStatus(t *testing.T) {
	t0 := metav1.Now().Rfc3339Copy().Time
	cond := func(condType string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
		return metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message,
			ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(t0)}
	}
	tests := []struct {
		name       string
		conditions []metav1.Condition
		tasks      int32
		status     metav1.ConditionStatus
		message    string
	}{{
		name:       "ready",
		conditions: []metav1.Condition{cond(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks")},
		tasks:      2,
		status:     metav1.ConditionTrue,
		message:    "polling is suspended (spec.suspend); 2 sync tasks kept; before: Succeeded: 2 sync tasks",
	}, {
		name: "stalled",
		conditions: []metav1.Condition{
			cond(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed, "SWR rejected the credentials"),
			cond(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonAuthenticationFailed, "SWR rejected the credentials"),
		},
		tasks:   1,
		status:  metav1.ConditionFalse,
		message: "polling is suspended (spec.suspend); 1 sync task kept; before: AuthenticationFailed: SWR rejected the credentials",
	}, {
		name: "retrying",
		conditions: []metav1.Condition{
			cond(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonThrottled, "HTTP 429"),
			cond(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after Throttled"),
		},
		status:  metav1.ConditionFalse,
		message: "polling is suspended (spec.suspend); 0 sync tasks kept; before: Throttled: HTTP 429",
	}, {
		name:    "never polled",
		status:  metav1.ConditionUnknown,
		message: "polling is suspended (spec.suspend); 0 sync tasks kept; no outcome yet",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
			repo.Status.Conditions = tt.conditions
			repo.Status.TaskCount = tt.tasks
			// Reconciles while suspended, one of them for a new generation (an edited interval),
			// must leave Ready as the first one wrote it.
			for i, gen := range []int64{2, 2, 3} {
				repo.Generation = gen
				markSuspended(repo, t0.Add(time.Duration(i+1)*time.Minute))
				ready := readyOf(repo)
				if ready == nil || ready.Status != tt.status || ready.Reason != swrv1.ReasonSuspended || ready.Message != tt.message {
					t.Fatalf("reconcile %d: Ready = %+v, want %s Suspended %q", i, ready, tt.status, tt.message)
				}
				// The status never changes: Ready keeps the time it got it (a new Ready, the first
				// suspension's).
				want := t0
				if tt.conditions == nil {
					want = t0.Add(time.Minute)
				}
				if !ready.LastTransitionTime.Time.Equal(want) {
					t.Errorf("reconcile %d: lastTransitionTime %v, want %v", i, ready.LastTransitionTime, want)
				}
				if ready.ObservedGeneration != gen || repo.Status.ObservedGeneration != gen {
					t.Errorf("reconcile %d: observedGeneration %d (Ready %d), want %d", i, repo.Status.ObservedGeneration, ready.ObservedGeneration, gen)
				}
				for _, condType := range []string{swrv1.ConditionReconciling, swrv1.ConditionStalled} {
					if c := meta.FindStatusCondition(repo.Status.Conditions, condType); c != nil {
						t.Errorf("reconcile %d: %s left as %+v", i, condType, c)
					}
				}
			}

			// Unsuspended, the next poll writes its own outcome over the Suspended one.
			applyOutcome(repo, pollOutcome{tasks: 2}, t0.Add(time.Hour), true)
			if ready := readyOf(repo); ready.Status != metav1.ConditionTrue || ready.Reason != swrv1.ReasonSucceeded || ready.Message != "2 sync tasks" {
				t.Errorf("after the next poll Ready = %+v", ready)
			}
		})
	}
}

func TestMarkOrganizationSuspendedKeepsReadyStatus(t *testing.T) {
	t0 := metav1.Now().Rfc3339Copy().Time
	org := &swrv1.ImageOrganization{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	applyDiscovery(org, discoveryOutcome{pollOutcome: pollOutcome{tasks: 42}}, t0)
	org.Generation = 2
	want := "discovery is suspended (spec.suspend); 42 ImageRepositories kept; before: Succeeded: 42 repositories"
	for i := range 3 {
		markOrganizationSuspended(org, t0.Add(time.Duration(i+1)*time.Minute))
		ready := meta.FindStatusCondition(org.Status.Conditions, swrv1.ConditionReady)
		if ready.Status != metav1.ConditionTrue || ready.Reason != swrv1.ReasonSuspended || ready.Message != want {
			t.Fatalf("reconcile %d: Ready = %+v, want True Suspended %q", i, ready, want)
		}
		if !ready.LastTransitionTime.Time.Equal(t0) || org.Status.ObservedGeneration != 2 {
			t.Errorf("reconcile %d: lastTransitionTime %v, observedGeneration %d", i, ready.LastTransitionTime, org.Status.ObservedGeneration)
		}
	}
}

func TestSuspendedMessageFitsACondition(t *testing.T) {
	var conditions []metav1.Condition
	long := strings.Repeat("é", maxConditionMessage/2)
	setConditionOf(&conditions, 1, swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonPolicyDrift, long, time.Now())
	suspendConditions(&conditions, 1, "polling", "2 sync tasks", time.Now())
	message := meta.FindStatusCondition(conditions, swrv1.ConditionReady).Message
	if len(message) > maxConditionMessage || !utf8.ValidString(message) || !strings.HasPrefix(message, "polling is suspended") {
		t.Errorf("message of %d bytes (valid UTF-8: %v) starting %.40q", len(message), utf8.ValidString(message), message)
	}
}
