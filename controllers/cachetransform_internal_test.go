package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

func TestCacheTransformDropsWhatTheOperatorNeverReads(t *testing.T) {
	task := &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{
		Name: "app-1", Namespace: "team",
		Labels:        map[string]string{swrv1.ImageRepositoryLabel: "app"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "swr-sync-operator"}},
	}}
	if _, err := StripCachedMetadata(task); err != nil {
		t.Fatal(err)
	}
	if task.ManagedFields != nil || task.Labels[swrv1.ImageRepositoryLabel] != "app" {
		t.Fatalf("transformed task: %+v", task.ObjectMeta)
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
