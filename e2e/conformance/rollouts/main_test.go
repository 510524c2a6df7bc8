//go:build e2e

// Package rollouts is the end-to-end suite: the real Argo Rollouts controller (v1.9.1; v1.10.2 with make
// e2e-argo110, which sets WEIGHBRIDGE_ROLLOUTS_CONTROLLER and builds with go.argo110.mod) drives canaries
// through the real plugin mechanism (argo-rollouts-config -> file:// download with sha256 -> go-plugin exec of
// the connector) into the real plugin-server jar, on a local control plane built from Go modules (etcd,
// kube-apiserver, kube-controller-manager, KWOK; see internal/cluster). Each scenario prints its timeline:
// Argo's steps and the weights observed on the routes, with timestamps.
//
// North/south traffic is real: Traefik v3.6.12 routes it to the pods by the weights Weighbridge writes, and
// writes the route status Weighbridge verifies; east/west (Linkerd) is simulated (internal/cluster).
//
// Run with `make e2e` (build tag e2e; it sets WEIGHBRIDGE_ROOT, WEIGHBRIDGE_JAVA, WEIGHBRIDGE_CONNECTOR,
// WEIGHBRIDGE_SERVER_JAR and WEIGHBRIDGE_TRAEFIK, and runs the test binary in a network namespace of its own
// through scripts/in-netns). Nothing here skips: a missing part fails the run with what to build.
package rollouts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/podserver"
)

var (
	kube    *cluster.Cluster
	workDir string
	started time.Time
)

func TestMain(m *testing.M) {
	podserver.MaybeRun() // the cluster re-executes this binary as its pod server
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := harness.LoadEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	jar := os.Getenv("WEIGHBRIDGE_SERVER_JAR")
	if jar == "" {
		jar = filepath.Join(env.Root, "plugin-server", "target", "weighbridge-plugin-server-0.1.0-SNAPSHOT.jar")
	}
	if _, err := os.Stat(jar); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: plugin-server jar %s: %v: build it with `make java` (or set WEIGHBRIDGE_SERVER_JAR)\n", jar, err)
		return 1
	}
	workDir, err = os.MkdirTemp("", "weighbridge-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: create a work directory: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: logs of every process in %s (kept when a test fails)\n", workDir)
	started = time.Now()
	kube, err = cluster.Start(context.Background(), cluster.Options{
		Root:      env.Root,
		Java:      env.Java,
		Classpath: env.Classpath,
		ServerJar: jar,
		Connector: env.Connector,
		Dir:       workDir,
		Bin:       os.Getenv("WEIGHBRIDGE_E2E_BIN"),
		// Another Argo release's controller (make e2e-argo110); empty: Bin's v1.9.1.
		RolloutsController: os.Getenv("WEIGHBRIDGE_ROLLOUTS_CONTROLLER"),
		Traefik:            os.Getenv("WEIGHBRIDGE_TRAEFIK"),
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start the cluster: %v\n(logs in %s)\n", err, workDir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: cluster ready in %v; argo-rollouts-config registers the connector at %s\n",
		time.Since(started).Round(time.Millisecond), kube.PluginLocation)
	if kube.NoAnalyzer != "" {
		fmt.Fprintf(os.Stderr, "e2e: %s\n", kube.NoAnalyzer)
	}
	code := m.Run()
	stopping := time.Now()
	kube.Stop()
	fmt.Fprintf(os.Stderr, "e2e: cluster stopped in %v; whole run %v\n", time.Since(stopping).Round(time.Millisecond),
		time.Since(started).Round(time.Millisecond))
	if code == 0 {
		os.RemoveAll(workDir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: logs kept in %s\n", workDir)
	}
	return code
}
