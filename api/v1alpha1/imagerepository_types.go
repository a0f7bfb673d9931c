package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageRepositorySpec names an SWR repository whose automatic sync policies are mirrored into
// SyncRepoTasks, and says how and how often to poll it.
type ImageRepositorySpec struct {
	// SWRAccess names the organization that holds the repository and how to reach it, as on an
	// ImageOrganization.
	SWRAccess `json:",inline"`

	// repository is the image repository name inside the organization, e.g. "nginx" or
	// "library/nginx": 1-128 characters, lowercase letters and digits, starting and ending with a
	// letter or digit, with single '.', '/', '_' or '-' separators or a double '__' between them.
	// A '/' is sent to SWR as '$', as the API requires; write the name with '/'.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]+(?:(?:[./_-]|__)[a-z0-9]+)*$')",message="repository must start and end with a lowercase letter or digit and contain only lowercase letters, digits and single '.', '/', '_' or '-' separators (or '__'), never two separators in a row; write '/' (not '$') between path parts"
	Repository string `json:"repository"`

	// interval is how often SWR is polled, e.g. 5m or 1h. Each poll is spread by about +-10% so
	// that many repositories do not poll at once. The manager raises intervals shorter than its
	// --min-interval.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s, e.g. 5m"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// timeout bounds the SWR part of one poll, e.g. 30s: the wait for the manager's
	// per-endpoint rate limit (--swr-qps), the IAM token request (password credentials), the
	// sync_repo and sync_job requests, and the one retry with a fresh token after a 401. A poll that runs out
	// of time is UpstreamUnavailable and retried with backoff.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms')",message="timeout must be greater than zero, e.g. 30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// suspend stops polling while true. Mirrored SyncRepoTasks are kept as they are, and the
	// Ready condition keeps its status, with reason Suspended: pausing is not a failure.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// syncJobs says whether the operator reads SWR's sync jobs to tell whether each policy's
	// replication works (SyncRepoTask status.lastSyncJob, status.failedTags, condition
	// Replicated).
	// +optional
	// +kubebuilder:default={}
	SyncJobs SyncJobsSpec `json:"syncJobs,omitempty"`

	// expectedPolicies are the sync policies this repository must have, by target. A listing
	// that lacks one, or whose policy differs in a field set here, is drift: Ready=False and
	// Stalled=True with reason PolicyDrift. The operator only observes: it never changes SWR.
	// +optional
	// +listType=map
	// +listMapKey=remoteRegionId
	// +listMapKey=remoteNamespace
	// +kubebuilder:validation:MaxItems=100
	ExpectedPolicies []ExpectedPolicy `json:"expectedPolicies,omitempty"`

	// unexpectedPolicies says what a listed policy whose target is not in expectedPolicies is:
	// Ignore (the default) or Report, which makes it drift too, e.g. to be told when images start
	// going to a region nobody approved.
	// +optional
	// +kubebuilder:default=Ignore
	UnexpectedPolicies UnexpectedPoliciesMode `json:"unexpectedPolicies,omitempty"`
}

