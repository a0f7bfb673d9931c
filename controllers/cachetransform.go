package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// StripCachedMetadata is the manager cache's transform: it drops from every object what the
// operator never reads, before the object is stored.
//
//   - managedFields, on every kind: server-side apply bookkeeping, often larger than the object.
//   - the annotations of Secrets, which the operator watches for their names and versions only:
//     `kubectl apply` copies a Secret's whole data, base64 and all, into the
//     kubectl.kubernetes.io/last-applied-configuration annotation, so caching Secret metadata
//     as it is would keep the credentials of every Secret in the watched namespaces in memory.
//
// It is a toolscache.TransformFunc: it changes the object in place and never fails.
func StripCachedMetadata(obj any) (any, error) {
	accessor, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil // a DeletedFinalStateUnknown tombstone: nothing to strip
	}
	accessor.SetManagedFields(nil)
	if isSecret(obj) {
		accessor.SetAnnotations(nil)
	}
	return obj, nil
}

var _ toolscache.TransformFunc = StripCachedMetadata

// isSecret reports whether obj is a Secret, typed or as the metadata-only object of a metadata
// watch.
func isSecret(obj any) bool {
	switch o := obj.(type) {
	case *corev1.Secret:
		return true
	case *metav1.PartialObjectMetadata:
		// The apiserver's metadata-only list and watch answers carry the kind; the apiVersion of
		// a Secret is "v1".
		return o.Kind == "Secret" && o.APIVersion == "v1"
	}
	return false
}
