package v1alpha1

// Condition types follow the kstatus conventions that Flux, Argo CD and
// sigs.k8s.io/cli-utils/pkg/kstatus read.
const (
	// ConditionReady is True when the last poll of SWR succeeded and every policy is mirrored.
	// While spec.suspend is true it keeps the status of the last outcome (and so its
	// lastTransitionTime), with reason Suspended: pausing is not a failure.
	ConditionReady = "Ready"
	// ConditionReconciling is True while a new generation waits for its first poll, or while a
	// transient failure is being retried.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when polling cannot succeed until a person changes something: the
	// spec, the Secret, the SWR account or the repository.
	ConditionStalled = "Stalled"
	// ConditionPossiblyTruncated is True when SWR returned as many policies as one listing can
	// hold (100): more may exist, and those are not mirrored. Ready stays True; the listed
	// policies are mirrored.
	ConditionPossiblyTruncated = "PossiblyTruncated"
	// ConditionReplicationHealthy, on an ImageRepository, is False when a policy's replication
	// fails (a SyncRepoTask's Replicated is False), Unknown when the job listing failed, True
	// otherwise. Absent with spec.syncJobs.mode Ignore.
	ConditionReplicationHealthy = "ReplicationHealthy"
	// ConditionReplicated, on a SyncRepoTask, tells from SWR's sync jobs whether the policy's
	// target received the images: True (Succeeded), False (SyncFailed), Unknown (SyncInProgress,
	// NoSyncJobs).
	ConditionReplicated = "Replicated"
)

// Reasons of the Ready, Reconciling and Stalled conditions.
const (
	// ReasonSucceeded means the last poll succeeded and the listing is mirrored.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing means a new generation is being polled for the first time.
	ReasonProgressing = "Progressing"
	// ReasonRetrying means a transient failure is being retried with backoff.
	ReasonRetrying = "ProgressingWithRetry"
	// ReasonListingLimitReached means the last listing held exactly the most SWR returns.
	ReasonListingLimitReached = "ListingLimitReached"
	// ReasonSuspended means spec.suspend is true: SWR is not polled and mirrored tasks (or, for an
	// ImageOrganization, generated ImageRepositories) are kept. It is a Ready reason of any
	// status: Ready keeps the status of the last outcome (Unknown before the first one), and
	// its message says what is kept and what that outcome was, e.g. "polling is suspended
	// (spec.suspend); 2 sync tasks kept; before: Succeeded: 2 sync tasks". Reconciling and
	// Stalled are removed, so kstatus reads Ready: a suspended ready object is Current.
	ReasonSuspended = "Suspended"

	// ReasonCredentialsNotFound means the Secret named by spec.secretRef does not exist.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonCredentialsInvalid means the Secret exists but does not hold exactly one complete
	// kind of credentials (token; username, password and domainName; accessKey and secretKey),
	// or a value is empty.
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonCertificateInvalid means the Secret named by spec.certSecretRef is missing, has no
	// "ca.crt", or holds no PEM certificate.
	ReasonCertificateInvalid = "CertificateInvalid"
	// ReasonEndpointNotAllowed means the SWR endpoint is refused by the manager's policy, for
	// example a plain http:// endpoint without --allow-insecure-endpoints.
	ReasonEndpointNotAllowed = "EndpointNotAllowed"
	// ReasonAuthenticationFailed means SWR rejected the credentials (HTTP 401).
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonAccessDenied means SWR accepted the credentials but refused the request (HTTP 403, not
	// throttling), for example because the IAM user lacks SWR permissions.
	ReasonAccessDenied = "AccessDenied"
	// ReasonRepositoryNotFound means SWR has no such organization or repository (HTTP 404).
	ReasonRepositoryNotFound = "RepositoryNotFound"
	// ReasonInvalidRequest means SWR rejected the request as malformed (HTTP 400).
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonThrottled means SWR asked the operator to slow down (HTTP 429, or its 403/409
	// throttling and "system busy" codes); the poll is retried with backoff.
	ReasonThrottled = "Throttled"
	// ReasonUpstreamUnavailable means SWR could not be reached or answered with a server error,
	// a timeout or an unreadable body; the poll is retried with backoff.
	ReasonUpstreamUnavailable = "UpstreamUnavailable"
	// ReasonPolicyDrift means the listed policies do not satisfy spec.expectedPolicies (or, with
	// spec.unexpectedPolicies Report, a policy goes to a target not in it). Ready is False and
	// Stalled True; the tasks are still mirrored exactly.
	ReasonPolicyDrift = "PolicyDrift"
	// ReasonSyncFailed means a sync job failed, timed out or was cancelled for a tag whose newest
	// job it is.
	ReasonSyncFailed = "SyncFailed"
	// ReasonSyncInProgress means the newest job to the target is waiting or running.
	ReasonSyncInProgress = "SyncInProgress"
	// ReasonNoSyncJobs means the newest jobs SWR returned hold none for the target.
	ReasonNoSyncJobs = "NoSyncJobs"
	// ReasonJobsUnavailable means SWR's job listing failed; tasks keep their last job state.
	ReasonJobsUnavailable = "JobsUnavailable"

	// ReasonMirrorFailed means SWR answered but the Kubernetes API refused a read or write the
	// operator needed (a Secret, a SyncRepoTask); it is retried with backoff.
	ReasonMirrorFailed = "MirrorFailed"
)

// Annotations and labels.
const (
	// RequestedAtAnnotation asks for an immediate poll whenever its value changes; the handled
	// value is copied to status.lastHandledReconcileAt. It plays the role of Flux's
	// reconcile.fluxcd.io/requestedAt, e.g.
	// kubectl annotate swrrepo NAME swr.imagesync.io/requested-at="$(date +%s)" --overwrite.
	RequestedAtAnnotation = "swr.imagesync.io/requested-at"

	// ImageRepositoryLabel on a SyncRepoTask names the ImageRepository it mirrors, so that
	// kubectl get srt -l swr.imagesync.io/image-repository=NAME lists one repository's tasks.
	// Names longer than a label value allows are shortened with a hash suffix.
	ImageRepositoryLabel = "swr.imagesync.io/image-repository"
)
