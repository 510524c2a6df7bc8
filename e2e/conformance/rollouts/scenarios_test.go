//go:build e2e

package rollouts

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
)

// Real traffic of the scenarios through Traefik: requests per second, and the window a split is counted over.
const (
	gatewayRate = 200
	meshRate    = 200
	splitWindow = 3 * time.Second
)

// (a) One Rollout over a north/south HTTPRoute (Traefik Gateway) and east/west HTTPRoute + GRPCRoute
// (Linkerd, Service parent): 1% -> 10% -> 50% -> 100%, each step paused until the split real Traefik applies to
// real traffic has been measured and found within the binomial tolerance of the weight, then full promotion.
func TestCanaryOneToHundredPercent(t *testing.T) {
	a := newApp(t, "scenario-a", appOptions{Steps: []v1alpha1.CanaryStep{
		setWeight(1), pause(""), setWeight(10), pause(""), setWeight(50), pause(""), setWeight(100), pause(""),
	}})
	a.serve(gatewayRate, meshRate)
	a.split(t, "v2", 100, splitWindow) // before the release: v1 serves everything
	a.release(t, "v2")
	for i, w := range []int64{1, 10, 50, 100} {
		a.atPause(t, int32(2*i+1), stepTimeout) // the pause after setWeight w: Argo has set and verified w
		a.awaitWeights(t, w, 100, 5*time.Second)
		a.tl.Note("every route at canary=%d%%", w)
		a.split(t, "v2", 100, splitWindow)
		a.promote(t, int32(2*i+1))
	}
	a.assertPromoted(t, 100)
}

// (b) A setHeaderRoute step adds a header rule (to the canary only) on the route with useHeaderRoutes; the
// next setHeaderRoute without matches removes it; weights are untouched by both.
func TestHeaderRouteAddedThenRemoved(t *testing.T) {
	header := v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{
		Name:  "canary-header",
		Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}}},
	}}
	unset := v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "canary-header"}}
	a := newApp(t, "scenario-b", appOptions{HeaderRoutes: true, Steps: []v1alpha1.CanaryStep{
		setWeight(10), header, pause(""), unset, pause(""), setWeight(100),
	}})
	web := a.routes[0]
	a.release(t, "v2")

	a.atPause(t, 2, stepTimeout)
	a.awaitWeights(t, 10, 100, 5*time.Second)
	w, err := kube.RouteWeights(context.Background(), web.GVR, web.Namespace, web.Name)
	if err != nil {
		t.Fatal(err)
	}
	if w.HeaderRules != 1 || w.Managed == "" {
		t.Fatalf("after setHeaderRoute, %s = %s (managed %q): want one header rule and the managed-rule record", web, w, w.Managed)
	}
	for _, r := range a.routes[1:] {
		if w, _ := kube.RouteWeights(context.Background(), r.GVR, r.Namespace, r.Name); w.HeaderRules != 0 {
			t.Fatalf("%s has no useHeaderRoutes but got %d header rule(s)", r, w.HeaderRules)
		}
	}
	a.tl.Note("header rule X-Canary: yes present on %s only", web)

	a.promote(t, 2)
	a.atPause(t, 4, stepTimeout)
	a.awaitRoutes(t, 5*time.Second, "header rule removed, weights kept", func(w cluster.Weights) bool {
		return w.HeaderRules == 0 && w.Rules == 1 && w.Backends[canarySvc] == 10
	})
	a.tl.Note("header rule removed, canary still 10%%")
	a.promote(t, 4)
	a.assertPromoted(t, 100)
}

// (d) plugin-server is killed (SIGKILL) mid-canary: the routes keep their weights; Argo's next step fails
// while it is down and succeeds once it is back, and the canary goes on to full promotion.
func TestPluginServerKilledMidCanary(t *testing.T) {
	a := newApp(t, "scenario-d", appOptions{Steps: []v1alpha1.CanaryStep{
		setWeight(10), pause(""), setWeight(50), pause("2s"), setWeight(100),
	}})
	a.release(t, "v2")
	a.atPause(t, 1, stepTimeout)
	a.awaitWeights(t, 10, 100, 5*time.Second)

	kube.KillServer()
	a.tl.Note("plugin-server killed (SIGKILL)")
	t.Cleanup(func() { // later scenarios need it
		if !kube.Server.Running() {
			if _, err := kube.RestartServer(); err != nil {
				t.Errorf("restart plugin-server after the test: %v", err)
			}
		}
	})
	a.promoteOnly(t, 1)
	a.awaitRollout(t, stepTimeout, "resumed", func(ro *v1alpha1.Rollout) bool { return len(ro.Status.PauseConditions) == 0 })
	// Argo is at step 2 and tries setWeight 50 through the connector, which cannot reach plugin-server.
	a.awaitWeights(t, 10, 100, time.Second) // nothing else writes the routes: the weights stay
	a.tl.Note("while plugin-server is down: weights still canary=10%%")

	took, err := kube.RestartServer()
	if err != nil {
		t.Fatalf("restart plugin-server: %v", err)
	}
	a.tl.Note("plugin-server ready again after %v", took.Round(time.Millisecond))
	a.atStep(t, 3, 2*stepTimeout)
	a.awaitWeights(t, 50, 100, 5*time.Second)
	a.tl.Note("canary continued: canary=50%% after the restart")
	a.assertPromoted(t, 100)
}

// (e) Someone else edits a weight mid-canary (a GitOps sync, a hand edit): Weighbridge restores Argo's weight.
func TestForeignWeightEditRestored(t *testing.T) {
	a := newApp(t, "scenario-e", appOptions{Steps: []v1alpha1.CanaryStep{
		setWeight(10), pause(""), setWeight(100),
	}})
	a.release(t, "v2")
	a.atPause(t, 1, stepTimeout)
	a.awaitWeights(t, 10, 100, 5*time.Second)

	web := a.routes[0]
	patch := `[{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":50},` +
		`{"op":"replace","path":"/spec/rules/0/backendRefs/1/weight","value":50}]`
	edited := time.Now()
	if _, err := kube.Dynamic.Resource(web.GVR).Namespace(a.ns).Patch(context.Background(), web.Name, types.JSONPatchType,
		[]byte(patch), metav1.PatchOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatalf("edit %s: %v", web, err)
	}
	a.tl.Note("someone else set %s to stable=50 canary=50", web)
	a.awaitWeights(t, 10, 100, 30*time.Second)
	a.tl.Note("restored to canary=10%% %v after the edit", time.Since(edited).Round(time.Millisecond))

	a.promote(t, 1)
	a.assertPromoted(t, 100)
}

// (f) maxTrafficWeight 1000: a first step of 0.1% (setWeight 1 of 1000), then 1%, 50%, full promotion.
func TestPerMilleWeights(t *testing.T) {
	a := newApp(t, "scenario-f", appOptions{MaxTrafficWeight: 1000, Steps: []v1alpha1.CanaryStep{
		setWeight(1), pause("2s"), setWeight(10), pause("2s"), setWeight(500), pause("2s"), setWeight(1000),
	}})
	a.release(t, "v2")
	for i, w := range []int64{1, 10, 500} {
		a.atStep(t, int32(2*i+1), stepTimeout)
		a.awaitWeights(t, w, 1000, 5*time.Second)
		a.tl.Note("every route at canary=%d/1000", w)
	}
	a.assertPromoted(t, 1000)
}
