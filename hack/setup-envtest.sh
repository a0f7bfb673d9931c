#!/usr/bin/env bash
# setup-envtest.sh builds the control-plane binaries envtest needs (kube-apiserver and etcd) from
# the Go module proxy and installs them where setup-envtest keeps its own downloads, so that any
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

if [[ -x "${ASSETS_DIR}/kube-apiserver" && -x "${ASSETS_DIR}/etcd" ]]; then
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

build_kube_apiserver() {
  local dir="${work}/kube-apiserver"
  mkdir -p "${dir}"
  cat > "${dir}/main.go" <<'GO'
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
  local modfile
  modfile="$(go mod download -json "k8s.io/kubernetes@v${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module envtest/kube-apiserver"
    echo
    echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require k8s.io/kubernetes v${KUBERNETES_VERSION}"
    echo
    # k8s.io/kubernetes points every staging module at ./staging/...; point them at the
    # published modules of the same release instead.
    grep -E '=> \./staging/' "${modfile}" | awk -v v="${STAGING_VERSION}" '{print "replace " $1 " => " $1 " " v}'
  } > "${dir}/go.mod"
  (cd "${dir}" && go mod tidy >/dev/null \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${ASSETS_DIR}/kube-apiserver.tmp" . \
    && mv "${ASSETS_DIR}/kube-apiserver.tmp" "${ASSETS_DIR}/kube-apiserver")
}

if [[ ! -x "${ASSETS_DIR}/etcd" ]]; then
  log "building etcd ${ETCD_VERSION} (about 30 s)"
  build_etcd
fi
if [[ ! -x "${ASSETS_DIR}/kube-apiserver" ]]; then
  log "building kube-apiserver v${KUBERNETES_VERSION} (several minutes on first run)"
  build_kube_apiserver
fi
# envtest only needs kubectl for ControlPlane.KubeCtl(); reuse the machine's if it has one.
if [[ ! -e "${ASSETS_DIR}/kubectl" ]] && command -v kubectl >/dev/null 2>&1; then
  ln -s "$(command -v kubectl)" "${ASSETS_DIR}/kubectl"
fi
echo "${ASSETS_DIR}"
