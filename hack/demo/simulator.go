package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// The repositories the simulator serves. They match config/samples.
const (
	demoOrganization = "test"
	helloRepository  = "grpc-helloworld"
	nginxRepository  = "library/nginx" // a name with '/', which goes over the wire as '$'
)

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
// upstreamChangeEvery.
var livelyPolicy = nginxPolicy(103, "af-south-1", "test-dr", false, "2024-03-03T10:45:00Z")

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
	d.step("Started the SWR simulator at %s", d.sim.URL())
	fmt.Fprintf(d.out, "    %s/%s: policy %d -> %s/%s (the example of SWR's API page)\n",
		demoOrganization, helloRepository, helloPolicy.ID, helloPolicy.RemoteRegionID, helloPolicy.RemoteNamespace)
	for _, p := range nginxPolicies {
		fmt.Fprintf(d.out, "    %s/%s: policy %d -> %s/%s\n", demoOrganization, nginxRepository, p.ID, p.RemoteRegionID, p.RemoteNamespace)
	}
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
		case <-d.manager.done:
			return fmt.Errorf("%w (%v): its log is shown above", errManagerExited, d.manager.exitErr)
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
