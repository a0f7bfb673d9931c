package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// The repositories the simulator serves. They match config/samples: the ImageRepositories name
// grpc-helloworld and library/nginx, and the ImageOrganization test (include library/*)
// discovers library/nginx, library/postgres and library/redis, but not grpc-helloworld or
// team/app.
const (
	demoOrganization   = "test"
	helloRepository    = "grpc-helloworld"
	nginxRepository    = "library/nginx" // a name with '/', which goes over the wire as '$'
	redisRepository    = "library/redis"
	postgresRepository = "library/postgres"
	appRepository      = "team/app"
)

// demoRepositories is the repository listing of demoOrganization (GET /v2/manage/repos).
var demoRepositories = []swr.Repository{
	demoRepository(helloRepository, "other", "2020-04-17T02:10:01.211Z", "v1"),
	demoRepository(nginxRepository, "linux", "2024-03-04T09:11:58.3Z", "1.25.3", "1.25.4"),
	demoRepository(postgresRepository, "linux", "2024-02-20T16:40:12Z", "16.2"),
	demoRepository(redisRepository, "linux", "2024-03-05T07:58:00.5Z", "7.2.4"),
	demoRepository(appRepository, "other", "2024-03-06T12:00:00Z", "v0.3.0", "v0.4.0", "v0.4.1"),
}

// demoRepository returns a repository of demoOrganization with the given tags.
func demoRepository(name, category, updated string, tags ...string) swr.Repository {
	return swr.Repository{
		Name:      name,
		Namespace: demoOrganization,
		Category:  category,
		NumImages: int64(len(tags)),
		Tags:      tags,
		CreatedAt: "2020-04-17T02:10:01.211Z",
		UpdatedAt: updated,
	}
}

// redisPolicy is the one policy of library/redis, which only the ImageOrganization sample
// mirrors: its generated ImageRepository shows a task too.
var redisPolicy = swr.SyncRepo{
	CreatedAt:       "2024-03-05T08:00:00.25Z",
	DomainID:        helloPolicy.DomainID,
	DomainName:      helloPolicy.DomainName,
	ID:              201,
	Namespace:       demoOrganization,
	Override:        false,
	RemoteNamespace: "test-mirror",
	RemoteRegionID:  "cn-north-4",
	RepoName:        redisRepository,
	SyncAuto:        true,
	UpdatedAt:       "2024-03-05T08:00:00.25Z",
}

// redisJobs are the sync jobs of library/redis: tag 7.2.4 copied to redisPolicy's target.
var redisJobs = []swr.SyncJob{
	syncJob(redisPolicy, 20101, "7.2.4", swr.SyncJobSuccess, "2024-03-05T08:01:00.5Z", "2024-03-05T08:01:29.75Z"),
}

// upstreamChangeEvery is how often the demo changes the simulator's policies, so that a user
// watching the SyncRepoTasks sees the operator follow upstream changes. It is twice the
// samples' demo interval, so each change is mirrored well before the next one.
const upstreamChangeEvery = 60 * time.Second

// helloPolicy is the example response of SWR's "Querying the List of Automatic Image Sync
// Tasks" API page, verbatim, so that the demo output can be compared with the documentation.
var helloPolicy = swr.SyncRepo{
	CreatedAt:       "2020-04-17T02:11:03.53183Z",
	DomainID:        "8b1e81************************633fb",
	DomainName:      "p*********59",
	ID:              45,
	Namespace:       demoOrganization,
	Override:        true,
	RemoteNamespace: "sdsad",
	RemoteRegionID:  "region1",
	RepoName:        helloRepository,
	SyncAuto:        true,
	UpdatedAt:       "2020-04-17T02:11:03.531831Z",
}

// nginxPolicies are the two policies library/nginx starts with.
var nginxPolicies = []swr.SyncRepo{
	nginxPolicy(101, "cn-north-4", "test-mirror", false, "2024-03-01T08:00:00.123456Z"),
	nginxPolicy(102, "ap-southeast-3", "test-backup", true, "2024-03-02T09:30:00.5Z"),
}

