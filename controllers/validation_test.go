package controllers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

var _ = Describe("The ImageRepository schema", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	DescribeTable("rejects bad specs at the apiserver with a message a person understands",
		func(mutate func(*swrv1.ImageRepository), message string) {
			repo := newImageRepository(ns, "org", "app")
			mutate(repo)
			err := k8sClient.Create(ctx, repo)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("organization starting with a digit", func(r *swrv1.ImageRepository) { r.Spec.Organization = "1a" },
			"organization must start with a lowercase letter"),
		Entry("organization ending with '_'", func(r *swrv1.ImageRepository) { r.Spec.Organization = "a_" },
			"organization must start with a lowercase letter"),
		Entry("organization with three underscores", func(r *swrv1.ImageRepository) { r.Spec.Organization = "a___b" },
			"never two separators in a row"),
		Entry("organization with adjacent separators", func(r *swrv1.ImageRepository) { r.Spec.Organization = "a_.b" },
			"never two separators in a row"),
		Entry("organization in upper case", func(r *swrv1.ImageRepository) { r.Spec.Organization = "Acme" },
			"organization must start with a lowercase letter"),
		Entry("organization over 64 characters", func(r *swrv1.ImageRepository) { r.Spec.Organization = strings.Repeat("a", 65) },
			"spec.organization: Too long"),
		Entry("empty organization", func(r *swrv1.ImageRepository) { r.Spec.Organization = "" },
			"spec.organization"),
		Entry("repository with '//'", func(r *swrv1.ImageRepository) { r.Spec.Repository = "a//b" },
			"repository must start and end with a lowercase letter or digit"),
		Entry("repository with '/-'", func(r *swrv1.ImageRepository) { r.Spec.Repository = "a/-b" },
			"never two separators in a row"),
		Entry("repository written with '$'", func(r *swrv1.ImageRepository) { r.Spec.Repository = "library$nginx" },
			"write '/' (not '$')"),
		Entry("repository ending with '/'", func(r *swrv1.ImageRepository) { r.Spec.Repository = "library/" },
			"repository must start and end"),
		Entry("repository over 128 characters", func(r *swrv1.ImageRepository) { r.Spec.Repository = strings.Repeat("a", 129) },
			"spec.repository: Too long"),
		Entry("neither region nor endpoint", func(r *swrv1.ImageRepository) { r.Spec.Endpoint = ""; r.Spec.Region = "" },
			"set spec.region (e.g. ap-southeast-1) or spec.endpoint"),
		Entry("an endpoint that is not a URL", func(r *swrv1.ImageRepository) { r.Spec.Endpoint = "swr.example.com" },
			"endpoint must be an absolute URL starting with https://"),
		Entry("a region with spaces", func(r *swrv1.ImageRepository) { r.Spec.Endpoint = ""; r.Spec.Region = "ap southeast" },
			"spec.region"),
		Entry("a zero interval", func(r *swrv1.ImageRepository) { r.Spec.Interval = &metav1.Duration{} },
			"interval must be at least 1s"),
		Entry("a zero timeout", func(r *swrv1.ImageRepository) { r.Spec.Timeout = &metav1.Duration{} },
			"timeout must be greater than zero"),
		Entry("no secretRef name", func(r *swrv1.ImageRepository) { r.Spec.SecretRef.Name = "" },
			"spec.secretRef.name"),
	)

	It("accepts the longest valid names and the edge cases of the name rules", func() {
		for _, names := range [][2]string{
			{strings.Repeat("a", 64), strings.Repeat("b", 128)},
			{"a__b", "9a/b__c"},
			{"a-1", "a_b-c.d"},
			{"a", "library/nginx"},
		} {
			repo := newImageRepository(ns, names[0], names[1])
			Expect(k8sClient.Create(ctx, repo)).To(Succeed(), "organization %q, repository %q", names[0], names[1])
		}
	})

	It("defaults interval and timeout", func() {
		repo := newImageRepository(ns, "org", "app")
		repo.Spec.Interval = nil
		Expect(k8sClient.Create(ctx, repo)).To(Succeed())
		Expect(fetch(ctx, repo).Spec.Interval.Duration).To(Equal(swrv1.DefaultInterval))
		Expect(fetch(ctx, repo).Spec.Timeout.Duration).To(Equal(swrv1.DefaultTimeout))
	})

	It("uses the same name rules as the SWR client", func() {
		crd, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", "swr.imagesync.io_imagerepositories.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(crd)).To(ContainSubstring("self.matches('" + swr.OrganizationPattern + "')"))
		Expect(string(crd)).To(ContainSubstring("self.matches('" + swr.RepositoryPattern + "')"))
	})
})
