package install_test

import (
	"fmt"
	"slices"
	"strconv"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/imagesync/swr-sync-operator/internal/devenv/manifests"
)

// render builds the kustomization in dir on disk, as "kubectl kustomize dir" does.
func render(dir string) []*unstructured.Unstructured {
	return renderFS(filesys.MakeFsOnDisk(), dir)
}

// renderFS builds the kustomization in dir of fs and returns its objects in output order.
func renderFS(fs filesys.FileSystem, dir string) []*unstructured.Unstructured {
	objs, err := manifests.RenderFS(fs, dir)
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	return objs
}

// ofKind returns the objects of the given group and kind, in order.
func ofKind(objs []*unstructured.Unstructured, group, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if gvk := o.GroupVersionKind(); gvk.Group == group && gvk.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// theOne returns the only object of the given group and kind, failing unless there is exactly one.
func theOne(objs []*unstructured.Unstructured, group, kind string) *unstructured.Unstructured {
	found := ofKind(objs, group, kind)
	ExpectWithOffset(1, found).To(HaveLen(1), "exactly one %s", schema.GroupKind{Group: group, Kind: kind})
	return found[0]
}

// named returns the object of the given group, kind and name, failing if there is none.
func named(objs []*unstructured.Unstructured, group, kind, name string) *unstructured.Unstructured {
	i := slices.IndexFunc(ofKind(objs, group, kind), func(o *unstructured.Unstructured) bool { return o.GetName() == name })
	ExpectWithOffset(1, i).To(BeNumerically(">=", 0), "rendered %s %q", schema.GroupKind{Group: group, Kind: kind}, name)
	return ofKind(objs, group, kind)[i]
}

// into converts u into the typed object out.
func into(u *unstructured.Unstructured, out any) {
	ExpectWithOffset(1, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)).
		To(Succeed(), "convert %s %s", u.GetKind(), u.GetName())
}

// describe names an object in failure messages.
func describe(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
	}
	return fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
}

// mustAtoi parses a decimal number, failing the spec if s is not one.
func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return n
}
