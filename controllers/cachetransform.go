package controllers

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
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
// It also makes the strings that the metadata of SyncRepoTasks repeats (their namespace, label
// and owner) share one copy (see taskStrings), as repoTasks does for their content.
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
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && isTaskMetadata(m) {
		taskStrings.internMetadata(&m.ObjectMeta)
	}
	return obj, nil
}

// taskStrings is the interner of the SyncRepoTasks' strings. The informer decodes every
// string of every object into its own allocation, yet the tasks of one ImageRepository repeat
// most of theirs, and all tasks a few more: sharing them saves several hundred bytes per task.
var taskStrings = &interner{}

// internerLimit bounds the interner: past it, it starts afresh (strings interned before stay
// shared), so that the names of objects long deleted are not kept for ever.
const internerLimit = 1 << 16

// interner returns one shared copy of equal strings.
type interner struct {
	mu      sync.Mutex
	strings map[string]string
}

// internMetadata shares the strings of a task's metadata: what the cache holds of it.
func (in *interner) internMetadata(m *metav1.ObjectMeta) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.internMetadataLocked(m)
}

// internTask shares the strings of a whole task: what repoTasks holds of it.
func (in *interner) internTask(task *swrv1.SyncRepoTask) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.internMetadataLocked(&task.ObjectMeta)
	p := &task.Status.SyncRepoPolicy
	for _, field := range []*string{&p.CreatedAt, &p.UpdatedAt, &p.DomainID, &p.DomainName, &p.Namespace, &p.RepoName,
		&p.RemoteRegionID, &p.RemoteNamespace} {
		*field = in.intern(*field)
	}
	if job := task.Status.LastSyncJob; job != nil {
		job.Status = in.intern(job.Status)
	}
	for i := range task.Status.Conditions {
		c := &task.Status.Conditions[i]
		c.Type, c.Reason = in.intern(c.Type), in.intern(c.Reason)
		c.Status = metav1.ConditionStatus(in.intern(string(c.Status)))
	}
}

// internMetadataLocked shares the metadata strings that a task repeats. The caller holds in.mu.
func (in *interner) internMetadataLocked(m *metav1.ObjectMeta) {
	if in.strings == nil || len(in.strings) > internerLimit {
		in.strings = make(map[string]string, 1024)
	}
	m.Namespace = in.intern(m.Namespace)
	labels := make(map[string]string, len(m.Labels))
	for k, v := range m.Labels {
		labels[in.intern(k)] = in.intern(v)
	}
	m.Labels = labels
	for i := range m.OwnerReferences {
		ref := &m.OwnerReferences[i]
		ref.APIVersion, ref.Kind, ref.Name = in.intern(ref.APIVersion), in.intern(ref.Kind), in.intern(ref.Name)
		ref.UID = types.UID(in.intern(string(ref.UID)))
	}
}

// intern returns the shared copy of s. The caller holds in.mu.
func (in *interner) intern(s string) string {
	if shared, ok := in.strings[s]; ok {
		return shared
	}
	in.strings[s] = s
	return s
}

var _ toolscache.TransformFunc = StripCachedMetadata

// isTaskMetadata reports whether m is the metadata of a SyncRepoTask, as the metadata watch
// delivers it.
func isTaskMetadata(m *metav1.PartialObjectMetadata) bool {
	return m.Kind == "SyncRepoTask" && m.APIVersion == swrv1.GroupVersion.String()
}

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
