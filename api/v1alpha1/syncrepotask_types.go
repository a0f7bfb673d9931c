package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SyncRepoTaskStatus is what the operator observed of one automatic sync policy.
type SyncRepoTaskStatus struct {
	// conditions are Replicated (True Succeeded, False SyncFailed, Unknown SyncInProgress or
	// NoSyncJobs).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// SyncRepoPolicy is the policy exactly as SWR's sync_repo listing returned it, its fields
	// inlined under the API's own JSON names.
	SyncRepoPolicy `json:",inline"`

	// lastSyncJob is the newest sync job to this policy's target among the jobs the last
	// successful job listing returned; absent when it held none (or spec.syncJobs.mode is
	// Ignore).
	// +optional
	LastSyncJob *SyncJobSummary `json:"lastSyncJob,omitempty"`

	// failedTags are the tags whose newest job to this target failed, timed out or was
	// cancelled, newest first, at most 10. A later success for the same tag clears it.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	FailedTags []string `json:"failedTags,omitempty"`
}

// SyncJobSummary is one SWR sync job, its strings exactly as SWR sent them.
type SyncJobSummary struct {
	// id is the job's id in SWR.
	// +required
	ID int64 `json:"id"`
	// tag is the image tag the job synchronizes.
	// +required
	Tag string `json:"tag"`
	// status is the job's status: waiting, running, success, failed, timeout, cancel or existed.
	// +required
	Status string `json:"status"`
	// createdAt is when the job was created.
	// +required
	CreatedAt string `json:"createdAt"`
	// updatedAt is when the job last changed.
	// +required
	UpdatedAt string `json:"updatedAt"`
}

// SyncRepoPolicy is one automatic sync policy exactly as SWR's sync_repo listing returns it, under
// the API's own JSON names. Its fields are those of the SWR client's wire type, in the same order,
// so that the one converts to the other by a type conversion the compiler checks: a field added to
// one and not the other stops the build instead of being lost silently.
type SyncRepoPolicy struct {
	// id is the policy's id in SWR.
	// +required
	ID int64 `json:"id"`
	// createdAt is when the policy was created, as the exact UTC string SWR returned.
	// +required
	CreatedAt string `json:"createdAt"`
	// updatedAt is when the policy was last updated, as the exact UTC string SWR returned.
	// +required
	UpdatedAt string `json:"updatedAt"`
	// domainID is the tenant (account) id.
	// +required
	DomainID string `json:"domainID"`
	// domainName is the tenant (account) name.
	// +required
	DomainName string `json:"domainName"`
	// namespace is the source organization.
	// +required
	Namespace string `json:"namespace"`
	// repoName is the source repository.
	// +required
	RepoName string `json:"repoName"`
	// remoteRegionId is the region images are synchronized to.
	// +required
	RemoteRegionID string `json:"remoteRegionId"`
	// remoteNamespace is the organization images are synchronized to.
	// +required
	RemoteNamespace string `json:"remoteNamespace"`
	// override is whether images that already exist in the target are overwritten.
	// +required
	Override bool `json:"override"`
	// syncAuto is whether new images are synchronized automatically.
	// +required
	SyncAuto bool `json:"syncAuto"`
}

// SyncRepoTask mirrors one automatic image sync policy of the SWR repository named by its owning
// ImageRepository. The operator creates, updates and deletes these; edits by hand are undone.
//
// It has no spec: the whole object is observed state, written through the status subresource as
// Kubernetes API conventions ask, so that RBAC can tell status writes from others and
// metadata.generation never moves.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=srt,categories=swr
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.status.repoName`
// +kubebuilder:printcolumn:name="Target Region",type=string,JSONPath=`.status.remoteRegionId`
// +kubebuilder:printcolumn:name="Target Organization",type=string,JSONPath=`.status.remoteNamespace`
// +kubebuilder:printcolumn:name="Auto Sync",type=boolean,JSONPath=`.status.syncAuto`
// +kubebuilder:printcolumn:name="Override",type=boolean,JSONPath=`.status.override`
// +kubebuilder:printcolumn:name="Last Sync",type=string,JSONPath=`.status.lastSyncJob.status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Updated",type=string,JSONPath=`.status.updatedAt`,priority=1
// +kubebuilder:printcolumn:name="Last Tag",type=string,JSONPath=`.status.lastSyncJob.tag`,priority=1
type SyncRepoTask struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// status is the mirrored policy.
	// +optional
	Status SyncRepoTaskStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// SyncRepoTaskList is a list of SyncRepoTasks.
type SyncRepoTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SyncRepoTask `json:"items"`
}
