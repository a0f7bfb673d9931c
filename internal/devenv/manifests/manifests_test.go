package manifests

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestRenderFS(t *testing.T) {
	fs := filesys.MakeFsInMemory()
	mustWrite := func(path, content string) {
		t.Helper()
		if err := fs.WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite("/app/kustomization.yaml", "namePrefix: p-\nresources:\n- cm.yaml\n")
	mustWrite("/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  replicas: \"3\"\n")
	mustWrite("/empty/kustomization.yaml", "resources: []\n")

	objs, err := RenderFS(fs, "/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetName() != "p-cm" || objs[0].GetKind() != "ConfigMap" {
		t.Fatalf("RenderFS(/app) = %v, want the one ConfigMap p-cm", objs)
	}
	if _, err := RenderFS(fs, "/empty"); err == nil || !strings.Contains(err.Error(), "renders nothing") {
		t.Fatalf("RenderFS(/empty) error = %v, want one saying it renders nothing", err)
	}
	if _, err := RenderFS(fs, "/missing"); err == nil || !strings.Contains(err.Error(), "kustomize build /missing") {
		t.Fatalf("RenderFS(/missing) error = %v, want one naming the folder", err)
	}
}
