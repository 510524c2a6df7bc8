//go:build e2e

package rollouts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/sampleapp"
)

// (c) A bad canary at 1%: real traffic goes through Traefik to the pods by the live weights, the canary's pods
// fail half their requests, Prometheus scrapes Traefik's real metrics (and the simulated, healthy Linkerd
// side), and Weighbridge's analyzer aborts the Rollout from Traefik's numbers; Argo sets the weights back to 0
// and reports the Rollout Degraded. Time-to-revert is measured from the moment every route first sent 1% to
// the canary.
//
// It needs the canary analyzer (issue #4): with a plugin-server without one it skips and says so.
func TestBadCanaryRevertedByAnalyzer(t *testing.T) {
	a := newAnalyzedApp(t, "c", false)
	// 5 requests/s reach the canary at 1%.
	a.serve(500, meshRate)
	must(t, "release", func() error { return a.ReleaseFailing(context.Background(), "v2-bad", 0.5) })
	// The analyzer may act before Argo reaches the pause (Argo re-verifies the 1% after 10 s), so the test
	// waits for the weights only; when every route first carried 1% is read from the timeline.
	a.awaitWeights(t, 1, 100, stepTimeout)
	a.tl.Note("every route at canary=1%%: the analyzer has a bad canary to find")
	revert, err := a.AwaitRevert(context.Background(), 1, time.Time{}, 2*time.Minute)
	must(t, "revert", func() error { return err })
	counts := a.Traffic.Counts()
	served, failed := counts.Served["v2-bad"], counts.Failed["v2-bad"]
	t.Logf("time-to-revert: routes at 0%% after %v, Argo Degraded after %v; the canary's pods answered %d requests "+
		"through Traefik, %d failed", revert.RoutesReverted.Round(time.Millisecond), revert.ArgoDegraded.Round(time.Millisecond), served, failed)
	// The simulated east/west side is healthy: only Traefik's real metrics can have shown the bad version.
	verdict, ok := kube.Analysis(a.ns, rollout)
	t.Logf("analyzer: %s: %s", verdict.Phase, verdict.Verdict.Reason)
	if !ok || !strings.Contains(verdict.Verdict.Reason, "success-rate/traefik") {
		t.Fatalf("the analyzer's verdict %+v does not name success-rate/traefik: the revert must come from Traefik's metrics", verdict)
	}
}

// (c2) A canary that is healthy over HTTP but fails half its gRPC calls with UNAVAILABLE, behind a north/south
// GRPCRoute on the same Traefik Gateway: real gRPC calls (h2c) go through Traefik, which counts them with
// protocol="grpc" and the gRPC status in code (the HTTP status stays 200). The analyzer must find the bad version
// from those codes alone and abort it.
func TestBadGRPCCanaryRevertedByAnalyzer(t *testing.T) {
	a := newAnalyzedApp(t, "c2", true)
	// HTTP stays healthy for both versions; 5 gRPC calls/s reach the canary at 1%.
	a.serve(200, meshRate)
	must(t, "gRPC traffic", func() error { return a.ServeGRPC(500) })
	must(t, "release", func() error { return a.ReleaseFailingGRPC(context.Background(), "v2-bad-grpc", 0.5) })
	a.awaitWeights(t, 1, 100, stepTimeout)
	a.tl.Note("every route at canary=1%%: the analyzer has a bad gRPC canary to find")
	revert, err := a.AwaitRevert(context.Background(), 1, time.Time{}, 2*time.Minute)
	must(t, "revert", func() error { return err })
	grpcCounts, httpCounts := a.GRPCTraffic.Counts(), a.Traffic.Counts()
	t.Logf("time-to-revert: routes at 0%% after %v, Argo Degraded after %v; through Traefik the canary's pods "+
		"answered %d gRPC calls (%d failed) and %d HTTP requests (%d failed)",
		revert.RoutesReverted.Round(time.Millisecond), revert.ArgoDegraded.Round(time.Millisecond),
		grpcCounts.Served["v2-bad-grpc"], grpcCounts.Failed["v2-bad-grpc"],
		httpCounts.Served["v2-bad-grpc"], httpCounts.Failed["v2-bad-grpc"])
	if httpCounts.Failed["v2-bad-grpc"] != 0 || grpcCounts.Failed["v2-bad-grpc"] == 0 {
		t.Fatalf("the scenario did not run as meant: the canary must fail gRPC calls only (HTTP %s; gRPC %s)", httpCounts, grpcCounts)
	}
	verdict, ok := kube.Analysis(a.ns, rollout)
	t.Logf("analyzer: %s: %s", verdict.Phase, verdict.Verdict.Reason)
	if !ok || !strings.Contains(verdict.Verdict.Reason, "success-rate/traefik") {
		t.Fatalf("the analyzer's verdict %+v does not name success-rate/traefik: the revert must come from Traefik's gRPC codes", verdict)
	}
}

// newAnalyzedApp installs the app of scenario (scenario) with the analyzer on (ErrorRateAnalysis) and steps 1%,
// pause, 100%, with the north/south GRPCRoute when gatewayGRPC; it skips when plugin-server has no analyzer.
func newAnalyzedApp(t *testing.T, scenario string, gatewayGRPC bool) *app {
	t.Helper()
	if kube.NoAnalyzer != "" {
		t.Skipf("scenario (%s) not run: %s", scenario, kube.NoAnalyzer)
	}
	return newApp(t, "scenario-"+scenario, appOptions{
		Steps:       []v1alpha1.CanaryStep{setWeight(1), pause(""), setWeight(100)},
		Analysis:    sampleapp.ErrorRateAnalysis(),
		GatewayGRPC: gatewayGRPC,
	})
}
