package swr

// SyncRepo is one automatic image synchronization policy of a repository, as the API returns it.
// The JSON names are the API's own. It is the policy's only Go type: the listing decodes into it
// (through listedSyncRepo, which reads the id), and the operator's API converts it to its own
// SyncRepoPolicy, whose fields must stay the same.
type SyncRepo struct {
	// ID identifies the policy within SWR. It is decoded exactly, without a detour through
	// float64.
	ID int64 `json:"id"`
	// CreatedAt is the creation time, kept as the exact string SWR returned (UTC, RFC 3339 with
	// a varying number of fraction digits) so that comparing two listings never sees a change
	// that is only a re-formatting.
	CreatedAt string `json:"createdAt"`
	// UpdatedAt is the last update time, kept as the exact string SWR returned.
	UpdatedAt string `json:"updatedAt"`
	// DomainID is the tenant (account) id.
	DomainID string `json:"domainID"`
	// DomainName is the tenant (account) name.
	DomainName string `json:"domainName"`
	// Namespace is the source organization.
	Namespace string `json:"namespace"`
	// RepoName is the source repository.
	RepoName string `json:"repoName"`
	// RemoteRegionID is the region images are synchronized to.
	RemoteRegionID string `json:"remoteRegionId"`
	// RemoteNamespace is the organization images are synchronized to.
	RemoteNamespace string `json:"remoteNamespace"`
	// Override says whether images of the same name in the target are overwritten.
	Override bool `json:"override"`
	// SyncAuto says whether new pushes are synchronized automatically. One older SDK spelled
	// the field "synAuto"; the documented name is the one read.
	SyncAuto bool `json:"syncAuto"`
}

// Target names the repository whose policies are listed.
type Target struct {
	// Endpoint is the base URL of the SWR API, e.g.
	// https://swr-api.ap-southeast-1.myhuaweicloud.com. It may end in a slash or carry a path
	// prefix (for a gateway in front of SWR). The client accepts http and https; whether plain
	// http is allowed is the caller's decision.
	Endpoint string
	// Organization is the SWR organization, the API's {namespace}.
	Organization string
	// Repository is the repository name in its decoded form, e.g. "library/nginx". The client
	// encodes it for the path.
	Repository string
	// CABundle holds PEM certificates to trust for Endpoint besides the client's roots, e.g. a
	// company CA in front of a private endpoint. Certificates are always verified.
	CABundle []byte
}

// MaxSyncReposPerList is the number of policies SWR documents returning by default. The list call
// has no paging parameters, so a listing of exactly this many may be truncated: callers should
// not treat a policy missing from such a listing as deleted.
const MaxSyncReposPerList = 100

// SyncJob is one run of an automatic sync policy: the copy of one pushed tag to one policy
// target, as the sync_job call returns it. The JSON names are the API's own, and the listing
// decodes into it (through listedSyncJob, which reads the id). Every string is kept exactly as SWR
// sent it, so that two listings compare equal unless SWR changed something.
type SyncJob struct {
	// ID identifies the job within SWR. It is decoded exactly, without a detour through float64.
	ID int64 `json:"id"`
	// CreatedAt is when the job was created (UTC), kept as the exact string SWR returned.
	CreatedAt string `json:"createdAt"`
	// UpdatedAt is the job's last change, kept as the exact string SWR returned.
	UpdatedAt string `json:"updatedAt"`
	// DomainID is the tenant (account) id.
	DomainID string `json:"domainID"`
	// DomainName is the tenant (account) name.
	DomainName string `json:"domainName"`
	// Namespace is the source organization.
	Namespace string `json:"namespace"`
	// RepoName is the source repository.
	RepoName string `json:"repoName"`
	// RemoteRegionID is the region the image is copied to. With RemoteNamespace it names the
	// policy target, the same pair that identifies a SyncRepo.
	RemoteRegionID string `json:"remoteRegionId"`
	// RemoteNamespace is the organization the image is copied to.
	RemoteNamespace string `json:"remoteNamespace"`
	// Override says whether an image of the same name in the target is overwritten.
	Override bool `json:"override"`
	// Status is the job's state, one of the SyncJob* constants as far as SWR documents them. A
	// value the package does not know is kept, not refused: SWR has added undocumented ones
	// before (SyncJobExisted), and refusing the listing would hide every other job.
	Status string `json:"status"`
	// SyncOperatorID is the id of the user SWR attributes the job to.
	SyncOperatorID string `json:"syncOperatorId"`
	// SyncOperatorName is the name of that user.
	SyncOperatorName string `json:"syncOperatorName"`
	// Tag is the image tag the job copies.
	Tag string `json:"tag"`
}

