package controllers

import (
	"crypto/sha256"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// TestAppliedUnchangedSkipsOnlyWhatTheLastApplyStillHolds: an apply is skipped when this process
// applied the same configuration to the same object last and the object changed since in its
// status only (or the cache does not show the apply yet).
func TestAppliedUnchangedSkipsOnlyWhatTheLastApplyStillHolds(t *testing.T) {
	org := &swrv1.ImageOrganization{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", UID: "org-uid", Generation: 1}}
	returned := func() *swrv1.ImageRepository { // as the apply returned it
		return &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{
			Name: "team-app", Namespace: "ns", UID: "child-uid", ResourceVersion: "100", Generation: 1,
			Labels:          map[string]string{swrv1.ImageOrganizationLabel: "team"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(org, swrv1.GroupVersion.WithKind("ImageOrganization"))},
		}}
	}
	config := sha256.Sum256([]byte("configuration"))
	for _, tc := range []struct {
		name   string
		cached func(*swrv1.ImageRepository)
		config [sha256.Size]byte
		skip   bool
	}{
		{name: "the version the apply returned", cached: func(*swrv1.ImageRepository) {}, config: config, skip: true},
		{name: "another configuration", cached: func(*swrv1.ImageRepository) {}, config: sha256.Sum256([]byte("other")), skip: false},
		{name: "an earlier version: the cache lags behind the apply", cached: func(c *swrv1.ImageRepository) { c.ResourceVersion = "99" },
			config: config, skip: true},
		{name: "a later version, status only", cached: func(c *swrv1.ImageRepository) { c.ResourceVersion = "120"; c.Status.TaskCount = 3 },
			config: config, skip: true},
		{name: "a later version with another generation", cached: func(c *swrv1.ImageRepository) { c.ResourceVersion = "120"; c.Generation = 2 },
			config: config, skip: false},
		{name: "a later version without the organization label", cached: func(c *swrv1.ImageRepository) { c.ResourceVersion = "120"; c.Labels = nil },
			config: config, skip: false},
		{name: "a later version with another annotation", cached: func(c *swrv1.ImageRepository) {
			c.ResourceVersion = "120"
			c.Annotations = map[string]string{"example.com/x": "y"}
		}, config: config, skip: false},
		{name: "a later version without its owner", cached: func(c *swrv1.ImageRepository) { c.ResourceVersion = "120"; c.OwnerReferences = nil },
			config: config, skip: false},
		{name: "another object of the same name", cached: func(c *swrv1.ImageRepository) { c.UID = "other-uid" }, config: config, skip: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOrgState()
			if s.appliedUnchanged(org, config, returned()) {
				t.Fatal("skipped an apply this process never made")
			}
			s.rememberApplied(org, config, returned())
			cached := returned()
			tc.cached(cached)
			if got := s.appliedUnchanged(org, tc.config, cached); got != tc.skip {
				t.Fatalf("appliedUnchanged = %v, want %v", got, tc.skip)
			}
		})
	}

	t.Run("a status-only version is remembered", func(t *testing.T) {
		s := newOrgState()
		s.rememberApplied(org, config, returned())
		cached := returned()
		cached.ResourceVersion = "120"
		s.appliedUnchanged(org, config, cached)
		if got := s.records[client.ObjectKeyFromObject(org)].object["team-app"].resourceVersion; got != "120" {
			t.Fatalf("remembered resourceVersion %q, want 120", got)
		}
	})

	t.Run("pruned with the names and the organization", func(t *testing.T) {
		s := newOrgState()
		s.rememberApplied(org, config, returned())
		s.retainApplied(org, map[string]bool{"team-web": true})
		if s.appliedUnchanged(org, config, returned()) {
			t.Fatal("an apply of a name no longer wanted is still remembered")
		}
		s.rememberApplied(org, config, returned())
		s.forget(client.ObjectKeyFromObject(org))
		if s.appliedUnchanged(org, config, returned()) {
			t.Fatal("an apply is remembered after the ImageOrganization was forgotten")
		}
	})
}

// TestChildApplyConfigurationSetsOnlyWhatTheOrganizationSays: no CRD default in the apply
// configuration, and the template's fields when it sets them.
func TestChildApplyConfigurationSetsOnlyWhatTheOrganizationSays(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := swrv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	org := &swrv1.ImageOrganization{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "ns", UID: "org-uid"},
		Spec: swrv1.ImageOrganizationSpec{SWRAccess: swrv1.SWRAccess{
			Organization: "acme", Region: "ap-southeast-1", SecretRef: swrv1.SecretReference{Name: "creds"}}},
	}
	child, bare, err := childApplyConfiguration(org, "library/nginx", scheme)
	if err != nil {
		t.Fatal(err)
	}
	spec := child.Object["spec"].(map[string]any)
	want := map[string]any{"organization": "acme", "region": "ap-southeast-1", "secretRef": map[string]any{"name": "creds"},
		"repository": "library/nginx", "suspend": false}
	if len(spec) != len(want) {
		t.Fatalf("spec %v, want exactly the keys of %v", spec, want)
	}
	if child.GetAnnotations() != nil || len(child.GetLabels()) != 1 || len(child.GetOwnerReferences()) != 1 ||
		child.GetName() != ImageRepositoryName("team", "library/nginx") {
		t.Fatalf("metadata %v", child.Object["metadata"])
	}

	org.Spec.Template.Spec.SyncJobs = &swrv1.SyncJobsSpec{Mode: swrv1.SyncJobsIgnore}
	child, withJobs, err := childApplyConfiguration(org, "library/nginx", scheme)
	if err != nil {
		t.Fatal(err)
	}
	if jobs := child.Object["spec"].(map[string]any)["syncJobs"]; len(jobs.(map[string]any)) != 1 {
		t.Fatalf("syncJobs %v, want the mode alone (the limit is the CRD's default)", jobs)
	}
	if withJobs == bare {
		t.Fatal("a template change left the digest alone")
	}
	if manager := ImageOrganizationFieldManager(strings.Repeat("a", 253)); len(manager) > 128 {
		t.Fatalf("field manager of %d characters", len(manager))
	}
}
