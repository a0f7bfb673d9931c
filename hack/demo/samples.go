package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

const (
	// sampleInterval replaces the samples' spec.interval, so that upstream changes show up
	// within a demo's attention span instead of the samples' minutes.
	sampleInterval = "30s"
	// fieldOwner is the server-side apply field manager of the objects the demo applies.
	fieldOwner = "swr-sync-demo"
	// yamlBufferSize is the decoder's look-ahead for telling YAML from JSON.
	yamlBufferSize = 4096
)

// The kinds of samples the demo applies.
const (
	kindImageRepository   = "ImageRepository"
	kindImageOrganization = "ImageOrganization"
)

// sample is one ImageRepository or ImageOrganization read from config/samples.
type sample struct {
	file string // relative to the repository root, for messages
	obj  *unstructured.Unstructured
}

// name returns the sample's metadata.name.
func (s sample) name() string { return s.obj.GetName() }

// kind returns the sample's kind, ImageRepository or ImageOrganization.
func (s sample) kind() string { return s.obj.GetKind() }

// loadSamples reads every ImageRepository and ImageOrganization in dir/*.yaml, except
// kustomization.yaml, which only lists the others. Other kinds are skipped: the demo only knows
// how to point these two at the simulator. Reading them before anything starts makes a broken
// sample fail in milliseconds.
func loadSamples(root, dir string) ([]sample, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	sort.Strings(files)
	var samples []sample
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		rel, err := filepath.Rel(root, file)
		if err != nil {
			rel = file
		}
		objs, err := decodeYAMLFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", rel, err)
		}
		for _, obj := range objs {
			if isDemoKind(obj) {
				samples = append(samples, sample{file: rel, obj: obj})
			}
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("no ImageRepository or ImageOrganization in %s/*.yaml: the demo applies the samples there; restore them from git", dir)
	}
	return samples, nil
}

// decodeYAMLFile returns the objects of a multi-document YAML (or JSON) file, skipping empty
// documents such as a comment-only one.
func decodeYAMLFile(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	decoder := utilyaml.NewYAMLOrJSONDecoder(f, yamlBufferSize)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var content map[string]any
		err := decoder.Decode(&content)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(content) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: content})
		}
	}
}

// isDemoKind reports whether obj is an ImageRepository or ImageOrganization of this operator's
// API group.
func isDemoKind(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == swrv1.GroupVersion.Group && (gvk.Kind == kindImageRepository || gvk.Kind == kindImageOrganization)
}

// applySamples points each sample at the simulator and applies it in the demo namespace.
func (d *demo) applySamples(ctx context.Context, samples []sample) error {
	d.stepf("Applying the ImageRepositories and ImageOrganizations of %s in namespace %s", d.paths.rel(d.paths.samples), demoNamespace)
	fmt.Fprintf(d.out, "    The samples name a Huawei Cloud region; the demo sets spec.endpoint to the local simulator\n"+
		"    (%s), which takes precedence over spec.region, and spec.interval to %s (an\n"+
		"    ImageOrganization's spec.template.spec.interval too, for the ImageRepositories it generates).\n",
		d.sim.URL(), sampleInterval)
	for _, s := range samples {
		if err := pointAtSimulator(s.obj, d.sim.URL()); err != nil {
			return fmt.Errorf("preparing %s %s of %s: %w", s.kind(), s.name(), s.file, err)
		}
		err := d.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(s.obj),
			client.FieldOwner(fieldOwner), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("applying %s %s of %s: %w", s.kind(), s.name(), s.file, err)
		}
		org, _, _ := unstructured.NestedString(s.obj.Object, "spec", "organization")
		region, _, _ := unstructured.NestedString(s.obj.Object, "spec", "region")
		if s.kind() == kindImageOrganization {
			include, _, _ := unstructured.NestedStringSlice(s.obj.Object, "spec", "include")
			exclude, _, _ := unstructured.NestedStringSlice(s.obj.Object, "spec", "exclude")
			selection := "include " + orAll(include)
			if len(exclude) > 0 {
				selection += ", exclude " + strings.Join(exclude, " ")
			}
			fmt.Fprintf(d.out, "    %s: ImageOrganization %s (organization %s, %s; region %s replaced by the simulator)\n",
				s.file, s.name(), org, selection, orNone(region))
			continue
		}
		repo, _, _ := unstructured.NestedString(s.obj.Object, "spec", "repository")
		fmt.Fprintf(d.out, "    %s: ImageRepository %s (%s/%s; region %s replaced by the simulator)\n",
			s.file, s.name(), org, repo, orNone(region))
	}
	return nil
}

// pointAtSimulator moves obj to the demo namespace and makes it poll endpoint every
// sampleInterval; an ImageOrganization's generated ImageRepositories (which take the endpoint
// from it) poll every sampleInterval too. Everything else stays as the sample wrote it.
func pointAtSimulator(obj *unstructured.Unstructured, endpoint string) error {
	obj.SetNamespace(demoNamespace)
	if err := unstructured.SetNestedField(obj.Object, endpoint, "spec", "endpoint"); err != nil {
		return fmt.Errorf("setting spec.endpoint: %w", err)
	}
	if err := unstructured.SetNestedField(obj.Object, sampleInterval, "spec", "interval"); err != nil {
		return fmt.Errorf("setting spec.interval: %w", err)
	}
	if obj.GetKind() == kindImageOrganization {
		if err := unstructured.SetNestedField(obj.Object, sampleInterval, "spec", "template", "spec", "interval"); err != nil {
			return fmt.Errorf("setting spec.template.spec.interval: %w", err)
		}
	}
	return nil
}

// orAll returns the patterns separated by spaces, or "(all)" if there are none.
func orAll(patterns []string) string {
	if len(patterns) == 0 {
		return "(all)"
	}
	return strings.Join(patterns, " ")
}

// orNone returns s, or "(none)" if it is empty.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
