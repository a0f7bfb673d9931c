package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const crdWithBraces = `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    controller-gen.kubebuilder.io/version: v0.23.0
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        description: 'A template such as {{ .Name }} is kept as text.'
        type: object
    served: true
    storage: true
`

func TestCRDTemplateKeepsTheSpecAndEscapesTemplateActions(t *testing.T) {
	out, err := crdTemplate("widgets.yaml", []byte(crdWithBraces))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"{{- if .Values.crds.install }}\n",
		"  name: widgets.example.com\n",
		"    controller-gen.kubebuilder.io/version: v0.23.0\n",
		"    {{- if .Values.crds.keep }}\n",
		"    helm.sh/resource-policy: keep\n",
		`{{- include "swr-sync-operator.labels" . | nindent 4 }}`,
		`description: 'A template such as {{ "{{" }} .Name }} is kept as text.'`,
		"    storage: true\n{{- end }}\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the template lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\n---\n") {
		t.Errorf("the document marker is kept:\n%s", got)
	}
}

func TestCRDTemplateRefusesWhatItWouldDrop(t *testing.T) {
	for name, crd := range map[string]string{
		"labels":          strings.Replace(crdWithBraces, "  name: widgets", "  labels: {a: b}\n  name: widgets", 1),
		"a second object": crdWithBraces + "---\n" + crdWithBraces,
		"a status":        crdWithBraces + "status: {}\n",
	} {
		if _, err := crdTemplate("widgets.yaml", []byte(crd)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestGenerateIsStable(t *testing.T) {
	// Run on the repository itself: a second run changes nothing, and the chart holds every CRD.
	root := filepath.Join("..", "..")
	tmp := t.TempDir()
	for _, dir := range []string{"config/crd/bases", "config/rbac", "dist/chart"} {
		if err := os.CopyFS(filepath.Join(tmp, dir), os.DirFS(filepath.Join(root, dir))); err != nil {
			t.Fatal(err)
		}
	}
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, filepath.Join(tmp, "dist", "chart"))
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	second := snapshot(t, filepath.Join(tmp, "dist", "chart"))
	if len(first) != len(second) {
		t.Fatalf("%d files, then %d", len(first), len(second))
	}
	for path, data := range first {
		if second[path] != data {
			t.Errorf("%s changed on the second run", path)
		}
	}
	crds, _ := filepath.Glob(filepath.Join(tmp, "config", "crd", "bases", "*.yaml"))
	for _, crd := range crds {
		if _, ok := first[filepath.Join("templates", "crds", filepath.Base(crd))]; !ok {
			t.Errorf("no template for %s", filepath.Base(crd))
		}
	}

	// A CRD removed from config/ leaves the chart.
	stale := filepath.Join(tmp, "dist", "chart", "templates", "crds", "gone.yaml")
	if err := os.WriteFile(stale, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale CRD template is still there: %v", err)
	}
}

// snapshot returns every file under dir by its path relative to dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel(dir, path)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
