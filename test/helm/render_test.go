package helm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kubeVersion is the Kubernetes version the chart is rendered for: envtest's.
const kubeVersion = "v1.37.2"

// rendering is the chart rendered as `helm template` renders it.
type rendering struct {
	objs  []*unstructured.Unstructured
	notes string
}

// renderChart renders the chart as `helm template release dist/chart -n namespace -f values`
// does, with the SDK's install action in client-only dry-run mode, so that the values are
// checked against values.schema.json on the way.
func renderChart(ctx context.Context, releaseName, namespace string, values map[string]any) (rendering, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return rendering{}, err
	}
	install := action.NewInstall(action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil))))
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true // no release storage to check the name against
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.KubeVersion, err = common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return rendering{}, err
	}
	if values == nil {
		values = map[string]any{}
	}
	released, err := install.RunWithContext(ctx, chrt, values)
	if err != nil {
		return rendering{}, err
	}
	rel, ok := released.(*release.Release)
	if !ok {
		return rendering{}, fmt.Errorf("the install action returned a %T", released)
	}
	objs, err := decodeManifest(rel.Manifest)
	if err != nil {
		return rendering{}, err
	}
	return rendering{objs: objs, notes: rel.Info.Notes}, nil
}

// mustRender renders the chart, failing the spec on an error.
func mustRender(ctx context.Context, releaseName, namespace string, values map[string]any) rendering {
	GinkgoHelper()
	r, err := renderChart(ctx, releaseName, namespace, values)
	Expect(err).NotTo(HaveOccurred(), "render the chart with values %v", values)
	return r
}

// decodeManifest returns the objects of a multi-document YAML manifest, in order.
func decodeManifest(manifest string) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		var obj map[string]any
		err := decoder.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding the rendered manifest: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		// A JSON round trip gives the int64 numbers the apiserver's objects (and the kustomize
		// render) have.
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		json, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(json); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", data, err)
		}
		objs = append(objs, u)
	}
}

// values parses a values file's text, as `helm install -f` reads it.
func values(text string) map[string]any {
	GinkgoHelper()
	out := map[string]any{}
	Expect(yaml.Unmarshal([]byte(text), &out)).To(Succeed())
	return out
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
	GinkgoHelper()
	found := ofKind(objs, group, kind)
	Expect(found).To(HaveLen(1), "exactly one %s", schema.GroupKind{Group: group, Kind: kind})
	return found[0]
}

// find returns the object of the given group, kind, namespace and name, or nil.
func find(objs []*unstructured.Unstructured, group, kind, namespace, name string) *unstructured.Unstructured {
	i := slices.IndexFunc(ofKind(objs, group, kind), func(o *unstructured.Unstructured) bool {
		return o.GetNamespace() == namespace && o.GetName() == name
	})
	if i < 0 {
		return nil
	}
	return ofKind(objs, group, kind)[i]
}

// named returns the object of the given group, kind, namespace and name, failing if there is none.
func named(objs []*unstructured.Unstructured, group, kind, namespace, name string) *unstructured.Unstructured {
	GinkgoHelper()
	o := find(objs, group, kind, namespace, name)
	Expect(o).NotTo(BeNil(), "rendered %s %s/%s", schema.GroupKind{Group: group, Kind: kind}, namespace, name)
	return o
}

// into converts u into the typed object out.
func into(u *unstructured.Unstructured, out any) {
	GinkgoHelper()
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)).
		To(Succeed(), "convert %s %s", u.GetKind(), u.GetName())
}

// id names an object by group, kind, namespace and name, for set comparisons and messages.
func id(u *unstructured.Unstructured) string {
	gk := u.GroupVersionKind().GroupKind()
	return fmt.Sprintf("%s %s/%s", gk, u.GetNamespace(), u.GetName())
}

// ids returns the id of each object.
func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, id(o))
	}
	return out
}
