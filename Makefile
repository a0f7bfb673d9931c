# swr-sync-operator Makefile, in the shape kubebuilder users expect.

# Image URL to use all building/pushing image targets.
IMG ?= swr-sync-operator:dev

# Tool versions, pinned: a fresh clone builds the same generated code.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
# v5.8.2 is the newest kustomize that builds with Go 1.26; test/install renders config/ with its
# library (sigs.k8s.io/kustomize/api v0.21.2), so both agree on the output.
KUSTOMIZE_VERSION ?= v5.8.2
ENVTEST_K8S_VERSION ?= 1.37.2
# v4.3.2 builds with Go 1.26 and the k8s.io v0.37.2 libraries of go.mod; test/helm renders,
# lints and installs dist/chart with its SDK (helm.sh/helm/v4), so both agree on the output.
HELM_VERSION ?= v4.3.2
# v2.15.0 is the newest golangci-lint; it builds with Go 1.26. `make lint` runs it with .golangci.yml.
GOLANGCI_LINT_VERSION ?= v2.15.0
# sigs.k8s.io/kube-api-linter has no releases: this is a pseudo-version (its newest commit on the
# module proxy). Its golangci-lint-kube-api-linter command is golangci-lint (v2.5.0 at this
# version, set by its go.mod) with the Kube API Linter built in as a module plugin, what
# `golangci-lint custom` would build from a .custom-gcl.yml; `custom` is not used because it
# clones golangci-lint from github.com with git, where `go install` needs only the module proxy.
# `make lint` runs it on api/ with .golangci-kal.yml.
KUBE_API_LINTER_VERSION ?= v0.0.0-20260716143926-092fe0c72997

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KUBE_API_LINTER ?= $(LOCALBIN)/golangci-lint-kube-api-linter-$(KUBE_API_LINTER_VERSION)
KUBECTL ?= kubectl
# CONTAINER_TOOL builds and pushes the image: docker, or podman.
CONTAINER_TOOL ?= docker
GO_TEST_FLAGS ?= -race

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the manager's ClusterRole.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: helm
helm: manifests ## Regenerate dist/chart's CRDs and RBAC rules from config/ (hack/helmgen).
	go run ./hack/helmgen

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

# LINT_PKGS limits golangci-lint to some packages, e.g. LINT_PKGS='./controllers/... ./internal/swr/...';
# LINT_FLAGS passes flags to both linters, e.g. LINT_FLAGS='--fix' (what lint-fix does).
LINT_PKGS ?= ./...
LINT_FLAGS ?=

.PHONY: lint
lint: golangci-lint kube-api-linter ## Run golangci-lint on LINT_PKGS (default ./...) and the Kube API Linter on api/.
	$(KUBE_API_LINTER) run --config .golangci-kal.yml $(LINT_FLAGS) ./api/...
	$(GOLANGCI_LINT) run $(LINT_FLAGS) $(LINT_PKGS)

.PHONY: lint-fix
lint-fix: ## Run lint, applying the fixes the linters suggest (review them with git diff).
	$(MAKE) lint LINT_FLAGS='$(LINT_FLAGS) --fix'

.PHONY: verify
verify: manifests generate helm ## Fail if generated code, the chart, go.mod or formatting is not current.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go mod tidy
	@git diff --exit-code -- api config dist go.mod go.sum || { echo "generated files or go.mod are stale: run 'make manifests generate helm' and 'go mod tidy', then commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config dist)" || { echo "untracked generated files:"; git status --porcelain -- api config dist; exit 1; }

.PHONY: envtest
envtest: ## Build (once) the kube-apiserver and etcd that the tests and the demo run.
	@KUBERNETES_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh >/dev/null

.PHONY: test
test: manifests generate vet envtest ## Run all tests on a real control plane (envtest).
	KUBEBUILDER_ASSETS="$$(KUBERNETES_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh --print)" \
		go test $(GO_TEST_FLAGS) ./... -coverprofile cover.out

FUZZTIME ?= 5s

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 5s) on top of its committed corpus.
	@for target in FuzzValidateNames FuzzDecodeSyncRepos FuzzDecodeSyncJobs FuzzDecodeRepositories FuzzParseErrorBody; do \
		echo "go test -fuzz $$target -fuzztime $(FUZZTIME) ./internal/swr"; \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./internal/swr || exit 1; \
	done

.PHONY: demo
demo: envtest ## Run the operator on a local control plane against the built-in SWR simulator.
	KUBEBUILDER_ASSETS="$$(KUBERNETES_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh --print)" \
		bash -c 'go build -o $(LOCALBIN)/demo ./hack/demo && exec $(LOCALBIN)/demo'

# BENCH_FLAGS passes flags to the benchmark, e.g. BENCH_FLAGS='-sizes 200x50 -interval 90s'.
BENCH_FLAGS ?=

.PHONY: bench
bench: envtest ## Benchmark the idle manager, ImageOrganization discovery (1,000 repositories), then the cold mirror, steady state and a restart (1000x5 and 200x50, main.go's default flags with the SWR limit off) against a bare-client baseline making the same writes (three pairs, alternately) and a watched one; prints one table with a verdict per target (over half an hour on 2 cores).
	KUBEBUILDER_ASSETS="$$(KUBERNETES_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh --print)" \
		bash -c 'go build -o $(LOCALBIN)/bench ./hack/bench && exec $(LOCALBIN)/bench $(BENCH_FLAGS)'

##@ Build

.PHONY: build
build: generate ## Build the manager binary.
	go build -o bin/manager .

.PHONY: run
run: ## Run the manager from your host against the cluster in your kubeconfig.
	go run . --leader-elect=false

.PHONY: docker-build
docker-build: ## Build the manager's container image IMG.
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager's container image IMG.
	$(CONTAINER_TOOL) push $(IMG)

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster in your kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs (and with them every ImageRepository and SyncRepoTask).
	$(KUBECTL) delete --ignore-not-found -k config/crd

# deploy records IMG in config/manager/kustomization.yaml, as kubebuilder projects do: a
# non-default IMG shows up in git diff there.
.PHONY: deploy
deploy: manifests kustomize ## Install the CRDs, RBAC and the manager Deployment (config/default) running IMG into the cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove everything deploy installed.
	$(KUBECTL) delete --ignore-not-found -k config/default

##@ Tools

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into ./bin.
$(KUSTOMIZE):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	@mv $(LOCALBIN)/kustomize $(KUSTOMIZE)

.PHONY: helm-cli
helm-cli: $(HELM) ## Install helm (HELM_VERSION) into ./bin, to install dist/chart by hand.
$(HELM):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	@mv $(LOCALBIN)/helm $(HELM)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into ./bin.
$(GOLANGCI_LINT):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@mv $(LOCALBIN)/golangci-lint $(GOLANGCI_LINT)

.PHONY: kube-api-linter
kube-api-linter: $(KUBE_API_LINTER) ## Install golangci-lint with the Kube API Linter built in into ./bin.
$(KUBE_API_LINTER):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter@$(KUBE_API_LINTER_VERSION)
	@mv $(LOCALBIN)/golangci-lint-kube-api-linter $(KUBE_API_LINTER)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into ./bin.
$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	@mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
