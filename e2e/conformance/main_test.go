// Package conformance proves that Argo Rollouts' own traffic-router plugin client (argo-rollouts
// v1.9.1 with go.mod, v1.10.2 with go.argo110.mod; go-plugin net/rpc) talks to Weighbridge correctly: every call goes from Argo's client
// through the real connector binary to the real Java plugin-server, whose domain is a recording
// router (io.weighbridge.e2e.RecordingTrafficRouter). The tests compare what Argo sent with what Java
// recorded, and what Java answered with what Argo got back.
//
// Run with `make conformance` (both Argo releases, one after the other); it sets WEIGHBRIDGE_CONNECTOR, WEIGHBRIDGE_JAVA and WEIGHBRIDGE_ROOT.
// A missing binary or classpath fails the run: these tests never skip.
package conformance

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// defaultCallTimeout is the connector's --call-timeout for tests that do not test deadlines: long
// enough for a cold JVM's first calls on a loaded machine.
const defaultCallTimeout = 30 * time.Second

var (
	env    harness.Env
	logDir string

	sharedOnce   sync.Once
	sharedServer *harness.Server
	sharedErr    error
)

func TestMain(m *testing.M) {
	var err error
	env, err = harness.LoadEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	logDir, err = os.MkdirTemp("", "weighbridge-conformance-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: create a log directory: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "conformance: Argo Rollouts plugin client %s; plugin-server and connector logs in %s\n",
		argoVersion(), logDir)
	code := m.Run()
	if sharedServer != nil {
		if err := sharedServer.Stop(10 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		}
	}
	if code == 0 {
		os.RemoveAll(logDir)
	}
	os.Exit(code)
}

// argoVersion is the argo-rollouts module these tests were built with (go.mod: v1.9.1, go.argo110.mod: v1.10.2).
func argoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/argoproj/argo-rollouts" {
				return dep.Version
			}
		}
	}
	return "(unknown version)"
}

// shared is the plugin-server most tests use (each with Rollouts of its own namespace). It is
// started at first use and stopped after all tests.
func shared(t *testing.T) *harness.Server {
	t.Helper()
	sharedOnce.Do(func() {
		sharedServer, sharedErr = harness.StartServer(env, harness.ServerOptions{Dir: logDir})
	})
	if sharedErr != nil {
		t.Fatalf("start plugin-server: %v", sharedErr)
	}
	if err := sharedServer.Reset(context.Background()); err != nil {
		t.Fatalf("reset the recording: %v\nplugin-server log:\n%s", err, sharedServer.LogTail(4000))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin-server log (%s), last lines:\n%s", sharedServer.LogPath, sharedServer.LogTail(6000))
		}
	})
	return sharedServer
}

// connectorArgs are the arguments Argo passes from its trafficRouterPlugins entry (`args:`).
func connectorArgs(grpcPort int, callTimeout time.Duration) []string {
	return []string{
		"--server=127.0.0.1:" + strconv.Itoa(grpcPort),
		"--plugin-name=" + fixture.PluginName,
		"--call-timeout=" + callTimeout.String(),
	}
}

// startPlugin starts the connector through Argo's plugin client against the given gRPC port, and
// kills it when the test ends.
func startPlugin(t *testing.T, grpcPort int, callTimeout time.Duration) *harness.ArgoPlugin {
	t.Helper()
	// A freshly started plugin-server may take longer than a short call timeout to answer its very first
	// call on a loaded machine (a cold JVM). Argo then starts the plugin again on its next reconcile; so do
	// we, twice at most: a server that never answers in time still fails the test.
	for attempt := 1; ; attempt++ {
		p, err := harness.StartArgoPlugin(env.Connector, connectorArgs(grpcPort, callTimeout)...)
		if p != nil {
			t.Cleanup(p.Client.Kill)
		}
		if err == nil {
			return p
		}
		if attempt == 3 || !strings.Contains(err.Error(), "did not answer InitPlugin") {
			t.Fatalf("start the connector the way Argo does (attempt %d): %v", attempt, err)
		}
		t.Logf("start the connector the way Argo does (attempt %d): %v; Argo would start it again on its next reconcile", attempt, err)
		if p != nil {
			p.Client.Kill()
		}
	}
}