// The values of SyncJob.Status that SWR is known to send.
const (
	SyncJobWaiting = "waiting" // queued, not started
	SyncJobRunning = "running" // copying
	SyncJobSuccess = "success" // copied
	SyncJobFailed  = "failed"  // the copy failed
	SyncJobTimeout = "timeout" // the copy did not finish in time
	SyncJobCancel  = "cancel"  // cancelled
	// SyncJobExisted is undocumented: the target already had the image, so nothing was copied.
	// It is a success for anyone asking whether the target holds the image.
	SyncJobExisted = "existed"
)

// MaxSyncJobsPerList is the largest page ListSyncJobs asks for; a larger limit is lowered to it.
// A repository with frequent pushes accumulates far more jobs than a caller needs at once, and
// 100 jobs keep an answer near 40 KiB, like a full policy listing.
const MaxSyncJobsPerList = 100

// SyncJobPage is one page of a repository's sync jobs.
type SyncJobPage struct {
	// Jobs are the jobs of the page in SWR's order, newest first. Empty, not nil, when there are
	// none.
	Jobs []SyncJob
	// Total is the number of jobs SWR holds for the repository, from the Content-Range header,
	// or -1 when the header is absent, unparsable or contradicts the page (a total smaller than
	// the jobs it carries): older SWR versions send it only sometimes, and a wrong total must not
	// make a caller believe it has seen everything.
	Total int64
}

// Repository is one repository of an organization, as the repository listing
// (GET /v2/manage/repos) returns it. The JSON names are the API's own; the listing carries more
// fields (description, size, is_public, paths...), which are not kept. The listing decodes into it
// (through listedRepository, which reads the name). Every string is kept exactly as SWR sent it.
type Repository struct {
	// Name is the repository name in its decoded form, e.g. "library/nginx"; it may contain '/'.
	// It is never empty in a listing, but it is SWR's text: validate it with ValidateRepository
	// before using it in a Target.
	Name string `json:"name"`
	// Namespace is the organization the repository belongs to.
	Namespace string `json:"namespace"`
	// Category is the kind of content SWR files the repository under, e.g. "linux" or "other".
	Category string `json:"category"`
	// NumImages is the number of images (tags) in the repository.
	NumImages int64 `json:"num_images"`
	// Tags are the repository's tags as SWR lists them; nil when SWR sent none or null.
	Tags []string `json:"tags"`
	// CreatedAt is the creation time, kept as the exact string SWR returned.
	CreatedAt string `json:"created_at"`
	// UpdatedAt is the last update time, kept as the exact string SWR returned.
	UpdatedAt string `json:"updated_at"`
}

// OrganizationTarget names the organization whose repositories are listed. It is a type of its
// own rather than a Target with an empty Repository, so that a forgotten repository name can
// never turn a repository call into an organization-wide one, nor the other way round.
type OrganizationTarget struct {
	// Endpoint is the base URL of the SWR API, as in Target.
	Endpoint string
	// Organization is the SWR organization, the API's {namespace}.
	Organization string
	// CABundle holds PEM certificates to trust for Endpoint besides the client's roots, as in
	// Target.
	CABundle []byte
}

// Paging of ListRepositories.
const (
	// DefaultRepositoryPageSize is the page size ListRepositories asks for when given none; it is
	// SWR's own default.
	DefaultRepositoryPageSize = 100
	// MaxRepositoriesPerPage is the largest page size ListRepositories asks for, the most the
	// vendor SDK documents. Each page must also fit the client's response size limit, and a
	// repository's tags travel with it, so large pages of busy repositories may not.
	MaxRepositoriesPerPage = 1000
	// MaxRepositoryPages bounds the pages one ListRepositories call requests, so that a server
	// that always claims more cannot keep the caller paging forever. At the default page size it
	// allows 100,000 repositories, far beyond SWR's per-tenant quotas.
	MaxRepositoryPages = 1000
)

// RepositoryListing is the result of ListRepositories.
type RepositoryListing struct {
	// Repositories are the organization's repositories, each once, sorted by name. Empty, not
	// nil, when there are none.
	Repositories []Repository
	// Pages is the number of pages requested.
	Pages int
	// Complete says whether the listing can be trusted to hold every repository, so that a
	// repository missing from it is gone. It is false when paging stopped at MaxRepositoryPages,
	// when the total SWR reported changed between pages (the list shifted under the paging, so a
	// repository may have slipped past it), or when the repositories read do not add up to that
	// total. A caller must not delete anything on an incomplete listing; the next one usually is
	// complete.
	Complete bool
}
