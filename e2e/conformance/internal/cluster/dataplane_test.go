package cluster

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func route(kind string, parent map[string]any, stable, canary int64, headerRule bool) *unstructured.Unstructured {
	rules := []any{map[string]any{"backendRefs": []any{
		map[string]any{"name": "app-stable", "port": int64(80), "weight": stable},
		map[string]any{"name": "app-canary", "port": int64(80), "weight": canary},
	}}}
	if headerRule {
		rules = append(rules, map[string]any{
			"matches":     []any{map[string]any{"headers": []any{map[string]any{"name": "X-Canary", "value": "yes"}}}},
			"backendRefs": []any{map[string]any{"name": "app-canary", "port": int64(80)}},
		})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"kind": kind, "metadata": map[string]any{"name": "r", "namespace": "shop"},
		"spec": map[string]any{"parentRefs": []any{parent}, "rules": rules},
	}}
}

func TestDataPlaneSplitsTrafficByLiveWeightsAndFailsEvenly(t *testing.T) {
	d := &DataPlane{behave: map[string]Behaviour{}, backends: map[string]*backendStats{}}
	d.Behave("shop", "app-canary", Behaviour{ErrorRate: 0.2})
	ref := RouteRef{GVR: HTTPRoutes, Namespace: "shop", Name: "r"}
	mesh := map[string]any{"group": "", "kind": "Service", "name": "app", "port": int64(80)}

	// 1000 requests/s for 1 s at 90/10, header rule ignored; then 10 s at 50/50.
	d.serve(route("HTTPRoute", mesh, 90, 10, true), followed{ref, 1000}, 1)
	if s, f := d.Served("shop", "app-canary"); s != 100 || f != 20 {
		t.Fatalf("canary at 10%% of 1000 req: served %d failed %d, want 100 and 20", s, f)
	}
	if s, f := d.Served("shop", "app-stable"); s != 900 || f != 0 {
		t.Fatalf("stable at 90%% of 1000 req: served %d failed %d, want 900 and 0", s, f)
	}
	d.serve(route("HTTPRoute", mesh, 50, 50, false), followed{ref, 1000}, 10)
	if s, _ := d.Served("shop", "app-canary"); s != 5100 {
		t.Fatalf("canary after 10 s more at 50%%: served %d, want 5100", s)
	}

	out := d.exposition()
	for _, want := range []string{
		`backend_name="app-canary",backend_port="80",http_status="503",error=""} 1020`,
		`backend_name="app-stable",backend_port="80",http_status="200",error=""} 5900`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s; got:\n%s", want, out)
		}
	}
}

func TestDataPlaneExportsLinkerdSeriesForServiceParents(t *testing.T) {
	d := &DataPlane{behave: map[string]Behaviour{}, backends: map[string]*backendStats{}}
	d.Behave("shop", "app-stable", Behaviour{MedianLatency: 200 * time.Millisecond})
	ref := RouteRef{GVR: GRPCRoutes, Namespace: "shop", Name: "r"}
	svc := map[string]any{"group": "", "kind": "Service", "name": "app", "port": int64(9000)}
	d.serve(route("GRPCRoute", svc, 100, 0, false), followed{ref, 100}, 1)
	out := d.exposition()
	want := `outbound_grpc_route_backend_response_statuses_total{parent_group="core",parent_kind="Service",parent_namespace="shop",` +
		`parent_name="app",parent_port="9000",route_group="gateway.networking.k8s.io",route_kind="GRPCRoute",route_namespace="shop",` +
		`route_name="r",backend_group="core",backend_kind="Service",backend_namespace="shop",backend_name="app-stable",backend_port="80",` +
		`grpc_status="OK",error=""} 100`
	if !strings.Contains(out, want) {
		t.Fatalf("exposition lacks\n%s\ngot:\n%s", want, out)
	}
	// A 200 ms median: about half the requests are at most 0.25 s, none at most 0.05 s.
	if !strings.Contains(out, `le="0.05"} 0`) || strings.Contains(out, `le="0.25"} 100`) {
		t.Fatalf("latency buckets do not follow the 200 ms median:\n%s", out)
	}
	if strings.Contains(out, "traefik_") {
		t.Fatalf("a Service-parented route must not produce Traefik series:\n%s", out)
	}
}

func TestDataPlaneLeavesGatewayParentedRoutesToRealTraefik(t *testing.T) {
	d := &DataPlane{behave: map[string]Behaviour{}, backends: map[string]*backendStats{}}
	ref := RouteRef{GVR: HTTPRoutes, Namespace: "shop", Name: "r"}
	d.serve(route("HTTPRoute", map[string]any{"name": "traefik-gateway"}, 90, 10, false), followed{ref, 1000}, 1)
	if s, _ := d.Served("shop", "app-stable"); s != 0 {
		t.Fatalf("a Gateway-parented route was simulated (%d requests): real Traefik serves it", s)
	}
	if out := d.exposition(); out != "" {
		t.Fatalf("exposition of a Gateway-parented route: %q, want nothing", out)
	}
}

func TestDataPlaneNewErrorRateHoldsAtOnceAfterABehaviourChange(t *testing.T) {
	d := &DataPlane{behave: map[string]Behaviour{}, backends: map[string]*backendStats{}}
	ref := RouteRef{GVR: HTTPRoutes, Namespace: "shop", Name: "r"}
	mesh := map[string]any{"group": "", "kind": "Service", "name": "app", "port": int64(80)}
	d.serve(route("HTTPRoute", mesh, 0, 100, false), followed{ref, 1000}, 1) // 1000 healthy requests
	// A new version on the same Service fails half its requests: half of the next 100 fail, not all of them
	// (as they would if failures caught up with 50% of the 1000 before).
	d.Behave("shop", "app-canary", Behaviour{ErrorRate: 0.5})
	d.serve(route("HTTPRoute", mesh, 0, 100, false), followed{ref, 100}, 1)
	if s, f := d.Served("shop", "app-canary"); s != 1100 || f != 50 {
		t.Fatalf("after 1000 healthy and 100 at 50%% errors: served %d failed %d, want 1100 and 50", s, f)
	}
}
