package install_test

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// writeVerbs change objects; escalating verbs change what someone may do.
var (
	writeVerbs      = []string{"create", "update", "patch", "delete", "deletecollection"}
	escalatingVerbs = []string{"bind", "escalate", "impersonate"}
)

// grant is one rule of a role bound to the manager's ServiceAccount.
type grant struct {
	rbacv1.PolicyRule
	// role names the role the rule comes from, for failure messages.
	role string
	// namespaced is true when the rule applies in the operator's namespace only (a RoleBinding).
	namespaced bool
}

// allows reports whether g lets the manager do verb on group/resource.
func (g grant) allows(group, resource, verb string) bool {
	return slices.Contains(g.APIGroups, group) && slices.Contains(g.Resources, resource) && slices.Contains(g.Verbs, verb)
}

func (g grant) String() string {
	scope := "cluster-wide"
	if g.namespaced {
		scope = "in its namespace"
	}
	return fmt.Sprintf("%s (%s): groups %q resources %q verbs %q urls %q", g.role, scope, g.APIGroups, g.Resources, g.Verbs, g.NonResourceURLs)
}

// managerGrants returns every rule that the rendered bindings give the manager's ServiceAccount,
// and the names of the roles they come from.
func managerGrants() ([]grant, []string) {
	sa := theOne(rendered, "", "ServiceAccount")
	isManager := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.GetName() && s.Namespace == sa.GetNamespace()
		})
	}
	rulesOf := func(kind, namespace, name string) []rbacv1.PolicyRule {
		var role rbacv1.ClusterRole // a Role has the same rules field
		into(named(rendered, "rbac.authorization.k8s.io", kind, name), &role)
		if kind == "Role" {
			ExpectWithOffset(2, role.Namespace).To(Equal(namespace), "Role %s is bound from namespace %s", name, namespace)
		}
		return role.Rules
	}

	var grants []grant
	var roles []string
	for _, u := range ofKind(rendered, "rbac.authorization.k8s.io", "ClusterRoleBinding") {
		var b rbacv1.ClusterRoleBinding
		into(u, &b)
		if !isManager(b.Subjects) {
			continue
		}
		ExpectWithOffset(1, b.RoleRef.Kind).To(Equal("ClusterRole"), b.Name)
		roles = append(roles, b.RoleRef.Name)
		for _, r := range rulesOf("ClusterRole", "", b.RoleRef.Name) {
			grants = append(grants, grant{PolicyRule: r, role: b.RoleRef.Name})
		}
	}
	for _, u := range ofKind(rendered, "rbac.authorization.k8s.io", "RoleBinding") {
		var b rbacv1.RoleBinding
		into(u, &b)
		if !isManager(b.Subjects) {
			continue
		}
		roles = append(roles, b.RoleRef.Name)
		for _, r := range rulesOf(b.RoleRef.Kind, b.Namespace, b.RoleRef.Name) {
			grants = append(grants, grant{PolicyRule: r, role: b.RoleRef.Name, namespaced: true})
		}
	}
	slices.Sort(roles)
	return grants, roles
}

// roleRules returns every rendered Role and ClusterRole with its rules.
func roleRules() map[string][]rbacv1.PolicyRule {
	out := map[string][]rbacv1.PolicyRule{}
	for _, kind := range []string{"Role", "ClusterRole"} {
		for _, u := range ofKind(rendered, "rbac.authorization.k8s.io", kind) {
			var role rbacv1.ClusterRole
			into(u, &role)
			out[describe(u)] = role.Rules
		}
	}
	return out
}