// livelyPolicy is the policy the demo adds to and removes from library/nginx every
// upstreamChangeEvery. No sync job goes to its target, so its task's Replicated condition is
// Unknown (NoSyncJobs).
var livelyPolicy = nginxPolicy(103, "af-south-1", "test-dr", false, "2024-03-03T10:45:00Z")

// helloJobs are the sync jobs of grpc-helloworld: tag v1 copied to the target of helloPolicy,
// shaped like the example of SWR's "Querying the List of Image Sync Jobs" API page.
var helloJobs = []swr.SyncJob{
	syncJob(helloPolicy, 4501, "v1", swr.SyncJobSuccess, "2020-04-17T02:15:10.214653Z", "2020-04-17T02:15:42.5Z"),
}

// nginxJobs are the sync jobs of library/nginx, newest first, as SWR lists them: tags 1.25.3
// and 1.25.4 were pushed and synced to both targets; 1.25.4 failed to reach the second one
// (nginxPolicies[1]), so its task has a failed tag and Replicated=False, while the first one's
// task is Replicated=True.
var nginxJobs = []swr.SyncJob{
	syncJob(nginxPolicies[1], 10243, "1.25.4", swr.SyncJobFailed, "2024-03-04T09:12:00.61Z", "2024-03-04T09:14:03.9Z"),
	syncJob(nginxPolicies[0], 10242, "1.25.4", swr.SyncJobSuccess, "2024-03-04T09:12:00.456789Z", "2024-03-04T09:12:37.02Z"),
	syncJob(nginxPolicies[1], 10188, "1.25.3", swr.SyncJobSuccess, "2024-03-02T09:35:00.5Z", "2024-03-02T09:35:48.731Z"),
	syncJob(nginxPolicies[0], 10187, "1.25.3", swr.SyncJobSuccess, "2024-03-01T08:05:00.123456Z", "2024-03-01T08:05:41.5Z"),
}

// syncJob returns a job of policy p copying tag, with SWR's fields as the policy's own.
func syncJob(p swr.SyncRepo, id int64, tag, status, created, updated string) swr.SyncJob {
	job := swrtest.PolicyJob(p)
	job.ID, job.CreatedAt, job.UpdatedAt = id, created, updated
	job.Status, job.Tag = status, tag
	job.SyncOperatorID, job.SyncOperatorName = "0970dd7a1300f5672ff2c003c60ae115", p.DomainName
	return job
}

// nginxPolicy returns a policy of test/library/nginx syncing to region/namespace.
func nginxPolicy(id int64, region, namespace string, override bool, created string) swr.SyncRepo {
	return swr.SyncRepo{
		CreatedAt:       created,
		DomainID:        helloPolicy.DomainID,
		DomainName:      helloPolicy.DomainName,
		ID:              id,
		Namespace:       demoOrganization,
		Override:        override,
		RemoteNamespace: namespace,
		RemoteRegionID:  region,
		RepoName:        nginxRepository,
		SyncAuto:        true,
		UpdatedAt:       created,
	}
}