// SWRAccess names an SWR organization and how to reach it: the region or endpoint of its API and
// the Secrets to authenticate and verify it with. ImageRepositories and ImageOrganizations share
// it, and an ImageOrganization's generated ImageRepositories get a copy of its own.
//
// +kubebuilder:validation:XValidation:rule="has(self.region) || has(self.endpoint)",message="set spec.region (e.g. ap-southeast-1) or spec.endpoint (e.g. https://swr-api.ap-southeast-1.myhuaweicloud.com)"
type SWRAccess struct {
	// organization is the SWR organization (the API's {namespace}): on an ImageRepository the one
	// that holds the repository, on an ImageOrganization the one whose repositories are
	// discovered. 1-64 characters, lowercase letters and digits, starting with a letter and ending
	// with a letter or digit, with single '.', '_' or '-' separators or a double '__' between them.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z][a-z0-9]*(?:(?:[._-]|__)[a-z0-9]+)*$')",message="organization must start with a lowercase letter, end with a lowercase letter or digit, and contain only lowercase letters, digits and single '.', '_' or '-' separators (or '__'), never two separators in a row"
	Organization string `json:"organization"`

	// region is the Huawei Cloud region of the SWR instance, e.g. ap-southeast-1. The endpoint
	// https://swr-api.{region}.myhuaweicloud.com is derived from it unless spec.endpoint is set.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	Region string `json:"region,omitempty"`

	// endpoint is the base URL of the SWR API, e.g.
	// https://swr-api.ap-southeast-1.myhuaweicloud.com. It overrides the endpoint derived from
	// spec.region. Plain http:// is refused unless the manager runs with
	// --allow-insecure-endpoints.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="endpoint must be an absolute URL starting with https:// (or http://), e.g. https://swr-api.ap-southeast-1.myhuaweicloud.com"
	Endpoint string `json:"endpoint,omitempty"`

	// secretRef names a Secret in the same namespace holding the SWR credentials, one kind of:
	// "token" (an IAM token); "username", "password" and "domainName" (an IAM user, optional
	// "projectName" and "iamEndpoint"); "accessKey" and "secretKey" (request signing, optional
	// "projectId" and "securityToken").
	// +required
	SecretRef SecretReference `json:"secretRef"`

	// certSecretRef names a Secret in the same namespace whose key "ca.crt" holds PEM
	// certificates to trust, besides the system's, for the SWR endpoint: for a private endpoint
	// behind a company CA. Certificates are always verified.
	// +optional
	CertSecretRef *SecretReference `json:"certSecretRef,omitempty"`
}

// SyncJobsSpec says how SWR's sync jobs are read.
type SyncJobsSpec struct {
	// mode is Observe (the default: the newest jobs are read after every successful listing of
	// the policies, one more SWR request per poll) or Ignore (sync_job is never called).
	// +optional
	// +kubebuilder:default=Observe
	Mode SyncJobsMode `json:"mode,omitempty"`

	// limit is how many of the newest jobs are read per poll, 1-100, in one request. A target
	// none of whose jobs is among them has condition Replicated=Unknown (NoSyncJobs).
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Limit int32 `json:"limit,omitempty"`
}

// SyncJobsMode is Observe or Ignore.
// +kubebuilder:validation:Enum=Observe;Ignore
type SyncJobsMode string

// The modes of spec.syncJobs.mode.
const (
	SyncJobsObserve SyncJobsMode = "Observe"
	SyncJobsIgnore  SyncJobsMode = "Ignore"
)

// UnexpectedPoliciesMode is Ignore or Report.
// +kubebuilder:validation:Enum=Ignore;Report
type UnexpectedPoliciesMode string

// The modes of spec.unexpectedPolicies.
const (
	UnexpectedPoliciesIgnore UnexpectedPoliciesMode = "Ignore"
	UnexpectedPoliciesReport UnexpectedPoliciesMode = "Report"
)

// ExpectedPolicy is a sync policy a repository must have, named by its target as SWR names it.
type ExpectedPolicy struct {
	// remoteRegionId is the region images must be synchronized to, e.g. ap-southeast-3.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	RemoteRegionID string `json:"remoteRegionId"`

	// remoteNamespace is the organization images must be synchronized to, with the rules of
	// spec.organization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z][a-z0-9]*(?:(?:[._-]|__)[a-z0-9]+)*$')",message="remoteNamespace must be an SWR organization name: start with a lowercase letter, end with a lowercase letter or digit, and contain only lowercase letters, digits and single '.', '_' or '-' separators (or '__')"
	RemoteNamespace string `json:"remoteNamespace"`

	// syncAuto is, when set, the syncAuto the policy must have.
	// +optional
	SyncAuto *bool `json:"syncAuto,omitempty"`

	// override is, when set, the override the policy must have.
	// +optional
	Override *bool `json:"override,omitempty"`
}

