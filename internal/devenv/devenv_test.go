package devenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFindModuleRoot(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "hack", "demo")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := FindModuleRoot(sub, "demo"); err != nil || got != root {
		t.Fatalf("FindModuleRoot(%s) = %q, %v; want %q", sub, got, err, root)
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindModuleRoot(other, "bench"); err == nil || !strings.Contains(err.Error(), "run `make bench`") {
		t.Fatalf("inside another module: %v, want an error telling to run make bench", err)
	}
}

func TestCheckControlPlaneAssets(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	if err := CheckControlPlaneAssets("demo"); err == nil || !strings.Contains(err.Error(), "run `make demo`") {
		t.Fatalf("unset: %v", err)
	}
	dir := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", dir)
	if err := CheckControlPlaneAssets("demo"); err == nil || !strings.Contains(err.Error(), "has no kube-apiserver") {
		t.Fatalf("empty folder: %v", err)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, bin), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckControlPlaneAssets("demo"); err != nil {
		t.Fatalf("complete folder: %v", err)
	}
}

func TestManagerArgs(t *testing.T) {
	got := strings.Join(ManagerArgs("/tmp/kubeconfig", 5*time.Second), " ")
	want := "--kubeconfig /tmp/kubeconfig --allow-insecure-endpoints --health-probe-bind-address=0 --metrics-bind-address=0 --min-interval=5s"
	if got != want {
		t.Errorf("ManagerArgs = %q, want %q", got, want)
	}
}
