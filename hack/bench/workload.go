package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const (
	// benchNamespace holds every object of a phase; each phase has its own control plane.
	benchNamespace = "bench"
	// organization is the SWR organization of every repository.
	organization = "bench"
	// secretName is the IAM password Secret every ImageRepository references, so that one token
	// serves them all.
	secretName = "swr-iam"
	// The IAM user the simulator accepts. Made up: the simulator runs in this process only.
	iamDomain   = "bench-domain"
	iamUser     = "bench-robot"
	iamPassword = "bench-password-for-the-local-simulator"
	iamProject  = "ap-southeast-1"
	// setupWorkers is how many requests the untimed setup sends at once.
	setupWorkers = 16
	// swrRequestsPerPoll is what one poll asks of SWR: the policy listing and, with
	// spec.syncJobs.mode Observe (the default, which the workload keeps), the job listing.
	swrRequestsPerPoll = 2
)

// repoName is the name of the i-th ImageRepository (0-based); five digits keep them sorted.
func repoName(i int) string { return fmt.Sprintf("app-%05d", i) }

// repositoryPath is the SWR repository of the i-th ImageRepository.
func repositoryPath(i int) string { return "team/" + repoName(i) }

// policiesFor returns the sync policies of the i-th repository: m of them, with ids unique across
// repositories, targets (region and organization) unique within the repository, as SWR's are,
// and realistic field values, so that tasks are as large as real ones.
func policiesFor(i, m int) []swr.SyncRepo {
	regions := []string{"cn-north-4", "ap-southeast-3", "eu-west-101", "la-south-2", "af-south-1"}
	policies := make([]swr.SyncRepo, m)
	for j := range policies {
		id := int64(i)*1000 + int64(j) + 1
		created := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
		policies[j] = swr.SyncRepo{
			ID:              id,
			CreatedAt:       created.Format("2006-01-02T15:04:05.000000Z"),
			UpdatedAt:       created.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z"),
			DomainID:        "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
			DomainName:      iamDomain,
			Namespace:       organization,
			RepoName:        repositoryPath(i),
			RemoteRegionID:  regions[j%len(regions)],
			RemoteNamespace: fmt.Sprintf("mirror-%d", j/len(regions)),
			Override:        j%2 == 0,
			SyncAuto:        true,
		}
	}
	return policies
}

// syncJobsPerRepository is how many sync jobs the simulator holds for each repository: one page
// of the sync_job listing at spec.syncJobs.limit's default, the page every poll asks for, so
// that each task's replication state is read from as many jobs as a busy repository has.
const syncJobsPerRepository = swrv1.DefaultSyncJobsLimit

// A deterministic share of the tasks has failed jobs: the tasks (i, j) with (i×M + j) mod
// failingTaskEvery == failingTaskSlot, a tenth of them, as a target region with trouble would.
const (
	failingTaskEvery = 10
	failingTaskSlot  = 3
)

// jobTime formats t as SWR does.
func jobTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000Z") }

// jobsFor returns the newest syncJobsPerRepository sync jobs of the i-th repository, newest
// first, as SWR's sync_job listing returns them. Each push of a tag starts one job per policy
// (every policy syncs automatically), the pushes an hour apart and the jobs of one push a few
// seconds apart in the policies' order, so the jobs are spread over the repository's targets and
// over ⌈100 / M⌉ tags, the newest push first (with M policies not dividing 100, the page holds
// only part of the oldest push, as SWR's page would). Statuses are realistic and deterministic:
// most jobs succeed, some find the image there already (existed), the newest push is still
// running to one target in twenty, and on a tenth of the tasks (see failingTaskEvery) the job of
// the second-newest push failed and that of the fourth-newest timed out, so that those tasks
// carry failedTags, Replicated=False and a Warning event, and their ImageRepository
// ReplicationHealthy=False.
func jobsFor(i int, policies []swr.SyncRepo) []swr.SyncJob {
	m := len(policies)
	if m == 0 {
		return nil
	}
	pushes := (syncJobsPerRepository + m - 1) / m
	// The newest push of repository i; the repositories' pushes a minute apart.
	newest := time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	jobs := make([]swr.SyncJob, 0, syncJobsPerRepository)
	for k := range syncJobsPerRepository {
		push, j := k/m, m-1-k%m // newest first: within a push the last-started job first
		p := policies[j]
		build := 10*pushes + 7 - push
		created := newest.Add(-time.Duration(push) * time.Hour).Add(time.Duration(j) * 3 * time.Second)
		job := swrtest.PolicyJob(p)
		job.ID = int64(i+1)*1_000_000 + int64(syncJobsPerRepository-k)
		job.CreatedAt = jobTime(created)
		job.Tag = fmt.Sprintf("v1.%d.%d", build/10, build%10)
		job.SyncOperatorID, job.SyncOperatorName = "0970dd7a1300f5672ff2c003c60ae115", iamUser
		job.Status, job.UpdatedAt = jobStatus(i, j, m, push, created)
		jobs = append(jobs, job)
	}
	return jobs
}

