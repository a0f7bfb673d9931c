// Package devenv holds what the developer programs under hack/ (the demo and the benchmark)
// share to find the repository and the local control plane's binaries, to run the manager beside
// them (manager.go), and to run until a signal and exit (program.go). Its subpackages serve
// them and the test suites alike: controlplane starts envtest and writes kubeconfigs, process
// runs the manager and other binaries beside it, manifests renders the kustomizations.
// Production code does not import any of them.
package devenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is this repository's Go module.
const ModulePath = "github.com/imagesync/swr-sync-operator"

// FindModuleRoot returns the closest folder at or above dir whose go.mod declares ModulePath.
// makeTarget ("demo", "bench") names the command that fixes a failure, for the message.
func FindModuleRoot(dir, makeTarget string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		switch {
		case err == nil && declaredModule(data) == ModulePath:
			return d, nil
		case err == nil:
			// The closest go.mod belongs to another module: we are not inside this repository.
			return "", fmt.Errorf("%s is not inside the %s repository: run `make %s` from its root", dir, ModulePath, makeTarget)
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("reading %s: %w", filepath.Join(d, "go.mod"), err)
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s: run `make %s` from the %s repository root", dir, makeTarget, ModulePath)
		}
	}
}

// declaredModule returns the module path a go.mod declares, or "". A line scan is enough for
// the one directive needed and avoids a dependency on golang.org/x/mod.
func declaredModule(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// CheckControlPlaneAssets fails early, with the fix, when envtest would not find its binaries.
func CheckControlPlaneAssets(makeTarget string) error {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set: run `make %s`, which builds the control plane first", makeTarget)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return fmt.Errorf("KUBEBUILDER_ASSETS=%s has no %s: run `make %s`, which builds the control plane first", dir, bin, makeTarget)
		}
	}
	return nil
}
