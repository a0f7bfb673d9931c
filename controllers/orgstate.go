package controllers

import (
	"crypto/sha256"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// orgState is what the ImageOrganization reconciler knows of each ImageOrganization beyond its
// status (see objectState): besides what both reconcilers keep, the repository names its last
// complete listing of this generation selected, so that a generated ImageRepository edited or
// deleted by hand is put back without asking SWR, and what its last apply of each generated
// ImageRepository sent and got back, so that an unchanged one is not applied again.
type orgState struct {
	*objectState[appliedChildren, discoveredNames]
}

func newOrgState() orgState {
	return orgState{newObjectState[appliedChildren, discoveredNames]()}
}

// discoveredNames are the names one generation's last complete listing selected; ok is false
// until there is one.
type discoveredNames struct {
	names []string
	ok    bool
}

// remember keeps the names a complete listing of org's generation calls for.
func (s orgState) remember(org *swrv1.ImageOrganization, names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(org).ofGeneration = discoveredNames{names: names, ok: true}
}

// remembered returns the names of org's last complete listing of this generation.
func (s orgState) remembered(org *swrv1.ImageOrganization) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.recordLocked(org).ofGeneration
	return d.names, d.ok
}

// appliedChildren are the last applies of an ImageOrganization's generated ImageRepositories,
// by name. It lives as long as the ImageOrganization (a template change changes the applied
// configuration, which is part of each entry) and goes with it (forget).
type appliedChildren map[string]appliedChild

// appliedChild is what one server-side apply of a generated ImageRepository sent and what the
// apiserver answered, as cluster-api's SSA request cache remembers it: the cache holds no
// managedFields, so it cannot tell whether an apply would change anything; this can.
type appliedChild struct {
	// config is the digest of the apply configuration sent (see childApplyConfiguration).
	config [sha256.Size]byte
	// uid, resourceVersion and generation identify the object the apply returned; metadata is
	// the digest of its labels, annotations and ownerReferences (see childMetadataDigest).
	uid             types.UID
	resourceVersion string
	generation      int64
	metadata        [sha256.Size]byte
}

// rememberApplied records the answer to an apply of the configuration whose digest is config.
func (s orgState) rememberApplied(org *swrv1.ImageOrganization, config [sha256.Size]byte, applied metav1.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(org)
	if rec.object == nil {
		rec.object = appliedChildren{}
	}
	rec.object[applied.GetName()] = appliedChild{config: config, uid: applied.GetUID(),
		resourceVersion: applied.GetResourceVersion(), generation: applied.GetGeneration(),
		metadata: childMetadataDigest(applied)}
}

// appliedUnchanged reports whether applying the configuration whose digest is config to cached,
// a generated ImageRepository as the cache shows it, would change nothing: this process applied
// that same configuration to that same object last, and the object has not changed since, other
// than in its status. That is the case when the cache shows the version the apply returned or an
// earlier one (the cache has not caught up with the apply yet; the apply's own event follows), or
// a later one with the same generation and the same labels, annotations and ownerReferences:
// the ImageRepository reconciler's status writes move the resourceVersion of every generated
// ImageRepository at each poll, and must not cause an apply each. The later version is then
// remembered instead. A process that has not applied to cached since it started knows nothing,
// and applies once (a no-op for the apiserver when nothing changed).
func (s orgState) appliedUnchanged(org *swrv1.ImageOrganization, config [sha256.Size]byte, cached *swrv1.ImageRepository) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(org)
	last, ok := rec.object[cached.Name]
	if !ok || last.uid != cached.UID || last.config != config {
		return false
	}
	cmp, err := resourceversion.CompareResourceVersion(cached.ResourceVersion, last.resourceVersion)
	switch {
	case cached.ResourceVersion == last.resourceVersion || (err == nil && cmp < 0):
		return true
	case cached.Generation == last.generation && childMetadataDigest(cached) == last.metadata:
		last.resourceVersion = cached.ResourceVersion
		rec.object[cached.Name] = last
		return true
	}
	return false
}

// retainApplied forgets the applies of org's ImageRepositories whose names are not in keep.
func (s orgState) retainApplied(org *swrv1.ImageOrganization, keep map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recordLocked(org)
	for name := range rec.object {
		if !keep[name] {
			delete(rec.object, name)
		}
	}
}

// childMetadataDigest is the digest of the metadata an ImageOrganization applies to a generated
// ImageRepository and changes of which leave its generation alone: labels, annotations and
// ownerReferences.
func childMetadataDigest(obj metav1.Object) [sha256.Size]byte {
	data, _ := json.Marshal(struct { //nolint:errchkjson // cannot fail: strings, bools and a UID
		Labels          map[string]string       `json:"l,omitempty"`
		Annotations     map[string]string       `json:"a,omitempty"`
		OwnerReferences []metav1.OwnerReference `json:"o,omitempty"`
	}{obj.GetLabels(), obj.GetAnnotations(), obj.GetOwnerReferences()})
	return sha256.Sum256(data)
}
