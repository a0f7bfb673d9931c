#!/usr/bin/env bash
# setup-envtest.sh builds the control-plane binaries the tests need (kube-apiserver, etcd, and the
# kube-controller-manager whose garbage collector and quota controllers the in-cluster suite runs)
# from the Go module proxy and installs them where setup-envtest keeps its own downloads, so that any
# clone on this machine reuses them. It exists because the release download sites that
# setup-envtest uses are not reachable from our build machines.
#
# Usage: hack/setup-envtest.sh            install if missing, print the assets folder
#        hack/setup-envtest.sh --print    print the assets folder only
set -euo pipefail

KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.37.2}"
# k8s.io/api and friends are versioned v0.X.Y for Kubernetes 1.X.Y.
STAGING_VERSION="v0.${KUBERNETES_VERSION#1.}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
GOARCH="$(go env GOARCH)"
GOOS="$(go env GOOS)"
ASSETS_DIR="${KUBEBUILDER_ASSETS_DIR:-${HOME}/.local/share/kubebuilder-envtest/k8s/${KUBERNETES_VERSION}-${GOOS}-${GOARCH}}"

if [[ "${1:-}" == "--print" ]]; then
  echo "${ASSETS_DIR}"
  exit 0
fi

log() { echo "setup-envtest: $*" >&2; }

if [[ -x "${ASSETS_DIR}/kube-apiserver" && -x "${ASSETS_DIR}/kube-controller-manager" && -x "${ASSETS_DIR}/etcd" ]]; then
  echo "${ASSETS_DIR}"
  exit 0
fi

mkdir -p "${ASSETS_DIR}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# The wrappers below must not inherit a workspace or vendor settings from the caller.
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local

build_etcd() {
  local dir="${work}/etcd"
  mkdir -p "${dir}"
  cat > "${dir}/main.go" <<'GO'
// Command etcd runs the etcd server; built here because release binaries cannot be downloaded.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "${dir}" && go mod init envtest/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >/dev/null \
    && go mod tidy >/dev/null \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${ASSETS_DIR}/etcd.tmp" . \
    && mv "${ASSETS_DIR}/etcd.tmp" "${ASSETS_DIR}/etcd")
}

# build_kubernetes builds kube-apiserver and kube-controller-manager from one wrapper module, so
# the second shares the first's compiled packages (about 2 extra minutes instead of 4.5).
build_kubernetes() {
  local dir="${work}/kubernetes"
  mkdir -p "${dir}/kube-apiserver" "${dir}/kube-controller-manager"
  cat > "${dir}/kube-apiserver/main.go" <<'GO'
// Command kube-apiserver runs the Kubernetes API server; built here because release binaries
// cannot be downloaded.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
  cat > "${dir}/kube-controller-manager/main.go" <<'GO'
// Command kube-controller-manager runs the Kubernetes controllers (the in-cluster suite uses its
// garbage collector and resource quota controllers); built here because release binaries cannot
// be downloaded.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() { os.Exit(cli.Run(app.NewControllerManagerCommand())) }
GO
  local modfile
  modfile="$(go mod download -json "k8s.io/kubernetes@v${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module envtest/kubernetes"
    echo
    echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require k8s.io/kubernetes v${KUBERNETES_VERSION}"
    echo
    # k8s.io/kubernetes points every staging module at ./staging/...; point them at the
    # published modules of the same release instead.
    grep -E '=> \./staging/' "${modfile}" | awk -v v="${STAGING_VERSION}" '{print "replace " $1 " => " $1 " " v}'
  } > "${dir}/go.mod"
  local bin
  (cd "${dir}" && go mod tidy >/dev/null)
  for bin in "$@"; do
    (cd "${dir}" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${ASSETS_DIR}/${bin}.tmp" "./${bin}" \
      && mv "${ASSETS_DIR}/${bin}.tmp" "${ASSETS_DIR}/${bin}")
  done
}

if [[ ! -x "${ASSETS_DIR}/etcd" ]]; then
  log "building etcd ${ETCD_VERSION} (about 30 s)"
  build_etcd
fi
missing=()
for bin in kube-apiserver kube-controller-manager; do
  [[ -x "${ASSETS_DIR}/${bin}" ]] || missing+=("${bin}")
done
if (( ${#missing[@]} > 0 )); then
  log "building ${missing[*]} v${KUBERNETES_VERSION} (about 4.5 min, plus 2 for the second, on first run)"
  build_kubernetes "${missing[@]}"
fi
# envtest only needs kubectl for ControlPlane.KubeCtl(); reuse the machine's if it has one.
if [[ ! -e "${ASSETS_DIR}/kubectl" ]] && command -v kubectl >/dev/null 2>&1; then
  ln -s "$(command -v kubectl)" "${ASSETS_DIR}/kubectl"
fi
echo "${ASSETS_DIR}"
