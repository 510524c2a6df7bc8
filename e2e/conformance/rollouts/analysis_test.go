//go:build e2e

package rollouts

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/sampleapp"
)

// (c) A bad canary at 1%: the data plane serves every route's traffic by its live weights, the canary fails
// half its requests, Prometheus scrapes the Traefik- and Linkerd-shaped series, and Weighbridge's analyzer
// aborts the Rollout; Argo sets the weights back to 0 and reports the Rollout Degraded. Time-to-revert is
// measured from the moment every route first sent 1% to the canary.
//
// It needs the canary analyzer (issue #4): with a plugin-server without one it skips and says so.
func TestBadCanaryRevertedByAnalyzer(t *testing.T) {
	if kube.NoAnalyzer != "" {
		t.Skipf("scenario (c) not run: %s", kube.NoAnalyzer)
	}
	a := newApp(t, "scenario-c", appOptions{
		Steps:    []v1alpha1.CanaryStep{setWeight(1), pause(""), setWeight(100)},
		Analysis: sampleapp.ErrorRateAnalysis(),
	})
	// 20 requests/s reach the canary at 1%.
	a.Serve(2000, cluster.Behaviour{ErrorRate: 0.001, MedianLatency: 20 * time.Millisecond},
		cluster.Behaviour{ErrorRate: 0.5, MedianLatency: 20 * time.Millisecond})

	a.release(t, "v2-bad")
	// The analyzer may act before Argo reaches the pause (Argo re-verifies the 1% after 10 s), so the test
	// waits for the weights only; when every route first carried 1% is read from the timeline.
	a.awaitWeights(t, 1, 100, stepTimeout)
	a.tl.Note("every route at canary=1%%: the analyzer has a bad canary to find")
	revert, err := a.AwaitRevert(context.Background(), 1, time.Time{}, 2*time.Minute)
	must(t, "revert", func() error { return err })
	served, failed := kube.DataPlane.Served(a.ns, canarySvc)
	t.Logf("time-to-revert: routes at 0%% after %v, Argo Degraded after %v; the canary served %d requests, %d failed",
		revert.RoutesReverted.Round(time.Millisecond), revert.ArgoDegraded.Round(time.Millisecond), served, failed)
}
