package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageOrganizationSpec names an SWR organization whose repositories are discovered, and the
// ImageRepository every one of them gets.
//
// +kubebuilder:validation:XValidation:rule="has(self.region) || has(self.endpoint)",message="set spec.region (e.g. ap-southeast-1) or spec.endpoint (e.g. https://swr-api.ap-southeast-1.myhuaweicloud.com)"
type ImageOrganizationSpec struct {
	// organization is the SWR organization whose repositories are discovered, with the rules of
	// an ImageRepository's spec.organization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z][a-z0-9]*(?:(?:[._-]|__)[a-z0-9]+)*$')",message="organization must start with a lowercase letter, end with a lowercase letter or digit, and contain only lowercase letters, digits and single '.', '_' or '-' separators (or '__'), never two separators in a row"
	Organization string `json:"organization"`

	// region is the Huawei Cloud region of the SWR instance, as on an ImageRepository.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	Region string `json:"region,omitempty"`

	// endpoint is the base URL of the SWR API, as on an ImageRepository.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="endpoint must be an absolute URL starting with https:// (or http://), e.g. https://swr-api.ap-southeast-1.myhuaweicloud.com"
	Endpoint string `json:"endpoint,omitempty"`

	// secretRef names the credentials Secret in the same namespace, as on an ImageRepository;
	// every generated ImageRepository uses it too.
	// +required
	SecretRef SecretReference `json:"secretRef"`

	// certSecretRef names a Secret with "ca.crt" to trust for the endpoint, as on an
	// ImageRepository; every generated ImageRepository uses it too.
	// +optional
	CertSecretRef *SecretReference `json:"certSecretRef,omitempty"`

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

	// suspend stops discovery while true. Generated ImageRepositories are kept as they are.
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
	interval := DefaultDiscoveryInterval
	if in.Spec.Interval != nil && in.Spec.Interval.Duration > 0 {
		interval = in.Spec.Interval.Duration
	}
	return max(interval, minimum)
}

// RequestTimeout returns spec.timeout, or the default when unset.
func (in *ImageOrganization) RequestTimeout() time.Duration {
	if in.Spec.Timeout == nil || in.Spec.Timeout.Duration <= 0 {
		return DefaultTimeout
	}
	return in.Spec.Timeout.Duration
}

// DefaultDiscoveryInterval is the default spec.interval of an ImageOrganization.
const DefaultDiscoveryInterval = 10 * time.Minute

// ImageOrganizationLabel on a generated ImageRepository names the ImageOrganization that keeps
// it (shortened with a hash suffix when the name is longer than a label value allows).
const ImageOrganizationLabel = "swr.imagesync.io/image-organization"
