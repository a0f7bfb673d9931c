package controllers_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// createSecret creates a Secret with the given string data in namespace.
func createSecret(ctx context.Context, namespace, name string, data map[string]string) *corev1.Secret {
	rememberSecretValues(data)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, StringData: data}
	Expect(k8sClient.Create(ctx, secret)).To(Succeed())
	return secret
}

// updateSecret replaces the data of a Secret, as a person rotating credentials does.
func updateSecret(ctx context.Context, secret *corev1.Secret, data map[string]string) {
	rememberSecretValues(data)
	current := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), current)).To(Succeed())
	current.Data = nil
	current.StringData = data
	Expect(k8sClient.Update(ctx, current)).To(Succeed())
}

// lastAuthKind returns how the last request for organization authenticated.
func lastAuthKind(organization string) string {
	kind := ""
	for _, r := range swrServer.Requests() {
		if r.Organization == organization {
			kind = r.AuthKind
		}
	}
	return kind
}

var _ = Describe("Credential kinds", func() {
	var (
		ctx context.Context
		ns  string
		org string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		org = uniqueName("org")
		swrServer.SetPolicies(org, "app", policy(org, "app", 1, "cn-north-4"))
	})

	passwordSecret := func(user, password string) map[string]string {
		return map[string]string{
			"username":    user,
			"password":    password,
			"domainName":  "acme-domain",
			"projectName": "ap-southeast-1",
			"iamEndpoint": swrServer.URL(),
		}
	}

	It("exchanges an IAM password for one token shared by every repository using it", func() {
		user := uniqueName("user")
		swrServer.AddIAMUser("acme-domain", user, "pa55-"+user)
		createSecret(ctx, ns, "iam", passwordSecret(user, "pa55-"+user))
		iamBefore := swrServer.IAMRequestCount()

		var repos []*swrv1.ImageRepository
		for range 6 {
			repo := newImageRepository(ns, org, "app")
			repo.Spec.SecretRef.Name = "iam"
			Expect(k8sClient.Create(ctx, repo)).To(Succeed())
			repos = append(repos, repo)
		}
		for _, repo := range repos {
			waitReady(ctx, repo, 1)
		}
		Expect(swrServer.IAMRequestCount()-iamBefore).To(Equal(1), "one token request for six repositories")
		Expect(lastAuthKind(org)).To(Equal("iam-token"))

		By("SWR refusing the token (revoked): one refresh, then success")
		swrServer.RevokeIssuedTokens()
		pollAndWait(ctx, repos[0])
		waitReady(ctx, repos[0], 1)
		Expect(swrServer.IAMRequestCount() - iamBefore).To(Equal(2))

		By("SWR refusing every token: one refresh, then AuthenticationFailed")
		swrServer.SetFault(org, "app", swrtest.Fault{Status: http.StatusUnauthorized,
			Body: swrtest.NewErrorBody("SVCSTG.SWR.4010000", "token expired")})
		DeferCleanup(swrServer.ClearFault, org, "app")
		pollAndWait(ctx, repos[0])
		Expect(condition(ctx, repos[0], swrv1.ConditionReady)()).To(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed))
		Expect(swrServer.IAMRequestCount() - iamBefore).To(Equal(3))
	})

	It("names the IAM step when the password is wrong, and recovers after rotation without a restart", func() {
		user := uniqueName("user")
		swrServer.AddIAMUser("acme-domain", user, "new-pa55-"+user)
		secret := createSecret(ctx, ns, "iam", passwordSecret(user, "old-pa55-"+user))
		repo := newImageRepository(ns, org, "app")
		repo.Spec.SecretRef.Name = "iam"
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())

		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
			haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed),
			HaveField("Message", ContainSubstring("IAM")),
			HaveField("Message", Not(ContainSubstring("old-pa55")))))
		Expect(swrServer.RequestCount(org, "app")).To(BeZero(), "no SWR request without a token")

		updateSecret(ctx, secret, passwordSecret(user, "new-pa55-"+user))
		waitReady(ctx, repo, 1)
	})

	It("does not send a password IAM refused again before its backoff, whichever repository asks", func() {
		user := uniqueName("user")
		swrServer.AddIAMUser("acme-domain", user, "right-pa55-"+user)
		secret := createSecret(ctx, ns, "iam", passwordSecret(user, "wrong-pa55-"+user))
		iamBefore := swrServer.IAMRequestCount()
		var repos []*swrv1.ImageRepository
		for range 5 {
			repo := newImageRepository(ns, org, "app")
			repo.Spec.SecretRef.Name = "iam"
			// Each repository polls every 2 s: without the backoff, 5 IAM requests every 2 s.
			repo.Spec.Interval = &metav1.Duration{Duration: 2 * time.Second}
			Expect(k8sClient.Create(ctx, repo)).To(Succeed())
			repos = append(repos, repo)
		}
		for _, repo := range repos {
			Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
				haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed),
				HaveField("Message", MatchRegexp(`not asking IAM again with these credentials before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ unless the Secret changes`))))
		}
		// The backoff starts at the interval and doubles: requests at about 0, 2, 6 and 14 s.
		Consistently(func() int { return swrServer.IAMRequestCount() - iamBefore }, "8s").Should(BeNumerically("<=", 3))
		Expect(swrServer.RequestCount(org, "app")).To(BeZero(), "no SWR request without a token")

		By("a corrected Secret is tried at once, backoff or not")
		updateSecret(ctx, secret, passwordSecret(user, "right-pa55-"+user))
		for _, repo := range repos {
			waitReady(ctx, repo, 1)
		}
	})

	It("signs every request with an access key, and uses a rotated key at the next poll", func() {
		ak := "AK" + uniqueName("key")
		swrServer.AddAccessKey(ak, "sk-of-"+ak)
		secret := createSecret(ctx, ns, "aksk", map[string]string{"accessKey": ak, "secretKey": "sk-of-" + ak, "projectId": "0123456789abcdef"})
		repo := newImageRepository(ns, org, "app")
		repo.Spec.SecretRef.Name = "aksk"
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		waitReady(ctx, repo, 1)
		Expect(lastAuthKind(org)).To(Equal("aksk"))

		By("a Secret rotated to a key SWR does not know")
		updateSecret(ctx, secret, map[string]string{"accessKey": ak + "X", "secretKey": "sk-of-" + ak})
		Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(haveStatusReason(metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed))

		By("and back to a valid one")
		updateSecret(ctx, secret, map[string]string{"accessKey": ak, "secretKey": "sk-of-" + ak})
		waitReady(ctx, repo, 1)
	})

	DescribeTable("refuses a Secret that does not hold exactly one complete kind",
		func(data map[string]string, message string) {
			createSecret(ctx, ns, "bad", data)
			repo := newImageRepository(ns, org, "app")
			repo.Spec.SecretRef.Name = "bad"
			Expect(k8sClient.Create(ctx, repo)).To(Succeed())
			Eventually(condition(ctx, repo, swrv1.ConditionReady)).Should(And(
				haveStatusReason(metav1.ConditionFalse, swrv1.ReasonCredentialsInvalid),
				HaveField("Message", ContainSubstring(message)),
				HaveField("Message", Not(ContainSubstring("s3cr3t")))))
			Expect(condition(ctx, repo, swrv1.ConditionStalled)()).To(haveStatusReason(metav1.ConditionTrue, swrv1.ReasonCredentialsInvalid))
			Expect(swrServer.RequestCount(org, "app")).To(BeZero())
		},
		Entry("two kinds", map[string]string{"token": "s3cr3t", "accessKey": "AK", "secretKey": "s3cr3t"},
			`mixes credential kinds (keys: "accessKey", "secretKey", "token")`),
		Entry("none", map[string]string{"user": "s3cr3t"}, `holds no SWR credentials (keys: "user")`),
		Entry("an empty value", map[string]string{"accessKey": "AK", "secretKey": ""}, `key "secretKey" is empty`),
		Entry("an incomplete kind", map[string]string{"username": "u", "password": "s3cr3t"}, `no key "domainName"`),
	)
})
