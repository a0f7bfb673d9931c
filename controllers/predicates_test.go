package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// TestImageRepositoryPredicates checks which ImageRepository updates reach the reconciler. Every
// update that passes costs a reconcile, and a reconcile of a repository whose poll is due polls
// SWR; so a label edit or the operator's own status write must be filtered, while a new
// generation or a new requested-at annotation must not be.
func TestImageRepositoryPredicates(t *testing.T) {
	old := &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{
		Name: "repo", Namespace: "ns", Generation: 2, ResourceVersion: "10",
		Labels:      map[string]string{"team": "platform"},
		Annotations: map[string]string{swrv1.RequestedAtAnnotation: "a"},
	}}
	updated := func(mutate func(*swrv1.ImageRepository)) *swrv1.ImageRepository {
		repo := old.DeepCopy()
		repo.ResourceVersion = "11"
		mutate(repo)
		return repo
	}
	tests := []struct {
		name string
		new  *swrv1.ImageRepository
		// wantRequested is requestedAtChanged's verdict, wantSetup that of the predicate
		// SetupWithManager installs (requestedAtChanged or a new generation).
		wantRequested, wantSetup bool
	}{
		{name: "labels only", new: updated(func(r *swrv1.ImageRepository) {
			r.Labels = map[string]string{"team": "storage", "tier": "gold"}
		})},
		{name: "another annotation", new: updated(func(r *swrv1.ImageRepository) {
			r.Annotations["note"] = "hello"
		})},
		{name: "status only", new: updated(func(r *swrv1.ImageRepository) {
			r.Status.LastHandledReconcileAt = "a"
			r.Status.ObservedGeneration = 2
		})},
		{name: "new generation", new: updated(func(r *swrv1.ImageRepository) {
			r.Generation = 3
		}), wantSetup: true},
		{name: "new requested-at", new: updated(func(r *swrv1.ImageRepository) {
			r.Annotations[swrv1.RequestedAtAnnotation] = "b"
		}), wantRequested: true, wantSetup: true},
		{name: "requested-at removed", new: updated(func(r *swrv1.ImageRepository) {
			delete(r.Annotations, swrv1.RequestedAtAnnotation)
		}), wantRequested: true, wantSetup: true},
	}
	// The very predicate SetupWithManager installs on the ImageRepository watch.
	setup := imageRepositoryChanged()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := event.UpdateEvent{ObjectOld: old, ObjectNew: tt.new}
			if got := requestedAtChanged().Update(e); got != tt.wantRequested {
				t.Errorf("requestedAtChanged().Update() = %v, want %v", got, tt.wantRequested)
			}
			if got := setup.Update(e); got != tt.wantSetup {
				t.Errorf("the setup predicate's Update() = %v, want %v", got, tt.wantSetup)
			}
		})
	}

	t.Run("an annotation added to an object without annotations", func(t *testing.T) {
		bare := &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Generation: 1}}
		requested := bare.DeepCopy()
		requested.Annotations = map[string]string{swrv1.RequestedAtAnnotation: "a"}
		if !requestedAtChanged().Update(event.UpdateEvent{ObjectOld: bare, ObjectNew: requested}) {
			t.Error("a first requested-at annotation was filtered")
		}
	})

	// New and deleted repositories must still be reconciled: the predicate filters updates only.
	t.Run("create and delete pass", func(t *testing.T) {
		if !setup.Create(event.CreateEvent{Object: old}) {
			t.Error("a created ImageRepository was filtered")
		}
		if !setup.Delete(event.DeleteEvent{Object: old}) {
			t.Error("a deleted ImageRepository was filtered")
		}
	})
}
