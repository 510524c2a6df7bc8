package cluster

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestWeightsCountWeightedRulesAndHeaderRulesApart(t *testing.T) {
	r := route("HTTPRoute", map[string]any{"name": "gw"}, 90, 10, true)
	r.SetAnnotations(map[string]string{"weighbridge.io/managed": `{"canary-header":1}`})
	w := weightsOf(r)
	if w.Backends["app-stable"] != 90 || w.Backends["app-canary"] != 10 || w.Rules != 2 || w.HeaderRules != 1 {
		t.Fatalf("weights = %+v, want stable 90, canary 10, 2 rules of which 1 header rule", w)
	}
	if w.String() != "app-canary=10 app-stable=90 +1 header rule(s)" || w.Managed == "" {
		t.Fatalf("String() = %q, Managed = %q", w.String(), w.Managed)
	}
}

func TestAcceptedFollowsTheRouteGenerationPerParent(t *testing.T) {
	r := route("HTTPRoute", map[string]any{"group": "", "kind": "Service", "name": "app", "port": int64(80)}, 100, 0, false)
	r.SetGeneration(3)
	if accepted(r) {
		t.Fatal("a route without status counts as accepted")
	}
	setAccepted(r)
	if !accepted(r) {
		t.Fatalf("after setAccepted the route is not accepted: %v", r.Object["status"])
	}
	parents, _, _ := unstructured.NestedSlice(r.Object, "status", "parents")
	if got := parents[0].(map[string]any)["controllerName"]; got != LinkerdController {
		t.Fatalf("a Service parent is reported by %v, want %s", got, LinkerdController)
	}
	r.SetGeneration(4) // someone (Weighbridge) changed the spec: the status is stale again
	if accepted(r) {
		t.Fatal("a status for generation 3 accepts generation 4")
	}
}

func TestOnlyServiceParentedRoutesGetTheSimulatedLinkerdStatus(t *testing.T) {
	mesh := map[string]any{"group": "", "kind": "Service", "name": "app", "port": int64(80)}
	if !meshOnly(route("HTTPRoute", mesh, 90, 10, false)) {
		t.Fatal("a Service-parented route must get the simulated Linkerd status")
	}
	// A Gateway parent (kind defaults to Gateway): Traefik writes the status, the simulator must not.
	if meshOnly(route("HTTPRoute", map[string]any{"name": "traefik-gateway"}, 90, 10, false)) {
		t.Fatal("a Gateway-parented route must be left to Traefik")
	}
}
