package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// patchStatus writes the status difference between before and org (see writeStatusPatch).
func (r *ImageOrganizationReconciler) patchStatus(ctx context.Context, before, org *swrv1.ImageOrganization) error {
	return writeStatusPatch(ctx, r.Client, r.state.objectState, before, org, equality.Semantic.DeepEqual(before.Status, org.Status))
}

// applyDiscovery writes a discovery's outcome into org's status.
func applyDiscovery(org *swrv1.ImageOrganization, out discoveryOutcome, now time.Time) {
	status := &org.Status
	polledAt := metav1.NewTime(now.Truncate(time.Second))
	status.LastPollTime = &polledAt
	status.LastHandledReconcileAt = org.GetRequestedAt()
	set := func(condType string, s metav1.ConditionStatus, reason, message string) {
		setConditionOf(&status.Conditions, org.Generation, condType, s, reason, message, now)
	}
	switch {
	case out.err == nil:
		status.ObservedGeneration = org.Generation
		status.RepositoryCount = int32(out.tasks)
		message := fmt.Sprintf("%d repositories", out.tasks)
		if out.tasks == 1 {
			message = "1 repository"
		}
		if len(out.foreign) > 0 {
			message += fmt.Sprintf("; not managed, their names are taken by ImageRepositories this ImageOrganization does not own: %s",
				strings.Join(out.foreign, ", "))
		}
		set(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, message)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
	case out.stalled:
		status.ObservedGeneration = org.Generation
		set(swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error())
		set(swrv1.ConditionStalled, metav1.ConditionTrue, out.reason, out.err.Error())
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
	default:
		set(swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error())
		set(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after "+out.reason)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
	}
}

// markOrganizationSuspended records that discovery is suspended (see suspendConditions); the
// generated ImageRepositories stay as they are.
func markOrganizationSuspended(org *swrv1.ImageOrganization, now time.Time) {
	org.Status.ObservedGeneration = org.Generation
	kept := fmt.Sprintf("%d ImageRepositories", org.Status.RepositoryCount)
	if org.Status.RepositoryCount == 1 {
		kept = "1 ImageRepository"
	}
	suspendConditions(&org.Status.Conditions, org.Generation, "discovery", kept, now)
}

// recordDiscoveryEvents emits an event when ImageRepositories were written, when the Ready
// condition changes, and a Warning when the names taken by foreign ImageRepositories change.
func (r *ImageOrganizationReconciler) recordDiscoveryEvents(before, after *swrv1.ImageOrganization, out discoveryOutcome) {
	if out.children.any() {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, "RepositoriesDiscovered", "Discover", "%s", out.children.String())
	}
	was := meta.FindStatusCondition(before.Status.Conditions, swrv1.ConditionReady)
	is := meta.FindStatusCondition(after.Status.Conditions, swrv1.ConditionReady)
	if is == nil || (was != nil && was.Status == is.Status && was.Reason == is.Reason && was.Message == is.Message) {
		return
	}
	switch {
	case len(out.foreign) > 0:
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, "NameTaken", "Discover",
			"ImageRepositories this ImageOrganization does not own hold wanted names, left alone: %s", strings.Join(out.foreign, ", "))
	case was != nil && was.Status == is.Status && was.Reason == is.Reason:
		// Only the count changed: the RepositoriesDiscovered event said so.
	case is.Status == metav1.ConditionTrue:
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, is.Reason, "Discover", "%s", is.Message)
	default:
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, is.Reason, "Discover", "%s", is.Message)
	}
}
