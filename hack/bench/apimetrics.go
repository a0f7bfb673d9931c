package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/runtime/schema"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// requestMetric is the apiserver's counter of handled requests.
const requestMetric = "apiserver_request_total"

// requestKey is one series of apiserver_request_total, reduced to the labels the report uses.
type requestKey struct {
	verb        string // GET, LIST, WATCH, POST, PUT, PATCH, DELETE, ...
	resource    schema.GroupResource
	subresource string
	code        string
}

// requestCounts are apiserver_request_total values at one moment. The difference of two
// snapshots counts exactly the requests the apiserver completed in between, which is how the
// report splits an operator's traffic into creates, patches, reads and events.
type requestCounts map[requestKey]float64

// parseRequestCounts reads the apiserver_request_total series from a /metrics page in the
// Prometheus text format. Only that family is parsed: the page holds megabytes of histograms,
// and the benchmark's own CPU time is measured. So the lines of other families are dropped
// before expfmt's parser sees the page.
func parseRequestCounts(page []byte) (requestCounts, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(requestMetricLines(page)))
	if err != nil {
		return nil, fmt.Errorf("parsing %s in /metrics: %w", requestMetric, err)
	}
	counts := requestCounts{}
	family, ok := families[requestMetric]
	if !ok {
		return counts, nil
	}
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		key := requestKey{
			verb:        labels["verb"],
			resource:    schema.GroupResource{Group: labels["group"], Resource: labels["resource"]},
			subresource: labels["subresource"],
			code:        labels["code"],
		}
		// A counter, as the apiserver declares it; untyped if a page lacks the TYPE line.
		value := m.GetCounter().GetValue()
		if m.GetCounter() == nil {
			value = m.GetUntyped().GetValue()
		}
		counts[key] += value
	}
	return counts, nil
}

// requestMetricLines returns the lines of page that belong to apiserver_request_total: its
// samples and its HELP and TYPE comments.
func requestMetricLines(page []byte) []byte {
	var out []byte
	for line := range bytes.Lines(page) {
		rest, ok := bytes.CutPrefix(line, []byte(requestMetric))
		if !ok {
			comment, isComment := bytes.CutPrefix(line, []byte("# "))
			if !isComment {
				continue
			}
			_, rest, _ = bytes.Cut(comment, []byte(" ")) // after HELP or TYPE
			if rest, ok = bytes.CutPrefix(rest, []byte(requestMetric)); !ok {
				continue
			}
		}
		// Not a longer name that starts with this one (apiserver_request_total_foo).
		if len(rest) > 0 && (rest[0] == '{' || rest[0] == ' ' || rest[0] == '\t') {
			out = append(out, line...)
		}
	}
	return out
}

// operatorResources says which requests a phase counts: those of the operator's own kinds,
// Secrets and Events, the only resources the manager uses when it runs without leader election,
// as here. The apiserver makes requests of its own on timers, counted by the same metric: every
// 10 s it reads the endpoints of the kubernetes Service and renews its identity Lease, and it
// keeps its flow-control objects current. They are nobody's cost in a comparison, yet a longer
// phase would collect more of them: they made up every GET the steady state counted.
func operatorResources(r schema.GroupResource) bool {
	switch {
	case r.Group == swrv1.GroupVersion.Group:
		return true
	case r.Resource == "events":
		return r.Group == "" || r.Group == "events.k8s.io"
	default:
		return r.Group == "" && r.Resource == "secrets"
	}
}

// of returns the counts of the resources keep accepts.
func (c requestCounts) of(keep func(schema.GroupResource) bool) requestCounts {
	kept := requestCounts{}
	for k, v := range c {
		if keep(k.resource) {
			kept[k] = v
		}
	}
	return kept
}

// minus returns the requests counted in c but not yet in earlier.
func (c requestCounts) minus(earlier requestCounts) requestCounts {
	diff := requestCounts{}
	for k, v := range c {
		if d := v - earlier[k]; d > 0 {
			diff[k] = d
		}
	}
	return diff
}

// refused describes the requests counted in c that were answered with another status than 2xx,
// by verb, resource and status code (e.g. "2 POST syncrepotasks 409"); "" when there are none.
func (c requestCounts) refused() string {
	var parts []string
	for k, v := range c {
		if k.code == "" || strings.HasPrefix(k.code, "2") {
			continue
		}
		what := k.resource.Resource
		if k.subresource != "" {
			what += "/" + k.subresource
		}
		parts = append(parts, fmt.Sprintf("%g %s %s %s", v, k.verb, what, k.code))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// isWrite reports whether verb changes state.
func isWrite(verb string) bool {
	switch verb {
	case "POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY":
		return true
	}
	return false
}

// requestTotals counts a phase's requests by what they do, whatever the resource: the part of
// the traffic every phase's report reads alike.
type requestTotals struct {
	events     int // Event writes (core and events.k8s.io)
	gets       int // GETs of single objects of any resource (not of /metrics)
	secretGets int // of which GETs of Secrets
	lists      int // LISTs of any resource
	writes     int // every write of any resource
	refused    int // requests of any kind answered with another status than 2xx
}

// add counts n requests of series k.
func (t *requestTotals) add(k requestKey, n int) {
	if k.code != "" && !strings.HasPrefix(k.code, "2") {
		t.refused += n
	}
	if k.resource.Resource == "events" && isWrite(k.verb) {
		t.events += n
	}
	switch {
	case k.verb == "GET" && k.resource.Resource != "":
		t.gets += n
		if k.resource.Resource == "secrets" {
			t.secretGets += n
		}
	case k.verb == "LIST":
		t.lists += n
	case isWrite(k.verb):
		t.writes += n
	}
}

// trafficSummary is the apiserver traffic of one phase, in the categories the report shows.
type trafficSummary struct {
	taskCreates        int // SyncRepoTask POSTs that succeeded
	taskCreateFailures int // SyncRepoTask POSTs refused, e.g. 409 AlreadyExists
	taskOtherWrites    int // SyncRepoTask PUT, PATCH, DELETE
	statusPatches      int // ImageRepository status writes
	otherRepoWrites    int // ImageRepository writes other than status
	requestTotals
}

// summarize sorts a snapshot difference into the report's categories.
func summarize(c requestCounts) trafficSummary {
	var t trafficSummary
	for k, v := range c {
		n := int(v)
		switch {
		case k.resource == syncRepoTasks && k.verb == "POST" && strings.HasPrefix(k.code, "2"):
			t.taskCreates += n
		case k.resource == syncRepoTasks && k.verb == "POST":
			t.taskCreateFailures += n
		case k.resource == syncRepoTasks && isWrite(k.verb):
			t.taskOtherWrites += n
		case k.resource == imageRepositories && k.subresource == "status" && isWrite(k.verb):
			t.statusPatches += n
		case k.resource == imageRepositories && isWrite(k.verb):
			t.otherRepoWrites += n
		}
		t.add(k, n)
	}
	return t
}