// SyncJobsMode returns spec.syncJobs.mode, or its default when unset.
func (in *ImageRepository) SyncJobsMode() SyncJobsMode {
	if in.Spec.SyncJobs.Mode == "" {
		return SyncJobsObserve
	}
	return in.Spec.SyncJobs.Mode
}

// SyncJobsLimit returns spec.syncJobs.limit, or its default when unset.
func (in *ImageRepository) SyncJobsLimit() int {
	if in.Spec.SyncJobs.Limit <= 0 {
		return DefaultSyncJobsLimit
	}
	return int(in.Spec.SyncJobs.Limit)
}

// SecretReference names a Secret in the ImageRepository's own namespace.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ImageRepositoryStatus is what the operator last observed.
type ImageRepositoryStatus struct {
	// conditions are Ready, Reconciling and Stalled, following kstatus conventions;
	// ReplicationHealthy (unless spec.syncJobs.mode is Ignore); PossiblyTruncated.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// observedGeneration is the generation of the spec that the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastPollTime is when SWR was last asked for the repository's policies, successfully or not.
	// The next poll is due one interval later.
	// +optional
	LastPollTime *metav1.Time `json:"lastPollTime,omitempty"`

	// lastSuccessfulPollTime is when SWR last answered with a listing that was mirrored.
	// +optional
	LastSuccessfulPollTime *metav1.Time `json:"lastSuccessfulPollTime,omitempty"`

	// taskCount is the number of sync policies in the last successful listing, i.e. the number
	// of SyncRepoTasks mirrored for this repository.
	// +optional
	// +kubebuilder:default=0
	TaskCount int32 `json:"taskCount"`

	// lastHandledReconcileAt is the last value of the swr.imagesync.io/requested-at annotation
	// that caused a poll.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// ImageRepository watches one Huawei Cloud SWR repository and mirrors its automatic image sync
// policies (GET /v2/manage/namespaces/{organization}/repos/{repository}/sync_repo) into
// SyncRepoTasks.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=swrrepo,categories=swr
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.repository`
// +kubebuilder:printcolumn:name="Tasks",type=integer,JSONPath=`.status.taskCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Last Poll",type=date,JSONPath=`.status.lastPollTime`,priority=1
type ImageRepository struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the SWR repository and how to poll it.
	// +required
	Spec ImageRepositorySpec `json:"spec"`

	// status is what the operator last observed. A new object starts with observedGeneration -1,
	// so that kstatus readers (Flux, Argo CD, kubectl wait) see it in progress until the first
	// poll has written a status, without a status write of its own before that poll.
	// +optional
	// +kubebuilder:default={"observedGeneration":-1}
	Status ImageRepositoryStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ImageRepositoryList is a list of ImageRepositories.
type ImageRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImageRepository `json:"items"`
}

// GetConditions returns the status conditions.
func (in *ImageRepository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *ImageRepository) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequestedAt returns the value of the swr.imagesync.io/requested-at annotation, if any.
func (in *ImageRepository) GetRequestedAt() string {
	return in.GetAnnotations()[RequestedAtAnnotation]
}

// PollInterval returns spec.interval raised to minimum, or the default when unset.
func (in *ImageRepository) PollInterval(minimum time.Duration) time.Duration {
	return max(durationOr(in.Spec.Interval, DefaultInterval), minimum)
}

// RequestTimeout returns spec.timeout, or the default when unset.
func (in *ImageRepository) RequestTimeout() time.Duration {
	return durationOr(in.Spec.Timeout, DefaultTimeout)
}

// Defaults the CRD schema applies; repeated here for objects that bypass it (unit tests, old
// objects).
const (
	DefaultInterval      = 5 * time.Minute
	DefaultTimeout       = 30 * time.Second
	DefaultSyncJobsLimit = 100
)

// durationOr returns d, or fallback (the CRD's default) when d is unset or not positive.
func durationOr(d *metav1.Duration, fallback time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return fallback
	}
	return d.Duration
}
