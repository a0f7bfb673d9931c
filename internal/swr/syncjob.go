package swr

import (
	"context"
	"net/url"
	"strconv"
	"strings"
)

// ListSyncJobs returns the newest sync jobs of a repository, calling
// GET {endpoint}/v2/manage/namespaces/{organization}/repos/{repository}/sync_job?filter=limit::{limit}|offset::0|order::desc
// with every '/' of the repository replaced by '$' and the filter value URL-encoded. limit is
// brought into 1..MaxSyncJobsPerList. One request is sent: the page holds at most limit jobs,
// newest first, and Total says how many SWR holds in all, when SWR says so.
//
// Validation, deadlines, the one retry after a 401 with a refreshable token, the size limit and
// the error classes are those of ListSyncRepos. A credential without the IAM action
// swr:repo:getSyncRepoJobInfo gets 403 SVCSTG.SWR.4039002: ClassForbidden with that Code, even
// when the same credential may list policies. A page that cannot be trusted (not a JSON array,
// null, an entry without an integer id, duplicate ids) is ClassBadBody; a status the package
// does not know is kept as sent.
func (c *Client) ListSyncJobs(ctx context.Context, t Target, auth Authenticator, limit int) (SyncJobPage, error) {
	limit = min(max(limit, 1), MaxSyncJobsPerList)
	query := url.Values{"filter": {syncJobFilter(limit, 0)}}
	ex, err := c.getRepositoryResource(ctx, t, auth, "sync_job", query)
	if err != nil {
		return SyncJobPage{}, err
	}
	jobs, err := decodeSyncJobs(ex.body)
	if err != nil {
		return SyncJobPage{}, ex.badBody(err)
	}
	return SyncJobPage{Jobs: jobs, Total: contentRangeTotal(ex.resp.Header.Get("Content-Range"), len(jobs))}, nil
}

// syncJobFilter builds the value of the sync_job call's required filter parameter. limit and
// offset must travel together; the order is sent because SWR documents no default.
func syncJobFilter(limit, offset int) string {
	return "limit::" + strconv.Itoa(limit) + "|offset::" + strconv.Itoa(offset) + "|order::desc"
}

// contentRangeTotal reads the total from SWR's Content-Range header, "{offset}-{count}/{total}"
// (e.g. "0-10/42"), and returns -1 when the header is absent, is not of that form, or names a
// total smaller than the entries (jobs, repositories) the page carries: none of those can tell a
// caller whether it has seen every entry.
func contentRangeTotal(header string, entries int) int64 {
	rangePart, totalPart, ok := strings.Cut(strings.TrimSpace(header), "/")
	if !ok {
		return -1
	}
	first, second, ok := strings.Cut(rangePart, "-")
	if !ok || !isDecimal(first) || !isDecimal(second) || !isDecimal(totalPart) {
		return -1
	}
	total, err := strconv.ParseInt(totalPart, 10, 64)
	if err != nil || total < int64(entries) {
		return -1
	}
	return total
}

// isDecimal reports whether s is a non-empty run of ASCII digits: strconv alone would also accept
// a sign.
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
