package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/imagesync/swr-sync-operator/internal/devenv"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

const (
	// demoNamespace is where the samples and their credentials are created.
	demoNamespace = "demo"
	// credentialsSecret is the token Secret the spec.secretRef of the grpc-helloworld and the
	// ImageOrganization samples name.
	credentialsSecret = "swr-credentials"
	// accessKeySecret is the AK/SK Secret the nginx sample's spec.secretRef names.
	accessKeySecret = "swr-access-key" //nolint:gosec // G101: the name of a Secret, not a credential
	// demoAccessKey and demoSecretKey are the access key pair the simulator accepts. They are
	// made up: the simulator runs in this process and nothing else knows them.
	demoAccessKey = "DEMOACCESSKEY0000001"
	demoSecretKey = "demo-secret-key-for-the-local-simulator"
	// demoUser is the kubeconfig user written for kubectl and the manager. system:masters makes
	// it a cluster admin, so the demo needs no RBAC setup.
	demoUser = "demo-admin"
)

// paths are the files and folders the demo uses, all absolute.
type paths struct {
	root       string // the repository root
	crds       string // config/crd/bases
	samples    string // config/samples
	work       string // .demo/, removed on exit
	kubeconfig string // .demo/kubeconfig
	managerBin string // .demo/manager
	managerLog string // .demo/manager.log
}

// rel returns path relative to the repository root, for messages; it falls back to path.
func (p paths) rel(path string) string {
	if r, err := filepath.Rel(p.root, path); err == nil {
		return r
	}
	return path
}

// resolvePaths finds the repository root from the working directory and checks that the CRDs
// are there. make runs the demo from the root, but looking upwards also lets it run from a
// subfolder.
func resolvePaths() (paths, error) {
	wd, err := os.Getwd()
	if err != nil {
		return paths{}, fmt.Errorf("reading the working directory: %w", err)
	}
	root, err := devenv.FindModuleRoot(wd, "demo")
	if err != nil {
		return paths{}, err
	}
	work := filepath.Join(root, ".demo")
	p := paths{
		root:       root,
		crds:       filepath.Join(root, "config", "crd", "bases"),
		samples:    filepath.Join(root, "config", "samples"),
		work:       work,
		kubeconfig: filepath.Join(work, "kubeconfig"),
		managerBin: filepath.Join(work, "manager"),
		managerLog: filepath.Join(work, "manager.log"),
	}
	crds, err := filepath.Glob(filepath.Join(p.crds, "*.yaml"))
	if err != nil || len(crds) == 0 {
		return paths{}, fmt.Errorf("no CRDs in %s: run `make manifests` to generate them, then `make demo`", p.rel(p.crds))
	}
	return p, nil
}

// prepareWorkDir creates an empty .demo/ and registers its removal. A .demo/ that already
// exists was left by a demo that was killed before it could clean up; nothing in it is reused.
func (d *demo) prepareWorkDir() error {
	if err := os.RemoveAll(d.paths.work); err != nil {
		return fmt.Errorf("removing the .demo/ left by an earlier run: %w", err)
	}
	if err := os.MkdirAll(d.paths.work, 0o700); err != nil {
		return fmt.Errorf("creating .demo/: %w", err)
	}
	d.cleanups.push("removing .demo/", func() error { return os.RemoveAll(d.paths.work) })
	return nil
}

// startControlPlane starts kube-apiserver and etcd with the CRDs installed, writes
// .demo/kubeconfig for them and creates the client the demo uses.
func (d *demo) startControlPlane() error {
	d.stepf("Starting a local control plane (kube-apiserver and etcd from KUBEBUILDER_ASSETS) with the CRDs of %s", d.paths.rel(d.paths.crds))
	env := controlplane.WithCRDs(d.paths.crds)
	// Registered before Start: Start can fail after launching the processes (e.g. while
	// installing the CRDs), and Stop is safe on processes that never started.
	d.cleanups.push("stopping the control plane", env.Stop)
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the local control plane: %w", err)
	}
	if err := controlplane.WriteAdminKubeconfig(env, demoUser, d.paths.kubeconfig); err != nil {
		return err
	}
	scheme, err := controlplane.NewScheme()
	if err != nil {
		return err
	}
	d.client, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("creating a client for the local control plane: %w", err)
	}
	fmt.Fprintf(d.out, "    API server %s, kubeconfig %s\n", cfg.Host, d.paths.rel(d.paths.kubeconfig))
	return nil
}

// createCredentials creates the demo namespace and the Secrets the samples read their SWR
// credentials from: one with the token the simulator accepts, one with its access key pair, so
// that the demo shows both a token and AK/SK request signing.
func (d *demo) createCredentials(ctx context.Context) error {
	d.stepf("Creating namespace %s and the Secrets %s (key token) and %s (keys accessKey, secretKey)",
		demoNamespace, credentialsSecret, accessKeySecret)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}
	if err := d.client.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", demoNamespace, err)
	}
	secrets := map[string]map[string]string{
		credentialsSecret: {"token": swrtest.DefaultToken},
		accessKeySecret:   {"accessKey": demoAccessKey, "secretKey": demoSecretKey},
	}
	for name, data := range secrets {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demoNamespace},
			StringData: data,
		}
		if err := d.client.Create(ctx, secret); err != nil {
			return fmt.Errorf("creating Secret %s/%s: %w", demoNamespace, name, err)
		}
	}
	return nil
}
