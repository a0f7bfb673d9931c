package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageOrganizationSpec names an SWR organization whose repositories are discovered, and the
// ImageRepository every one of them gets.
type ImageOrganizationSpec struct {
	// SWRAccess names the organization and how to reach it; every generated ImageRepository
	// gets a copy.
	SWRAccess `json:",inline"`

	// interval is how often the organization's repositories are listed, e.g. 10m.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s, e.g. 10m"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// timeout bounds one discovery's calls to SWR, every page of the listing together, e.g. 30s.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms')",message="timeout must be greater than zero, e.g. 30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// suspend stops discovery while true. Generated ImageRepositories are kept as they are, and
	// the Ready condition keeps its status, with reason Suspended: pausing is not a failure.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// include lists glob patterns (Go's path.Match syntax, e.g. "library/*") a repository name
	// must match to get an ImageRepository. Empty includes every repository.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=256
	Include []string `json:"include,omitempty"`

	// exclude lists glob patterns of repository names that get no ImageRepository, even when
	// they match Include.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=256
	Exclude []string `json:"exclude,omitempty"`

	// template is copied into every generated ImageRepository. Organization, repository,
	// region, endpoint, secretRef and certSecretRef always come from the ImageOrganization.
	// +optional
	Template ImageRepositoryTemplate `json:"template,omitempty"`
}

// ImageRepositoryTemplate is what every generated ImageRepository gets.
type ImageRepositoryTemplate struct {
	// metadata holds labels and annotations added to every generated ImageRepository.
	// +optional
	Metadata TemplateMetadata `json:"metadata,omitempty"`

	// spec holds the ImageRepository settings that are not the organization's.
	// +optional
	Spec ImageRepositoryTemplateSpec `json:"spec,omitempty"`
}

// TemplateMetadata is the metadata a template adds.
type TemplateMetadata struct {
	// labels added to every generated ImageRepository.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to every generated ImageRepository.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ImageRepositoryTemplateSpec is the part of an ImageRepositorySpec a template sets; see
// ImageRepositorySpec for each field.
type ImageRepositoryTemplateSpec struct {
	// interval of each generated ImageRepository (default 5m).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s, e.g. 5m"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// timeout of each generated ImageRepository (default 30s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms')",message="timeout must be greater than zero, e.g. 30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// suspend of each generated ImageRepository.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// syncJobs of each generated ImageRepository (default mode Observe, limit 100).
	// +optional
	SyncJobs *SyncJobsSpec `json:"syncJobs,omitempty"`

	// expectedPolicies of each generated ImageRepository.
	// +optional
	// +listType=map
	// +listMapKey=remoteRegionId
	// +listMapKey=remoteNamespace
	// +kubebuilder:validation:MaxItems=100
	ExpectedPolicies []ExpectedPolicy `json:"expectedPolicies,omitempty"`

	// unexpectedPolicies of each generated ImageRepository (default Ignore).
	// +optional
	UnexpectedPolicies UnexpectedPoliciesMode `json:"unexpectedPolicies,omitempty"`
}

// ImageOrganizationStatus is what the operator last observed.
type ImageOrganizationStatus struct {
	// conditions are Ready, Reconciling and Stalled, following kstatus conventions.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation of the spec that the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastPollTime is when the organization's repositories were last listed, successfully or not.
	// +optional
	LastPollTime *metav1.Time `json:"lastPollTime,omitempty"`

	// repositoryCount is the number of ImageRepositories the last complete listing calls for.
	// +optional
	RepositoryCount int32 `json:"repositoryCount"`

	// lastHandledReconcileAt is the last value of the swr.imagesync.io/requested-at annotation
	// that caused a discovery.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// ImageOrganization discovers every repository of one SWR organization and keeps one
// ImageRepository per repository, so that a whole organization is mirrored from one object.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=swrorg,categories=swr
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Repositories",type=integer,JSONPath=`.status.repositoryCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ImageOrganization struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the SWR organization and what its repositories get.
	// +required
	Spec ImageOrganizationSpec `json:"spec"`

	// status is what the operator last observed. A new object starts with observedGeneration -1,
	// so that kstatus readers see it in progress until its first discovery has written a status,
	// without a status write of its own before that discovery.
	// +optional
	// +kubebuilder:default={"observedGeneration":-1}
	Status ImageOrganizationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ImageOrganizationList is a list of ImageOrganizations.
type ImageOrganizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImageOrganization `json:"items"`
}

// GetRequestedAt returns the value of the swr.imagesync.io/requested-at annotation, if any.
func (in *ImageOrganization) GetRequestedAt() string {
	return in.GetAnnotations()[RequestedAtAnnotation]
}

// PollInterval returns spec.interval raised to minimum, or the default when unset.
func (in *ImageOrganization) PollInterval(minimum time.Duration) time.Duration {
	return max(durationOr(in.Spec.Interval, DefaultDiscoveryInterval), minimum)
}

// RequestTimeout returns spec.timeout, or the default when unset.
func (in *ImageOrganization) RequestTimeout() time.Duration {
	return durationOr(in.Spec.Timeout, DefaultTimeout)
}

// DefaultDiscoveryInterval is the default spec.interval of an ImageOrganization.
const DefaultDiscoveryInterval = 10 * time.Minute

// ImageOrganizationLabel on a generated ImageRepository names the ImageOrganization that keeps
// it (shortened with a hash suffix when the name is longer than a label value allows).
const ImageOrganizationLabel = "swr.imagesync.io/image-organization"
