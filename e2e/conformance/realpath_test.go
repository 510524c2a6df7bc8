package conformance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// The real path: Argo's own plugin client -> connector -> plugin-server -> the real routing engine
// (GatewayApiTrafficRouter on the Kubernetes adapter) -> a real kube-apiserver (testkit, Gateway API
// v1.5.1 experimental + Argo CRDs), started by io.weighbridge.e2e.EngineServerMain with a
// Gateway-parented HTTPRoute and a Service-parented (GAMMA) GRPCRoute sending 100/0 to stable/canary.
// The test reads the routes back from the API server with client-go, as a user's kubectl would.

var (
	httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	grpcRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"}
)

const (
	inProgressLabel = "rollouts.argoproj.io/gatewayapi-canary"
	headerRuleName  = "canary-header"
)

// realRoute is one configured route: where it is and what its parent is.
type realRoute struct {
	gvr  schema.GroupVersionResource
	name string
}

func TestRealPathOnKubeApiServer(t *testing.T) {
	srv, err := harness.StartServer(env, harness.ServerOptions{
		MainClass: "io.weighbridge.e2e.EngineServerMain",
		Dir:       logDir,
		WorkDir:   env.Root,
		// kube-apiserver + etcd + 14 CRDs take 15-30 s on a busy 2-core machine, the JVM more.
		ReadyTimeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatalf("start EngineServerMain (kube-apiserver + real engine + plugin-server): %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("EngineServerMain log (%s), last lines:\n%s", srv.LogPath, srv.LogTail(8000))
		}
		if err := srv.Stop(30 * time.Second); err != nil {
			t.Errorf("stop EngineServerMain: %v", err)
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		t.Fatalf("read the kube-apiserver's kubeconfig %s: %v", srv.Kubeconfig, err)
	}
	kube, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client-go dynamic client: %v", err)
	}
	ns := srv.Namespace
	routes := []realRoute{{httpRoutes, srv.HTTPRoute}, {grpcRoutes, srv.GRPCRoute}}

	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	// A Rollout as Argo sends it (full pod template, status, steps), configured for both routes with
	// header routes on. Its canary/stable Services are checkout-canary/checkout-stable, which exist.
	ro := fixture.Rollout(fixture.Options{Namespace: ns, Name: "checkout", PluginConfig: map[string]any{
		"httpRoutes": []map[string]any{{"name": srv.HTTPRoute, "useHeaderRoutes": true}},
		"grpcRoutes": []map[string]any{{"name": srv.GRPCRoute, "useHeaderRoutes": true}},
	}})
	before := map[string]*unstructured.Unstructured{}
	for _, r := range routes {
		before[r.name] = get(t, kube, ns, r)
	}

	// SetWeight 10: canary 10, stable 90 on both routes, marked in progress; nothing else changed.
	assertNoError(t, "SetWeight 10", p.Router.SetWeight(ro, 10, nil))
	for _, r := range routes {
		u := get(t, kube, ns, r)
		assertWeights(t, u, 90, 10)
		if got := u.GetLabels()[inProgressLabel]; got != "in-progress" {
			t.Errorf("%s: label %s = %q after SetWeight 10, want in-progress", r.name, inProgressLabel, got)
		}
		assertRuleUnchangedButWeights(t, before[r.name], u)
	}

	// VerifyWeight: the spec carries 10/90, but no controller has written route status (there is
	// none on this API server), so the default status check answers NotVerified ...
	verified, rpcErr := p.Router.VerifyWeight(ro, 10, nil)
	assertNoError(t, "VerifyWeight", rpcErr)
	if verified != types.NotVerified {
		t.Errorf("VerifyWeight without route status = %d, want NotVerified (0)", verified)
	}
	// ... until the parents' controllers (Traefik for the Gateway, Linkerd for the Service) report the
	// current generation as Accepted: then Verified. A stale weight is still NotVerified.
	for _, r := range routes {
		acceptStatus(t, kube, ns, r)
	}
	// The engine reads routes from its informer cache, which learns of the status a moment later;
	// Argo asks again on its next reconcile, so ask until Verified (bounded).
	deadline := time.Now().Add(30 * time.Second)
	for {
		verified, rpcErr = p.Router.VerifyWeight(ro, 10, nil)
		assertNoError(t, "VerifyWeight", rpcErr)
		if verified == types.Verified {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("VerifyWeight with Accepted status = %d for 30 s, want Verified (1)", verified)
		}
		time.Sleep(100 * time.Millisecond)
	}
	verified, rpcErr = p.Router.VerifyWeight(ro, 20, nil)
	assertNoError(t, "VerifyWeight 20", rpcErr)
	if verified != types.NotVerified {
		t.Errorf("VerifyWeight 20 while routes carry 10 = %d, want NotVerified (0)", verified)
	}

	// SetHeaderRoute: one managed rule per route, named after the managed route, matching the header
	// and sending everything to canary; the user's rule keeps its 90/10.
	header := fixture.HeaderRoute()
	assertNoError(t, "SetHeaderRoute", p.Router.SetHeaderRoute(ro, &header))
	for _, r := range routes {
		u := get(t, kube, ns, r)
		rules := rulesOf(t, u)
		if len(rules) != 2 {
			t.Fatalf("%s: %d rules after SetHeaderRoute, want 2 (the user's and %s): %v", r.name, len(rules), headerRuleName, rules)
		}
		managed := findRule(rules, headerRuleName)
		if managed == nil {
			t.Fatalf("%s: no rule named %s after SetHeaderRoute: %v", r.name, headerRuleName, rules)
		}
		backends, _, _ := unstructured.NestedSlice(managed, "backendRefs")
		if len(backends) != 1 || backends[0].(map[string]any)["name"] != "checkout-canary" {
			t.Errorf("%s: rule %s routes to %v, want only checkout-canary", r.name, headerRuleName, backends)
		}
		matches, _, _ := unstructured.NestedSlice(managed, "matches")
		if len(matches) == 0 || !containsHeader(matches, "X-Canary") {
			t.Errorf("%s: rule %s matches %v, want a header match on X-Canary", r.name, headerRuleName, matches)
		}
		assertWeights(t, u, 90, 10)
	}

	// RemoveManagedRoutes: the header rule goes, the user's rule stays as it was.
	assertNoError(t, "RemoveManagedRoutes", p.Router.RemoveManagedRoutes(ro))
	for _, r := range routes {
		u := get(t, kube, ns, r)
		if rules := rulesOf(t, u); len(rules) != 1 || findRule(rules, headerRuleName) != nil {
			t.Errorf("%s: rules after RemoveManagedRoutes = %v, want only the user's rule", r.name, rules)
		}
		assertWeights(t, u, 90, 10)
		assertRuleUnchangedButWeights(t, before[r.name], u)
	}

	// SetWeight 0 (abort or promotion done): everything back to stable, no longer in progress.
	assertNoError(t, "SetWeight 0", p.Router.SetWeight(ro, 0, nil))
	for _, r := range routes {
		u := get(t, kube, ns, r)
		assertWeights(t, u, 100, 0)
		if got, ok := u.GetLabels()[inProgressLabel]; ok {
			t.Errorf("%s: label %s = %q after SetWeight 0, want it removed", r.name, inProgressLabel, got)
		}
		assertRuleUnchangedButWeights(t, before[r.name], u)
	}
}

func get(t *testing.T, kube dynamic.Interface, ns string, r realRoute) *unstructured.Unstructured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u, err := kube.Resource(r.gvr).Namespace(ns).Get(ctx, r.name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s from the API server: %v", r.gvr.Resource, ns, r.name, err)
	}
	return u
}

