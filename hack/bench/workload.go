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
// repositories and realistic field values, so that tasks are as large as real ones.
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
			RemoteNamespace: fmt.Sprintf("mirror-%d", j%7),
			Override:        j%2 == 0,
			SyncAuto:        true,
		}
	}
	return policies
}

// jobsFor returns the sync jobs of the given policies: one successful job per policy, copying tag
// v1.0.0 an hour after the policy's last update, so that every task carries a lastSyncJob and a
// Replicated=True condition, as the tasks of a repository that is pushed to do.
func jobsFor(policies []swr.SyncRepo) []swr.SyncJob {
	jobs := make([]swr.SyncJob, len(policies))
	for j, p := range policies {
		updated, _ := time.Parse("2006-01-02T15:04:05.000000Z", p.UpdatedAt)
		created := updated.Add(time.Hour)
		job := swrtest.PolicyJob(p)
		job.ID = p.ID*10 + 1
		job.CreatedAt = created.Format("2006-01-02T15:04:05.000000Z")
		job.UpdatedAt = created.Add(42 * time.Second).Format("2006-01-02T15:04:05.000000Z")
		job.Status = swr.SyncJobSuccess
		job.SyncOperatorID, job.SyncOperatorName = "0970dd7a1300f5672ff2c003c60ae115", iamUser
		job.Tag = "v1.0.0"
		jobs[j] = job
	}
	return jobs
}

// seedSimulator stores every repository's policies and sync jobs in the simulator and lets the
// IAM user in.
func seedSimulator(sim *swrtest.Server, s size) {
	sim.AddIAMUser(iamDomain, iamUser, iamPassword)
	for i := range s.repos {
		policies := policiesFor(i, s.policies)
		sim.SetPolicies(organization, repositoryPath(i), policies...)
		sim.SetSyncJobs(organization, repositoryPath(i), jobsFor(policies)...)
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