// jobStatus is the status and updatedAt of the job of the push-th newest push to the j-th of
// the i-th repository's m policies, created at created.
func jobStatus(i, j, m, push int, created time.Time) (status, updatedAt string) {
	failing := (i*m+j)%failingTaskEvery == failingTaskSlot
	switch {
	case failing && push == 1:
		return swr.SyncJobFailed, jobTime(created.Add(17 * time.Second))
	case failing && push == 3:
		return swr.SyncJobTimeout, jobTime(created.Add(30 * time.Minute))
	case push == 0 && (i+j)%20 == 7:
		return swr.SyncJobRunning, jobTime(created.Add(2 * time.Second))
	case push%7 == 5:
		return swr.SyncJobExisted, jobTime(created.Add(4 * time.Second))
	}
	return swr.SyncJobSuccess, jobTime(created.Add(time.Duration(35+(i+j+push)%40) * time.Second))
}

// seedSimulator stores every repository's policies and its page of sync jobs in the simulator and lets the
// IAM user in.
func seedSimulator(sim *swrtest.Server, s size) {
	sim.AddIAMUser(iamDomain, iamUser, iamPassword)
	for i := range s.repos {
		policies := policiesFor(i, s.policies)
		sim.SetPolicies(organization, repositoryPath(i), policies...)
		sim.SetSyncJobs(organization, repositoryPath(i), jobsFor(i, policies)...)
	}
}

// newImageRepository returns the i-th ImageRepository, polling endpoint every interval.
func newImageRepository(i int, endpoint string, interval time.Duration) *swrv1.ImageRepository {
	return &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: repoName(i), Namespace: benchNamespace},
		Spec: swrv1.ImageRepositorySpec{
			SWRAccess: swrv1.SWRAccess{
				Organization: organization,
				Endpoint:     endpoint,
				SecretRef:    swrv1.SecretReference{Name: secretName},
			},
			Repository: repositoryPath(i),
			Interval:   &metav1.Duration{Duration: interval},
		},
	}
}

// createWorkload creates the namespace, the IAM Secret and the ImageRepositories (untimed) and
// returns the ImageRepositories as created.
func createWorkload(ctx context.Context, c client.Client, s size, endpoint string, interval time.Duration) ([]*swrv1.ImageRepository, error) {
	if err := createNamespaceAndSecret(ctx, c, endpoint); err != nil {
		return nil, err
	}
	repos := make([]*swrv1.ImageRepository, s.repos)
	err := forEach(ctx, s.repos, setupWorkers, func(ctx context.Context, i int) error {
		repo := newImageRepository(i, endpoint, interval)
		if err := c.Create(ctx, repo); err != nil {
			return fmt.Errorf("creating ImageRepository %s: %w", repo.Name, err)
		}
		repos[i] = repo
		return nil
	})
	return repos, err
}

// createNamespaceAndSecret creates the bench namespace and the IAM password Secret, whose IAM
// endpoint is endpoint.
func createNamespaceAndSecret(ctx context.Context, c client.Client, endpoint string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
	if err := c.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", benchNamespace, err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: benchNamespace},
		StringData: map[string]string{
			"username":    iamUser,
			"password":    iamPassword,
			"domainName":  iamDomain,
			"projectName": iamProject,
			"iamEndpoint": endpoint,
		},
	}
	if err := c.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating Secret %s: %w", secretName, err)
	}
	return nil
}

// forEach calls fn for 0..n-1 from workers goroutines, each taking the next index when it is
// done with one, as a controller's workers take the next queued object. It stops handing out
// indices after the first error (or when ctx ends) and returns that error.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		// Cancelled from outside: the caller's ctx ended before every index was handled.
		return ctx.Err()
	}
	return firstErr
}
