package swrtest

import "github.com/imagesync/swr-sync-operator/internal/swr"

// PolicyJob returns a sync job of policy p as SWR records one: with the policy's domain, source
// repository, target and override. The job's own fields (ID, times, status, operator and tag)
// are left to the caller.
func PolicyJob(p swr.SyncRepo) swr.SyncJob {
	return swr.SyncJob{
		DomainID:        p.DomainID,
		DomainName:      p.DomainName,
		Namespace:       p.Namespace,
		RepoName:        p.RepoName,
		RemoteRegionID:  p.RemoteRegionID,
		RemoteNamespace: p.RemoteNamespace,
		Override:        p.Override,
	}
}
