package controllers

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

func TestCachedTaskMetadataSharesItsRepeatedParts(t *testing.T) {
	taskOf := func(name string) *metav1.PartialObjectMetadata {
		m := TaskMetadata()
		m.ObjectMeta = metav1.ObjectMeta{
			Name: name, Namespace: "team",
			Labels:        map[string]string{swrv1.ImageRepositoryLabel: "app"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "swr-sync-operator"}},
		}
		return m
	}
	one, two := taskOf("app-1"), taskOf("app-2")
	for _, m := range []*metav1.PartialObjectMetadata{one, two} {
		if _, err := StripCachedMetadata(m); err != nil {
			t.Fatal(err)
		}
		if m.ManagedFields != nil || m.Labels[swrv1.ImageRepositoryLabel] != "app" || m.Kind != "SyncRepoTask" {
			t.Fatalf("transformed task metadata: %+v", m)
		}
	}
	if reflect.ValueOf(one.Labels).Pointer() != reflect.ValueOf(two.Labels).Pointer() {
		t.Error("two tasks of one ImageRepository hold a labels map each; they should share one")
	}
	// A reader's deep copy gets a map of its own, so that sharing one is safe.
	copied := one.DeepCopy()
	copied.Labels["edited"] = "yes"
	if _, ok := two.Labels["edited"]; ok {
		t.Error("an edit of a deep copy reached the shared labels map")
	}

	secret := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{}}"}},
	}
	if _, err := StripCachedMetadata(secret); err != nil {
		t.Fatal(err)
	}
	if secret.Annotations != nil {
		t.Errorf("a cached Secret kept its annotations: %v", secret.Annotations)
	}
}
