package swr

// SyncRepo is one automatic image synchronization policy of a repository, as the API returns it.
// The JSON names are the API's own.
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
