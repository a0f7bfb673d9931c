// Package v1alpha1 contains the v1alpha1 API of the swr.imagesync.io group: ImageRepository, which
// names a Huawei Cloud SWR repository to watch, and SyncRepoTask, which mirrors one of that
// repository's automatic image sync policies.
//
// +kubebuilder:object:generate=true
// +groupName=swr.imagesync.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "swr.imagesync.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this group and version to a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group and version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
