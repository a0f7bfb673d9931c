// Package v1alpha1 contains the v1alpha1 API of the swr.imagesync.io group: ImageRepository, which
// names a Huawei Cloud SWR repository to watch, and SyncRepoTask, which mirrors one of that
// repository's automatic image sync policies.
//
// +kubebuilder:object:generate=true
// +groupName=swr.imagesync.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "swr.imagesync.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this group and version to a scheme. It is apimachinery's,
	// as in k8s.io/api, rather than controller-runtime's deprecated scheme.Builder, so that this
	// package needs nothing beyond the standard library and k8s.io/apimachinery.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group and version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers every kind of this group and version, and the list and meta types
// (ListOptions, Status, ...) that every group version needs.
func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&ImageOrganization{}, &ImageOrganizationList{},
		&ImageRepository{}, &ImageRepositoryList{},
		&SyncRepoTask{}, &SyncRepoTaskList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