var _ = Describe("config/default RBAC", func() {
	It("binds the manager to its own roles only", func() {
		_, roles := managerGrants()
		Expect(roles).To(Equal([]string{
			"swr-sync-operator-leader-election-role",
			"swr-sync-operator-manager-role",
			"swr-sync-operator-metrics-auth-role",
		}))
	})

	It("grants no wildcard and no escalating verb, to anyone", func() {
		for role, rules := range roleRules() {
			for _, r := range rules {
				for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs, r.ResourceNames} {
					for _, v := range field {
						Expect(v).NotTo(ContainSubstring("*"), "%s: %+v", role, r)
					}
				}
				for _, v := range escalatingVerbs {
					Expect(r.Verbs).NotTo(ContainElement(v), "%s: %+v", role, r)
				}
			}
		}
	})

	It("lets the manager read Secrets but never write them", func() {
		grants, _ := managerGrants()
		readsSecrets := false
		for _, g := range grants {
			if !slices.Contains(g.APIGroups, "") || !slices.Contains(g.Resources, "secrets") {
				continue
			}
			readsSecrets = readsSecrets || g.allows("", "secrets", "get")
			Expect(g.Verbs).To(ConsistOf("get", "list", "watch"), g.String())
		}
		Expect(readsSecrets).To(BeTrue(), "the manager reads the Secret an ImageRepository names")
	})

	It("lets the manager write only its own kinds, events, its Lease and auth reviews", func() {
		grants, _ := managerGrants()
		for _, g := range grants {
			Expect(g.NonResourceURLs).To(BeEmpty(), g.String())
			writes := slices.ContainsFunc(g.Verbs, func(v string) bool { return slices.Contains(writeVerbs, v) })
			if !writes {
				continue
			}
			for _, group := range g.APIGroups {
				for _, resource := range g.Resources {
					switch gr := group + "/" + resource; {
					case group == "swr.imagesync.io":
					case gr == "/events" || gr == "events.k8s.io/events":
						Expect(g.Verbs).NotTo(ContainElements("delete", "deletecollection", "update"), g.String())
					case gr == "coordination.k8s.io/leases":
						// Leader election needs a Lease in the operator's namespace only.
						Expect(g.namespaced).To(BeTrue(), "leases must be granted by a Role: %s", g)
					case gr == "authentication.k8s.io/tokenreviews" || gr == "authorization.k8s.io/subjectaccessreviews":
						// The metrics endpoint's authn/authz: create-only review requests.
						Expect(g.Verbs).To(ConsistOf("create"), g.String())
					default:
						Fail(fmt.Sprintf("the manager may write %s: %s", gr, g))
					}
				}
			}
		}
	})

	It("still lets the manager do its job", func() {
		// The other specs pass for an empty role too; this one pins what the manager needs.
		grants, _ := managerGrants()
		need := []struct {
			group, resource, verb string
			namespaced            bool
		}{
			{"swr.imagesync.io", "imagerepositories", "watch", false},
			{"swr.imagesync.io", "imagerepositories/status", "patch", false},
			{"swr.imagesync.io", "syncrepotasks", "create", false},
			{"swr.imagesync.io", "syncrepotasks", "patch", false},
			{"swr.imagesync.io", "syncrepotasks", "delete", false},
			{"swr.imagesync.io", "syncrepotasks/status", "patch", false},
			// A new task's status is an update of the version its create returned.
			{"swr.imagesync.io", "syncrepotasks/status", "update", false},
			// OwnerReferencesPermissionEnforcement: setting blockOwnerDeletion on a task's
			// ownerReference needs "update" on the owner's finalizers.
			{"swr.imagesync.io", "imagerepositories/finalizers", "update", false},
			// ImageOrganizations keep their ImageRepositories.
			{"swr.imagesync.io", "imageorganizations", "watch", false},
			{"swr.imagesync.io", "imageorganizations/status", "patch", false},
			{"swr.imagesync.io", "imageorganizations/finalizers", "update", false},
			{"swr.imagesync.io", "imagerepositories", "create", false},
			{"swr.imagesync.io", "imagerepositories", "delete", false},
			{"", "secrets", "watch", false},
			{"events.k8s.io", "events", "create", false},
			{"authentication.k8s.io", "tokenreviews", "create", false},
			{"authorization.k8s.io", "subjectaccessreviews", "create", false},
			{"coordination.k8s.io", "leases", "get", true},
			{"coordination.k8s.io", "leases", "create", true},
			{"coordination.k8s.io", "leases", "update", true},
			// client-go's leader election still records its events through the core API.
			{"", "events", "create", true},
		}
		for _, n := range need {
			ok := slices.ContainsFunc(grants, func(g grant) bool {
				return g.allows(n.group, n.resource, n.verb) && (n.namespaced || !g.namespaced)
			})
			Expect(ok).To(BeTrue(), "the manager may not %s %s/%s", n.verb, n.group, n.resource)
		}
	})

	It("gives users no way to write SyncRepoTasks or status", func() {
		// SyncRepoTasks and status are the operator's observed state: edits by hand are undone.
		aggregated := 0
		for _, u := range ofKind(rendered, "rbac.authorization.k8s.io", "ClusterRole") {
			if !hasAggregationLabel(u) {
				continue
			}
			aggregated++
			var role rbacv1.ClusterRole
			into(u, &role)
			for _, r := range role.Rules {
				writes := slices.ContainsFunc(r.Verbs, func(v string) bool { return slices.Contains(writeVerbs, v) })
				for _, resource := range r.Resources {
					if resource == "syncrepotasks" || strings.HasSuffix(resource, "/status") {
						Expect(writes).To(BeFalse(), "%s: %+v", u.GetName(), r)
					}
				}
			}
		}
		Expect(aggregated).To(Equal(5), "the editor and viewer roles for users")
	})

	It("lets a bound scraper read /metrics and nothing else", func() {
		var role rbacv1.ClusterRole
		into(named(rendered, "rbac.authorization.k8s.io", "ClusterRole", "swr-sync-operator-metrics-reader"), &role)
		Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}))
	})
})

// hasAggregationLabel reports whether u is aggregated into one of the built-in user roles.
func hasAggregationLabel(u *unstructured.Unstructured) bool {
	for k, v := range u.GetLabels() {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") && v == "true" {
			return true
		}
	}
	return false
}
