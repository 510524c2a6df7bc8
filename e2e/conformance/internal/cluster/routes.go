package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GVR is a resource of the dynamic client.
type GVR = schema.GroupVersionResource

// Gateway API resources the tests use.
var (
	HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	GRPCRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"}
	Gateways   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
)

// Controller names: north/south routes hang off a Traefik Gateway (Traefik itself writes their status),
// east/west (GAMMA) routes off a Service in Linkerd's mesh (the route-status writer plays Linkerd's controller).
const (
	TraefikController = "traefik.io/gateway-controller"
	LinkerdController = "linkerd.io/gateway-controller"
)

// acceptRoutes plays Linkerd's controller for status (Linkerd is simulated, see the package comment): every
// 100 ms it sets the status.parents of each route whose parents are all Services to Accepted=True and
// ResolvedRefs=True at the route's current generation, as Linkerd does once it has programmed a change. (It
// takes longer; this one is prompt and never refuses.) Routes with a Gateway parent are left to Traefik.
func (c *Cluster) acceptRoutes(ctx context.Context) {
	for ctx.Err() == nil {
		for _, gvr := range []schema.GroupVersionResource{HTTPRoutes, GRPCRoutes} {
			list, err := c.Dynamic.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range list.Items {
				route := &list.Items[i]
				if !meshOnly(route) || accepted(route) {
					continue
				}
				setAccepted(route)
				// A conflict means the route changed meanwhile: the next round sees the new generation.
				_, _ = c.Dynamic.Resource(gvr).Namespace(route.GetNamespace()).UpdateStatus(ctx, route, metav1.UpdateOptions{})
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// meshOnly tells whether every parent of route is a Service (an east/west GAMMA route).
func meshOnly(route *unstructured.Unstructured) bool {
	parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	for _, p := range parents {
		if ref, ok := p.(map[string]any); !ok || ref["kind"] != "Service" {
			return false
		}
	}
	return len(parents) > 0
}

func accepted(route *unstructured.Unstructured) bool {
	parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	statuses, _, _ := unstructured.NestedSlice(route.Object, "status", "parents")
	if len(statuses) != len(parents) {
		return false
	}
	for _, s := range statuses {
		conds, _, _ := unstructured.NestedSlice(s.(map[string]any), "conditions")
		if !hasCondition(conds, "Accepted", route.GetGeneration()) {
			return false
		}
	}
	return true
}

func setAccepted(route *unstructured.Unstructured) {
	parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	now := time.Now().UTC().Format(time.RFC3339)
	var statuses []any
	for _, p := range parents {
		ref := p.(map[string]any)
		controller := LinkerdController
		cond := func(typ, reason string) map[string]any {
			return map[string]any{"type": typ, "status": "True", "reason": reason, "message": "accepted by the e2e route-status writer",
				"observedGeneration": route.GetGeneration(), "lastTransitionTime": now}
		}
		statuses = append(statuses, map[string]any{
			"parentRef":      ref,
			"controllerName": controller,
			"conditions":     []any{cond("Accepted", "Accepted"), cond("ResolvedRefs", "ResolvedRefs")},
		})
	}
	_ = unstructured.SetNestedSlice(route.Object, statuses, "status", "parents")
}

// Weights is what one route sends where: backend Service name -> weight, summed over the route's rules
// that name the Rollout's stable Service (the weighted rules; header rules that send only to the canary are
// counted in HeaderRules instead).
type Weights struct {
	Backends map[string]int64
	// Rules is the number of rules; HeaderRules the number of rules that match on a header.
	Rules, HeaderRules int
	// Managed is the route's weighbridge.io/managed annotation ("" when absent).
	Managed string
}

// String renders the weights like "stable=90 canary=10".
func (w Weights) String() string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(w.Backends)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, w.Backends[k])
	}
	if w.HeaderRules > 0 {
		fmt.Fprintf(&b, " +%d header rule(s)", w.HeaderRules)
	}
	return b.String()
}

// RouteWeights reads a route and sums its backends' weights over the rules that have no header match.
func (c *Cluster) RouteWeights(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (Weights, error) {
	route, err := c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Weights{}, fmt.Errorf("get %s %s/%s: %w", gvr.Resource, ns, name, err)
	}
	return weightsOf(route), nil
}

func weightsOf(route *unstructured.Unstructured) Weights {
	w := Weights{Backends: map[string]int64{}, Managed: route.GetAnnotations()["weighbridge.io/managed"]}
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	w.Rules = len(rules)
	for _, r := range rules {
		rule := r.(map[string]any)
		if hasHeaderMatch(rule) {
			w.HeaderRules++
			continue
		}
		refs, _, _ := unstructured.NestedSlice(rule, "backendRefs")
		for _, b := range refs {
			ref := b.(map[string]any)
			weight, found, _ := unstructured.NestedInt64(ref, "weight")
			if !found {
				weight = 1 // the Gateway API default
			}
			w.Backends[fmt.Sprint(ref["name"])] += weight
		}
	}
	return w
}

func hasHeaderMatch(rule map[string]any) bool {
	matches, _, _ := unstructured.NestedSlice(rule, "matches")
	for _, m := range matches {
		if headers, _, _ := unstructured.NestedSlice(m.(map[string]any), "headers"); len(headers) > 0 {
			return true
		}
	}
	return false
}
