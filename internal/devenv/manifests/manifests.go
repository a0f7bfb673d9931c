// Package manifests renders the repository's kustomizations (config/default, config/samples, ...)
// as `kubectl kustomize` does, for the tests that check or install them. It is a package of its
// own, apart from devenv, so that the developer programs importing devenv do not link kustomize.
package manifests

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Render builds the kustomization in dir on disk, as "kubectl kustomize dir" does, and returns
// its objects in output order.
func Render(dir string) ([]*unstructured.Unstructured, error) {
	return RenderFS(filesys.MakeFsOnDisk(), dir)
}

// RenderFS builds the kustomization in dir of fs and returns its objects in output order. A
// kustomization that renders nothing is an error: no caller means to install nothing.
func RenderFS(fs filesys.FileSystem, dir string) ([]*unstructured.Unstructured, error) {
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, res := range resMap.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: encoding %s: %w", dir, res.CurId(), err)
		}
		// The unstructured JSON decoder keeps integers as int64, as the apiserver's objects have.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("kustomize build %s: decoding %s: %w", dir, data, err)
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("kustomize build %s renders nothing", dir)
	}
	return objs, nil
}
