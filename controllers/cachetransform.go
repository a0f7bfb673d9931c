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
		m.TypeMeta = taskMetadataType // the same two strings for every task, decoded anew for each
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
	// labelSets are the shared single-label maps, by "key=value".
	labelSets map[string]map[string]string
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
	in.resetIfFullLocked()
	m.Namespace = in.intern(m.Namespace)
	m.Labels = in.labelsLocked(m.Labels)
	for i := range m.OwnerReferences {
		ref := &m.OwnerReferences[i]
		ref.APIVersion, ref.Kind, ref.Name = in.intern(ref.APIVersion), in.intern(ref.Kind), in.intern(ref.Name)
		ref.UID = types.UID(in.intern(string(ref.UID)))
	}
}

// labelsLocked returns a shared copy of a task's labels: the tasks of one ImageRepository carry
// the same single label, and a map costs more than its strings. Nothing writes to the labels of
// a cached or known task (readers get deep copies, which copy the map), so one map can serve
// them all. Other label sets get a map of their own, of shared strings. The caller holds in.mu.
func (in *interner) labelsLocked(labels map[string]string) map[string]string {
	if len(labels) == 1 {
		for k, v := range labels {
			key := k + "=" + v // "=" cannot be part of a label key
			if shared, ok := in.labelSets[key]; ok {
				return shared
			}
			shared := map[string]string{in.intern(k): in.intern(v)}
			in.labelSets[key] = shared
			return shared
		}
	}
	own := make(map[string]string, len(labels))
	for k, v := range labels {
		own[in.intern(k)] = in.intern(v)
	}
	return own
}

// internListing shares the strings that the policies and jobs of a listing repeat (the
// organization, repository, account, targets, job states and operators, and the policies' times,
// which their tasks hold too); the jobs' times and tags are mostly unique and left alone.
func (in *interner) internListing(l *listing) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.resetIfFullLocked()
	for i := range l.policies {
		p := &l.policies[i]
		for _, field := range []*string{&p.CreatedAt, &p.UpdatedAt, &p.DomainID, &p.DomainName, &p.Namespace, &p.RepoName, &p.RemoteRegionID, &p.RemoteNamespace} {
			*field = in.intern(*field)
		}
	}
	for i := range l.jobs.jobs {
		j := &l.jobs.jobs[i]
		for _, field := range []*string{&j.DomainID, &j.DomainName, &j.Namespace, &j.RepoName, &j.RemoteRegionID, &j.RemoteNamespace,
			&j.Status, &j.SyncOperatorID, &j.SyncOperatorName} {
			*field = in.intern(*field)
		}
	}
}

// resetIfFullLocked starts the interner afresh when it is new or past internerLimit. The caller
// holds in.mu.
func (in *interner) resetIfFullLocked() {
	if in.strings == nil || len(in.strings)+len(in.labelSets) > internerLimit {
		in.strings = make(map[string]string, 1024)
		in.labelSets = make(map[string]map[string]string, 256)
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

// taskMetadataType is the TypeMeta of every SyncRepoTask's metadata.
var taskMetadataType = TaskMetadata().TypeMeta

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
