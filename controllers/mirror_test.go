package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

func TestTaskName(t *testing.T) {
	if got := TaskName("grpc-helloworld", 45); got != "grpc-helloworld-45" {
		t.Fatalf("TaskName = %q, want grpc-helloworld-45", got)
	}
	// The longest ImageRepository names, with the longest ids, still give valid, distinct names.
	longA := strings.Repeat("a", 253)
	longB := strings.Repeat("a", 252) + "b"
	dotted := strings.Repeat("a.", 126) + "a"
	seen := map[string]string{}
	for _, repo := range []string{longA, longB, dotted, strings.Repeat("a", 230) + "-" + strings.Repeat("b", 22)} {
		for _, id := range []int64{1, 45, 9223372036854775807, -9223372036854775808} {
			name := TaskName(repo, id)
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				t.Fatalf("TaskName(%d chars, %d) = %q: %v", len(repo), id, name, errs)
			}
			if other, dup := seen[name]; dup {
				t.Fatalf("TaskName collision: %q for %q and %q", name, repo, other)
			}
			seen[name] = repo
		}
	}
}

func TestImageRepositoryLabelValue(t *testing.T) {
	if got := ImageRepositoryLabelValue("nginx"); got != "nginx" {
		t.Fatalf("short names are used as they are, got %q", got)
	}
	exact := strings.Repeat("a", 63)
	if got := ImageRepositoryLabelValue(exact); got != exact {
		t.Fatalf("a 63-character name fits a label value, got %q", got)
	}
	a := ImageRepositoryLabelValue(strings.Repeat("a", 62) + ".b" + strings.Repeat("c", 100))
	b := ImageRepositoryLabelValue(strings.Repeat("a", 62) + ".b" + strings.Repeat("d", 100))
	for _, v := range []string{a, b} {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Fatalf("label value %q: %v", v, errs)
		}
	}
	if a == b {
		t.Fatalf("distinct long names share the label value %q", a)
	}
}

func TestTaskStatusFromKeepsEveryField(t *testing.T) {
	// taskStatusFrom converts by type, so the compiler guarantees that both structs have the same
	// fields; this checks that the values land where they belong.
	p := swr.SyncRepo{ID: 1 << 60, CreatedAt: "c", UpdatedAt: "u", DomainID: "di", DomainName: "dn",
		Namespace: "ns", RepoName: "rn", RemoteRegionID: "rr", RemoteNamespace: "rns", Override: true, SyncAuto: true}
	s := taskStatusFrom(p)
	want := swrv1.SyncRepoPolicy{ID: 1 << 60, CreatedAt: "c", UpdatedAt: "u", DomainID: "di", DomainName: "dn",
		Namespace: "ns", RepoName: "rn", RemoteRegionID: "rr", RemoteNamespace: "rns", Override: true, SyncAuto: true}
	if s.SyncRepoPolicy != want {
		t.Fatalf("taskStatusFrom(%+v) = %+v, want %+v", p, s.SyncRepoPolicy, want)
	}
}