func rulesOf(t *testing.T, u *unstructured.Unstructured) []any {
	t.Helper()
	rules, found, err := unstructured.NestedSlice(u.Object, "spec", "rules")
	if err != nil || !found {
		t.Fatalf("%s: spec.rules missing (%v)", u.GetName(), err)
	}
	return rules
}

func findRule(rules []any, name string) map[string]any {
	for _, r := range rules {
		if m, ok := r.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

func containsHeader(matches []any, header string) bool {
	for _, m := range matches {
		headers, _, _ := unstructured.NestedSlice(m.(map[string]any), "headers")
		for _, h := range headers {
			if h.(map[string]any)["name"] == header {
				return true
			}
		}
	}
	return false
}

// userRule is the route's rule that is not ours (the one without our rule name).
func userRule(t *testing.T, u *unstructured.Unstructured) map[string]any {
	t.Helper()
	for _, r := range rulesOf(t, u) {
		if m := r.(map[string]any); m["name"] != headerRuleName {
			return m
		}
	}
	t.Fatalf("%s: no user rule left", u.GetName())
	return nil
}

// assertWeights checks the user rule's stable (backendRefs[0]) and canary (backendRefs[1]) weights.
func assertWeights(t *testing.T, u *unstructured.Unstructured, stable, canary int64) {
	t.Helper()
	backends, _, _ := unstructured.NestedSlice(userRule(t, u), "backendRefs")
	if len(backends) != 2 {
		t.Fatalf("%s: user rule has backendRefs %v, want stable and canary", u.GetName(), backends)
	}
	for i, want := range []struct {
		name   string
		weight int64
	}{{"checkout-stable", stable}, {"checkout-canary", canary}} {
		b := backends[i].(map[string]any)
		if b["name"] != want.name || b["weight"] != want.weight {
			t.Errorf("%s: backendRefs[%d] = %v, want %s with weight %d", u.GetName(), i, b, want.name, want.weight)
		}
	}
}

// assertRuleUnchangedButWeights checks that the user's rule equals the original apart from the
// backend weights: matches, filters and backend identities untouched.
func assertRuleUnchangedButWeights(t *testing.T, before, after *unstructured.Unstructured) {
	t.Helper()
	strip := func(u *unstructured.Unstructured) string {
		rule := userRule(t, u.DeepCopy())
		backends, _, _ := unstructured.NestedSlice(rule, "backendRefs")
		for _, b := range backends {
			delete(b.(map[string]any), "weight")
		}
		_ = unstructured.SetNestedSlice(rule, backends, "backendRefs")
		return fmt.Sprint(rule)
	}
	if b, a := strip(before), strip(after); b != a {
		t.Errorf("%s: the user's rule changed beyond its weights:\nbefore %s\nafter  %s", after.GetName(), b, a)
	}
	beforeParents, _, _ := unstructured.NestedSlice(before.Object, "spec", "parentRefs")
	afterParents, _, _ := unstructured.NestedSlice(after.Object, "spec", "parentRefs")
	if fmt.Sprint(beforeParents) != fmt.Sprint(afterParents) {
		t.Errorf("%s: parentRefs changed: %v -> %v", after.GetName(), beforeParents, afterParents)
	}
}

// acceptStatus writes what the parent's controller would: for every parentRef, Accepted=True for the
// route's current generation.
func acceptStatus(t *testing.T, kube dynamic.Interface, ns string, r realRoute) {
	t.Helper()
	u := get(t, kube, ns, r)
	parents, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
	var statuses []any
	for _, p := range parents {
		statuses = append(statuses, map[string]any{
			"parentRef":      p,
			"controllerName": "example.com/conformance-controller",
			"conditions": []any{map[string]any{
				"type":               "Accepted",
				"status":             "True",
				"reason":             "Accepted",
				"message":            "accepted by the conformance test",
				"observedGeneration": u.GetGeneration(),
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
			}},
		})
	}
	if err := unstructured.SetNestedSlice(u.Object, statuses, "status", "parents"); err != nil {
		t.Fatalf("build status: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := kube.Resource(r.gvr).Namespace(ns).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("write status of %s %s/%s: %v", r.gvr.Resource, ns, r.name, err)
	}
}
