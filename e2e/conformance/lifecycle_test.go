package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// shortCallTimeout is the connector's --call-timeout in the tests of failures.
const shortCallTimeout = 2 * time.Second

// hangBound is how long a call may take, beyond the call timeout, before the test calls it hung.
// It is a watchdog, not a performance assertion: a bounded call ends far sooner.
const hangBound = shortCallTimeout + 10*time.Second

// everyCall calls every method of Argo's client once and returns each one's error text; Type, which
// has no error, reports its answer.
func everyCall(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) map[string]string {
	out := map[string]string{}
	out["InitPlugin"] = p.Router.InitPlugin().ErrorString
	for _, m := range rolloutMethods {
		out[m.java] = m.call(p, ro).ErrorString
	}
	out["Type"] = "answered " + p.Router.Type()
	return out
}

// withinBound runs f and fails the test if it does not return within bound (i.e. it hangs).
func withinBound[T any](t *testing.T, what string, bound time.Duration, f func() T) (T, time.Duration) {
	t.Helper()
	done := make(chan T, 1)
	start := time.Now()
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v, time.Since(start)
	case <-time.After(bound):
		t.Fatalf("%s did not return within %s: a call hangs", what, bound)
		panic("unreachable")
	}
}

// TestPluginServerDownAndRestarted kills plugin-server under a running connector, checks every call
// fails with a clear error instead of hanging, starts a new plugin-server process on the same port, and
// checks calls succeed again through the same connector process.
func TestPluginServerDownAndRestarted(t *testing.T) {
	ctx := context.Background()
	first, err := harness.StartServer(env, harness.ServerOptions{Dir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Kill)
	p := startPlugin(t, first.GRPCPort, shortCallTimeout)
	pid := p.Pid()
	ro := fixture.Rollout(fixture.Options{Namespace: "conformance-lifecycle", Name: "checkout"})
	assertNoError(t, "SetWeight before the outage", p.Router.SetWeight(ro, 10, nil))

	first.Kill()
	address := first.GRPCAddress()
	results, took := withinBound(t, "the calls while plugin-server is down", 8*hangBound, func() map[string]string { return everyCall(p, ro) })
	t.Logf("all calls with plugin-server down took %s", took)
	for method, text := range results {
		if method == "Type" {
			if text == "answered " {
				t.Errorf("Type answered nothing while plugin-server is down")
			}
			continue
		}
		if text == "" {
			t.Errorf("%s succeeded although plugin-server is down", method)
		} else if !strings.Contains(text, address) {
			t.Errorf("%s error %q does not name the plugin-server address %s", method, text, address)
		}
		t.Logf("%s while down: %s", method, text)
	}
	if err := p.Protocol.Ping(); err != nil {
		t.Errorf("the connector does not answer Argo's ping while plugin-server is down (%v): Argo would kill and restart it every reconcile", err)
	}

	second := restartOnPort(t, first.GRPCPort)
	t.Cleanup(func() { _ = second.Stop(10 * time.Second) })
	recoverStart := time.Now()
	var last types.RpcError
	for deadline := time.Now().Add(30 * time.Second); ; {
		last, _ = withinBound(t, "SetWeight after the restart", hangBound, func() types.RpcError { return p.Router.SetWeight(ro, 20, nil) })
		if !last.HasError() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still fail 30 s after plugin-server came back on the same port: %s", last)
		}
		time.Sleep(100 * time.Millisecond) // polling interval while waiting for the reconnect
	}
	t.Logf("first successful call %s after the new plugin-server was ready", time.Since(recoverStart).Round(time.Millisecond))

	for method, text := range everyCall(p, ro) {
		if method != "Type" && text != "" {
			t.Errorf("%s fails after the restart: %s", method, text)
		}
	}
	if p.Pid() != pid || p.Client.Exited() {
		t.Errorf("the connector process changed or exited; it must survive a plugin-server restart")
	}
	calls, err := second.Calls(ctx, "", ro.Namespace+"/"+ro.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 7 {
		t.Errorf("the new plugin-server recorded %d calls for the Rollout, want at least 7", len(calls))
	}
}

// restartOnPort starts a new plugin-server on port, retrying while the old socket is still being
// released by the kernel.
func restartOnPort(t *testing.T, port int) *harness.Server {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 1; ; attempt++ {
		s, err := harness.StartServer(env, harness.ServerOptions{Dir: logDir, GRPCPort: port})
		if err == nil {
			if attempt > 1 {
				t.Logf("plugin-server bound port %d at attempt %d", port, attempt)
			}
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot start plugin-server again on port %d: %v", port, err)
		}
		t.Logf("attempt %d to start plugin-server on port %d failed, retrying: %.300s", attempt, port, err)
	}
}

// TestConnectorStartsWithPluginServerDown starts the connector while nothing listens on its server
// address: InitPlugin must fail clearly and in bounded time.
func TestConnectorStartsWithPluginServerDown(t *testing.T) {
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	type started struct {
		p   *harness.ArgoPlugin
		err error
	}
	res, took := withinBound(t, "starting the connector with plugin-server down", hangBound, func() started {
		p, err := harness.StartArgoPlugin(env.Connector, connectorArgs(port, shortCallTimeout)...)
		return started{p, err}
	})
	if res.p != nil {
		t.Cleanup(res.p.Client.Kill)
	}
	t.Logf("start failed after %s: %v", took, res.err)
	if res.err == nil || !strings.Contains(res.err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("start error = %v, want an InitPlugin failure naming 127.0.0.1:%d", res.err, port)
	}
}

// TestSlowPluginServerHitsCallTimeout makes Java take far longer than the connector's call timeout:
// Argo's call must come back with an error, not block its worker. plugin-server bounds the call by
// the connector's gRPC deadline less a margin, so the reason Argo gets is plugin-server's own (the
// work did not finish within that bound), not a bare deadline from the connector.
func TestSlowPluginServerHitsCallTimeout(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, shortCallTimeout)
	ro := fixture.Rollout(fixture.Options{Namespace: "conformance-slow", Name: "checkout",
		Annotations: map[string]string{annDelay + "setWeight": "8000"}})

	e, took := withinBound(t, "SetWeight against a slow plugin-server", hangBound, func() types.RpcError { return p.Router.SetWeight(ro, 30, nil) })
	t.Logf("SetWeight came back after %s: %s", took.Round(time.Millisecond), e)
	if !e.HasError() || !strings.Contains(e.ErrorString, "did not finish within") ||
		!strings.Contains(e.ErrorString, "the call's deadline") {
		t.Errorf("SetWeight = %q, want plugin-server's own answer that it did not finish within the call's deadline", e)
	}
	// The connector still serves other Rollouts.
	other := fixture.Rollout(fixture.Options{Namespace: "conformance-slow", Name: "other"})
	assertNoError(t, "SetWeight for another Rollout", p.Router.SetWeight(other, 30, nil))
}

// TestKillStopsConnector checks that go-plugin's Kill, which Argo uses after a failed ping, ends the
// connector gracefully: it exits by itself on Control.Quit, before go-plugin's 2 s grace period
// would make it SIGKILL the process.
func TestKillStopsConnector(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	pid := p.Pid()
	if !harness.Alive(pid) {
		t.Fatalf("connector process %d is not running after start", pid)
	}
	_, took := withinBound(t, "Kill", 10*time.Second, func() struct{} { p.Client.Kill(); return struct{}{} })
	t.Logf("Kill returned after %s", took.Round(time.Millisecond))
	if harness.Alive(pid) {
		t.Errorf("connector process %d still exists after Kill returned", pid)
	}
	state := p.Cmd.ProcessState
	if state == nil {
		t.Fatalf("go-plugin did not wait for the connector process")
	}
	if !state.Exited() || state.ExitCode() != 0 {
		t.Errorf("connector ended with %s, want a clean exit 0 on Control.Quit (go-plugin sends SIGKILL only after 2 s without one)", state)
	}
}
