// Package kubetest starts a real Kubernetes control plane (kube-apiserver and etcd, built from
// their Go modules by hack/kubeenv/build.sh) for integration tests, through controller-runtime's
// envtest.
//
// The binaries are found through KUBEBUILDER_ASSETS (`make test` sets it). When it is unset the
// test is skipped, unless TRELLIS_REQUIRE_INTEGRATION=1 (CI sets it), in which case it fails: an
// integration test never passes by not running in CI.
package kubetest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RequireEnv is the environment variable that turns a missing integration component into a test
// failure instead of a skip.
const RequireEnv = "TRELLIS_REQUIRE_INTEGRATION"

// Required reports whether integration components must be present (CI).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// SkipOrFail skips the test with reason, or fails it when integration tests are required.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (required because %s=1)", reason, RequireEnv)
	}
	t.Skip(reason)
}

// Assets returns the directory holding kube-apiserver and etcd, or "" when not configured.
func Assets() string {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return ""
	}
	return dir
}

// Start starts kube-apiserver and etcd with the CRDs found in crdDirs installed (every *.yaml,
// *.yml and *.json file in them) and returns an admin rest.Config. The control plane is stopped
// when the test ends.
func Start(t testing.TB, crdDirs ...string) *rest.Config {
	t.Helper()
	assets := Assets()
	if assets == "" {
		SkipOrFail(t, "KUBEBUILDER_ASSETS is not set to a directory with kube-apiserver and etcd; run `make test` or `export KUBEBUILDER_ASSETS=$(hack/kubeenv/build.sh)`")
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        crdDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping kube-apiserver: %v", err)
		}
	})
	return cfg
}
