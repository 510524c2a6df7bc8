//go:build e2e

package rollouts

import (
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
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
		steps: []v1alpha1.CanaryStep{setWeight(1), pause(""), setWeight(100)},
		analysis: map[string]any{
			"enabled":       true,
			"successRate":   map[string]any{"maxErrorRate": 0.01},
			"latency":       map[string]any{"enabled": false},
			"sensitivity":   "medium",
			"minSampleSize": 20,
		},
	})
	dp := kube.DataPlane
	for _, r := range a.routes {
		dp.Follow(r, 2000) // 20 requests/s reach the canary at 1%
	}
	dp.Behave(a.ns, stableSvc, cluster.Behaviour{ErrorRate: 0.001, MedianLatency: 20 * time.Millisecond})
	dp.Behave(a.ns, canarySvc, cluster.Behaviour{ErrorRate: 0.5, MedianLatency: 20 * time.Millisecond})
	a.tl.Note("data plane: 2000 req/s per route; stable fails 0.1%%, canary fails 50%%")

	a.release(t, "v2-bad")
	// The analyzer may act before Argo reaches the pause (Argo re-verifies the 1% after 10 s), so the test
	// waits for the weights only; when every route first carried 1% is read from the timeline.
	a.awaitWeights(t, 1, 100, stepTimeout)
	a.tl.Note("every route at canary=1%%: the analyzer has a bad canary to find")
	a.awaitWeights(t, 0, 100, 2*time.Minute)
	var atOnePercent time.Time
	for _, r := range a.routes {
		seen := a.tl.FirstSeen(r.String(), canarySvc+"=1 "+stableSvc+"=99", time.Time{})
		if seen.IsZero() {
			t.Fatalf("the timeline never saw %s at canary=1%%:\n%s", r, a.tl)
		}
		if seen.After(atOnePercent) {
			atOnePercent = seen
		}
	}
	// The timeline polls on its own: wait until it has recorded every route at 0%, too.
	var revertedAt time.Time
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		revertedAt = time.Time{}
		missing := false
		for _, r := range a.routes {
			seen := a.tl.FirstSeen(r.String(), canarySvc+"=0 "+stableSvc+"=100", atOnePercent)
			missing = missing || seen.IsZero()
			if seen.After(revertedAt) {
				revertedAt = seen
			}
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the timeline did not record every route at 0%% within 5 s:\n%s", a.tl)
		}
	}
	routesReverted := revertedAt.Sub(atOnePercent)
	a.tl.Note("every route back at canary=0%% %v after all reached 1%%", routesReverted.Round(time.Millisecond))
	ro := a.awaitRollout(t, 2*time.Minute, "aborted and Degraded", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Abort && ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	a.awaitWeights(t, 0, 100, 30*time.Second)
	revert := time.Since(atOnePercent)
	a.tl.Note("Argo: Rollout %s (%s), %v after reaching 1%%", ro.Status.Phase, ro.Status.Message,
		revert.Round(time.Millisecond))
	served, failed := dp.Served(a.ns, canarySvc)
	t.Logf("time-to-revert: routes at 0%% after %v, Argo Degraded after %v; the canary served %d requests, %d failed",
		routesReverted.Round(time.Millisecond), revert.Round(time.Millisecond), served, failed)
}
