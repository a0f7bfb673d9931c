package install_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagesync/swr-sync-operator/controllers"
)

// dashboardPanel is the part of a Grafana panel the specs read.
type dashboardPanel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Datasource map[string]string        `json:"datasource"`
	Targets    []struct {
		RefID      string            `json:"refId"`
		Expr       string            `json:"expr"`
		Datasource map[string]string `json:"datasource"`
	} `json:"targets"`
}

var _ = Describe("the Grafana dashboard", func() {
	var dashboard struct {
		UID           string           `json:"uid"`
		Title         string           `json:"title"`
		SchemaVersion int              `json:"schemaVersion"`
		Panels        []dashboardPanel `json:"panels"`
		Templating    struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}

	BeforeEach(func() {
		data, err := os.ReadFile(filepath.Join(repoRoot, "config", "grafana", "swr-sync-operator-dashboard.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(data, &dashboard)).To(Succeed())
	})

	It("is an importable dashboard with a Prometheus data source variable", func() {
		Expect(dashboard.UID).NotTo(BeEmpty())
		Expect(dashboard.Title).NotTo(BeEmpty())
		Expect(dashboard.SchemaVersion).To(BeNumerically(">=", 39))
		Expect(dashboard.Templating.List).To(ContainElement(And(
			HaveField("Name", "DS_PROMETHEUS"), HaveField("Type", "datasource"), HaveField("Query", "prometheus"))))

		ids := map[int]string{}
		for _, p := range dashboard.Panels {
			Expect(ids).NotTo(HaveKey(p.ID), "panel ids are unique: %q and %q", ids[p.ID], p.Title)
			ids[p.ID] = p.Title
			if p.Type == "row" {
				// A row only heads the panels below it; it queries nothing.
				Expect(p.Targets).To(BeEmpty(), p.Title)
				continue
			}
			Expect(p.Datasource).To(HaveKeyWithValue("uid", "${DS_PROMETHEUS}"), p.Title)
			Expect(p.Targets).NotTo(BeEmpty(), p.Title)
			for _, t := range p.Targets {
				Expect(t.Datasource).To(HaveKeyWithValue("uid", "${DS_PROMETHEUS}"), p.Title)
				Expect(t.RefID).NotTo(BeEmpty(), p.Title)
			}
		}
	})

	It("lays its panels out on Grafana's 24-column grid without overlaps", func() {
		for i, p := range dashboard.Panels {
			Expect(p.GridPos.W).To(BeNumerically(">", 0), p.Title)
			Expect(p.GridPos.H).To(BeNumerically(">", 0), p.Title)
			Expect(p.GridPos.X).To(BeNumerically(">=", 0), p.Title)
			Expect(p.GridPos.X+p.GridPos.W).To(BeNumerically("<=", 24), p.Title)
			for _, q := range dashboard.Panels[:i] {
				overlap := p.GridPos.X < q.GridPos.X+q.GridPos.W && q.GridPos.X < p.GridPos.X+p.GridPos.W &&
					p.GridPos.Y < q.GridPos.Y+q.GridPos.H && q.GridPos.Y < p.GridPos.Y+p.GridPos.H
				Expect(overlap).To(BeFalse(), "panels %q and %q overlap", q.Title, p.Title)
			}
		}
	})

	It("queries every metric the operator exports, limited to the operator's job", func() {
		var exprs []string
		for _, p := range dashboard.Panels {
			for _, t := range p.Targets {
				exprs = append(exprs, t.Expr)
				Expect(t.Expr).To(ContainSubstring(`job=~"$job"`), "%s: %s", p.Title, t.Expr)
				Expect(balanced(t.Expr)).To(BeTrue(), "unbalanced brackets in %s: %s", p.Title, t.Expr)
			}
		}
		all := strings.Join(exprs, "\n")
		for _, metric := range []string{
			"swr_sync_poll_duration_seconds_count",
			"swr_sync_poll_duration_seconds_bucket",
			"swr_sync_swr_requests_total",
			"swr_sync_mirrored_tasks",
			"swr_sync_last_successful_poll_timestamp_seconds",
			"swr_sync_poll_interval_seconds",
			"swr_sync_token_requests_total",
			"swr_sync_replication_failed_tags",
			"time() - max by (namespace, name, remote_region, remote_namespace) (swr_sync_replication_last_success_timestamp_seconds",
			"swr_sync_policy_drift",
			`controller_runtime_reconcile_total{job=~"$job", controller="imagerepository"`,
			`workqueue_depth{job=~"$job", name="imagerepository"}`,
			"swr_sync_discovered_repositories",
			"swr_sync_discovery_duration_seconds_count",
			"swr_sync_discovery_duration_seconds_bucket",
			`controller_runtime_reconcile_total{job=~"$job", controller="imageorganization"`,
			`workqueue_depth{job=~"$job", name="imageorganization"}`,
		} {
			Expect(all).To(ContainSubstring(metric))
		}
		// And every metric the operator registers, so that a new one cannot be left off.
		names := operatorMetricNames()
		Expect(names).To(ContainElement("swr_sync_policy_drift"), "the registered names are read")
		for _, name := range names {
			Expect(all).To(ContainSubstring(name), "the dashboard shows %s", name)
		}
	})
})

// recordingRegisterer keeps the collectors registered on it, to read their descriptions.
type recordingRegisterer struct{ collectors []prometheus.Collector }

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recordingRegisterer) Unregister(prometheus.Collector) bool { return false }

// fqNamePattern reads the name out of prometheus.Desc's String(), which is the only way the
// client library shows it.
var fqNamePattern = regexp.MustCompile(`fqName: "([^"]+)"`)

// operatorMetricNames returns the names of the metrics controllers.NewMetrics registers (a
// histogram's base name, without _bucket, _count or _sum).
func operatorMetricNames() []string {
	reg := &recordingRegisterer{}
	_, err := controllers.NewMetrics(reg)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var names []string
	for _, c := range reg.collectors {
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			m := fqNamePattern.FindStringSubmatch(d.String())
			ExpectWithOffset(1, m).To(HaveLen(2), "a name in %s", d)
			names = append(names, m[1])
		}
	}
	return names
}

// balanced reports whether the brackets of a PromQL expression pair up, ignoring quoted strings.
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	var quote rune
	escaped := false
	for _, r := range expr {
		switch {
		case escaped:
			escaped = false
		case quote != 0 && r == '\\':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && quote == 0
}
