package swrtest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// SetSyncJobs makes the repository (decoded, with '/') and its organization exist, as
// SetPolicies does, and replaces its sync jobs with a copy of jobs, stored exactly as given and
// kept newest first (see SyncJobs). The repository's policies stay as they are. With no jobs the
// job listing answers [].
func (s *Server) SetSyncJobs(organization, repository string, jobs ...swr.SyncJob) {
	stored := slices.Clone(jobs)
	if stored == nil {
		stored = []swr.SyncJob{}
	}
	slices.SortStableFunc(stored, newestFirst)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateRepositoryLocked(organization, repository, func(r *repoState) { r.jobs = stored })
}

// SyncJobs returns a copy of the repository's sync jobs in the order of order::desc, or nil if
// the repository does not exist.
func (s *Server) SyncJobs(organization, repository string) []swr.SyncJob {
	return slices.Clone(s.repositoryState(organization, repository).jobs)
}

// SetSyncJobFault makes job listings (sync_job) for the repository fail as f says until
// ClearSyncJobFault, whatever SetFault says for the policy listing, and the other way round: a
// test can let the policies list while the jobs fail. Keys work as SetFault's: an empty
// repository applies to the whole organization, an empty organization and repository to every
// job listing, and the most specific fault wins. A Fault with only a Header lets the normal
// answer through with the header added; a Content-Range in it replaces the server's own, to
// test a garbled one (a RawBody fault sends no Content-Range at all).
//
// The refusal SWR sends a credential without the IAM action swr:repo:getSyncRepoJobInfo is
//
//	Fault{Status: http.StatusForbidden, Body: NewErrorBody("SVCSTG.SWR.4039002", "no permission")}
func (s *Server) SetSyncJobFault(organization, repository string, f Fault) {
	setFault(s, s.syncJobFaults, repoKey{organization, repository}, f)
}

// ClearSyncJobFault removes the fault SetSyncJobFault set for exactly this organization and
// repository.
func (s *Server) ClearSyncJobFault(organization, repository string) {
	clearFault(s, s.syncJobFaults, repoKey{organization, repository})
}

// SyncJobRequestCount returns how many job listing requests (sync_job, any method) named the
// organization and (decoded) repository.
func (s *Server) SyncJobRequestCount(organization, repository string) int {
	return s.countRequests(RequestKindSyncJob, organization, repository)
}

// newestFirst orders jobs as order::desc does: by createdAt, newest first, and jobs created at
// the same time by id, highest first, so that every page of a listing is stable. createdAt is
// compared as a time because SWR writes a varying number of fraction digits, which a string
// comparison would misorder; a createdAt that is not RFC 3339 sorts after every one that is.
func newestFirst(a, b swr.SyncJob) int {
	ta, errA := time.Parse(time.RFC3339Nano, a.CreatedAt)
	tb, errB := time.Parse(time.RFC3339Nano, b.CreatedAt)
	switch {
	case errA == nil && errB == nil:
		if c := tb.Compare(ta); c != 0 {
			return c
		}
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	default:
		if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
	}
	return cmp.Compare(b.ID, a.ID)
}

// syncJobFilter is the parsed filter parameter of a job listing.
type syncJobFilter struct {
	limit, offset int
	ascending     bool
}

// parseSyncJobFilter reads the values of the filter query parameter,
// limit::{n}|offset::{k}|order::{desc|asc}, already unescaped: a client may send '|' and ':'
// escaped (%7C, %3A), as the vendor SDK does, or raw, and both decode the same. It returns a
// problem to answer 400 with, or "". As SWR documents it, the filter is required and limit and
// offset come together; order defaults to desc, SWR's documentation naming no default. Unknown
// or repeated keys are refused, so that a misspelled key fails a test instead of being ignored.
func parseSyncJobFilter(values []string) (syncJobFilter, string) {
	switch {
	case len(values) == 0 || values[0] == "":
		return syncJobFilter{}, "the filter parameter is required: filter=limit::{limit}|offset::{offset}|order::{desc|asc}"
	case len(values) > 1:
		return syncJobFilter{}, "the filter parameter must be given once"
	}
	f := syncJobFilter{}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(values[0], "|") {
		key, value, ok := strings.Cut(item, "::")
		if !ok {
			return syncJobFilter{}, fmt.Sprintf("filter item %q is not key::value", item)
		}
		if seen[key] {
			return syncJobFilter{}, fmt.Sprintf("filter key %q is given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "limit":
			if f.limit, err = strconv.Atoi(value); err != nil || f.limit < 1 {
				return syncJobFilter{}, fmt.Sprintf("filter limit %q is not a positive integer", value)
			}
		case "offset":
			if f.offset, err = strconv.Atoi(value); err != nil || f.offset < 0 {
				return syncJobFilter{}, fmt.Sprintf("filter offset %q is not a non-negative integer", value)
			}
		case "order":
			switch value {
			case "desc":
			case "asc":
				f.ascending = true
			default:
				return syncJobFilter{}, fmt.Sprintf("filter order %q is neither desc nor asc", value)
			}
		default:
			return syncJobFilter{}, fmt.Sprintf("filter key %q is unknown", key)
		}
	}
	if !seen["limit"] || !seen["offset"] {
		return syncJobFilter{}, "limit and offset must be given together in the filter"
	}
	return f, ""
}

// page returns the jobs the filter selects from jobs (stored newest first) and the total the
// page is taken from. The result is never nil, so that it encodes as [].
func (f syncJobFilter) page(jobs []swr.SyncJob) (selected []swr.SyncJob, total int) {
	ordered := jobs
	if f.ascending {
		ordered = slices.Clone(jobs)
		slices.Reverse(ordered)
	}
	if f.offset >= len(ordered) {
		return []swr.SyncJob{}, len(ordered)
	}
	end := f.offset + min(f.limit, len(ordered)-f.offset)
	return slices.Clone(ordered[f.offset:end]), len(ordered)
}

// contentRange renders the Content-Range header of a job page. It follows SWR's documented form,
// {offset}-{count}/{total} (the second number is how many jobs the page holds, not the index of
// the last one as in HTTP's byte ranges), which also renders an empty page plainly: "5-0/5".
func contentRange(offset, count, total int) string {
	return fmt.Sprintf("%d-%d/%d", offset, count, total)
}