// startSimulator starts the in-process SWR API on plain http and seeds it. Plain http keeps the
// demo free of certificates; the manager accepts it because of --allow-insecure-endpoints.
func (d *demo) startSimulator() {
	d.sim = swrtest.NewServer()
	d.cleanups.push("stopping the SWR simulator", func() error { d.sim.Close(); return nil })
	d.sim.AddAccessKey(demoAccessKey, demoSecretKey)
	d.sim.SetPolicies(demoOrganization, helloRepository, helloPolicy)
	d.sim.SetPolicies(demoOrganization, nginxRepository, nginxPolicies...)
	d.sim.SetSyncJobs(demoOrganization, helloRepository, helloJobs...)
	d.sim.SetSyncJobs(demoOrganization, nginxRepository, nginxJobs...)
	d.sim.SetPolicies(demoOrganization, redisRepository, redisPolicy)
	d.sim.SetSyncJobs(demoOrganization, redisRepository, redisJobs...)
	d.sim.SetRepositories(demoOrganization, demoRepositories...)
	d.stepf("Started the SWR simulator at %s", d.sim.URL())
	names := make([]string, len(demoRepositories))
	for i, r := range demoRepositories {
		names[i] = r.Name
	}
	fmt.Fprintf(d.out, "    organization %s lists %d repositories: %s\n", demoOrganization, len(names), strings.Join(names, ", "))
	fmt.Fprintf(d.out, "    %s/%s: policy %d -> %s/%s (the example of SWR's API page); sync jobs: %s\n",
		demoOrganization, helloRepository, helloPolicy.ID, helloPolicy.RemoteRegionID, helloPolicy.RemoteNamespace,
		describeJobs(helloJobs, helloPolicy))
	for _, p := range nginxPolicies {
		fmt.Fprintf(d.out, "    %s/%s: policy %d -> %s/%s; sync jobs: %s\n", demoOrganization, nginxRepository,
			p.ID, p.RemoteRegionID, p.RemoteNamespace, describeJobs(nginxJobs, p))
	}
	fmt.Fprintf(d.out, "    %s/%s: policy %d -> %s/%s; sync jobs: %s\n", demoOrganization, redisRepository,
		redisPolicy.ID, redisPolicy.RemoteRegionID, redisPolicy.RemoteNamespace, describeJobs(redisJobs, redisPolicy))
	fmt.Fprintf(d.out, "    %s/%s, %s/%s: no policies\n", demoOrganization, postgresRepository, demoOrganization, appRepository)
}

// describeJobs lists the jobs to p's target, newest first, e.g. "1.25.4 failed, 1.25.3 success".
func describeJobs(jobs []swr.SyncJob, p swr.SyncRepo) string {
	var parts []string
	for _, j := range jobs {
		if j.RemoteRegionID == p.RemoteRegionID && j.RemoteNamespace == p.RemoteNamespace {
			parts = append(parts, j.Tag+" "+j.Status)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// followUpstreamChanges keeps the demo running until ctx is cancelled, toggling livelyPolicy in
// the simulator every upstreamChangeEvery. It fails if the manager exits on its own.
func (d *demo) followUpstreamChanges(ctx context.Context) error {
	ticker := time.NewTicker(upstreamChangeEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(d.out, "\nCtrl-C received.")
			return nil
		case <-d.manager.Done():
			return fmt.Errorf("%w (%w): its log is shown above", errManagerExited, d.manager.ExitError())
		case <-ticker.C:
			fmt.Fprintln(d.out, d.toggleLivelyPolicy())
		}
	}
}

// toggleLivelyPolicy adds livelyPolicy to library/nginx if it is absent and removes it
// otherwise, and returns a line saying which.
func (d *demo) toggleLivelyPolicy() string {
	policies := d.sim.Policies(demoOrganization, nginxRepository)
	isLively := func(p swr.SyncRepo) bool { return p.ID == livelyPolicy.ID }
	if slices.ContainsFunc(policies, isLively) {
		d.sim.SetPolicies(demoOrganization, nginxRepository, slices.DeleteFunc(policies, isLively)...)
		return fmt.Sprintf("simulator: removed policy %d from %s/%s; it disappears within about %s",
			livelyPolicy.ID, demoOrganization, nginxRepository, sampleInterval)
	}
	d.sim.SetPolicies(demoOrganization, nginxRepository, append(policies, livelyPolicy)...)
	return fmt.Sprintf("simulator: added policy %d to %s/%s; it appears within about %s",
		livelyPolicy.ID, demoOrganization, nginxRepository, sampleInterval)
}
