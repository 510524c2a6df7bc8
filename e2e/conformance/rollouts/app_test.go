//go:build e2e

package rollouts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
)

// app is one test's application: namespace ns with Services checkout (the mesh front), checkout-stable and
// checkout-canary, a Traefik Gateway, the north/south HTTPRoute checkout-web (Gateway parent), the
// east/west HTTPRoute checkout-mesh and GRPCRoute checkout-grpc (Service parent, Linkerd's GAMMA), and the
// Rollout checkout over all three.
type app struct {
	ns     string
	routes []cluster.RouteRef
	tl     *cluster.Timeline
}

// appOptions varies the Rollout.
type appOptions struct {
	steps            []v1alpha1.CanaryStep
	maxTrafficWeight int32          // 0 = Argo's default (100)
	headerRoutes     bool           // managedRoutes canary-header, useHeaderRoutes on checkout-web
	analysis         map[string]any // the plugin config's "analysis" (nil: none)
}

const (
	stableSvc = "checkout-stable"
	canarySvc = "checkout-canary"
	rollout   = "checkout"
)

func newApp(t *testing.T, ns string, o appOptions) *app {
	t.Helper()
	ctx := context.Background()
	c := kube
	must(t, "create namespace", func() error {
		_, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	for _, name := range []string{"checkout", stableSvc, canarySvc} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "checkout"},
				Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
					{Name: "grpc", Port: 9000, TargetPort: intstr.FromInt32(9000), AppProtocol: ptr("kubernetes.io/h2c")},
				},
			},
		}
		must(t, "create service "+name, func() error {
			_, err := c.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
			return err
		})
	}
	backends := func(port int64) []any {
		return []any{
			map[string]any{"name": stableSvc, "port": port, "weight": int64(100)},
			map[string]any{"name": canarySvc, "port": port, "weight": int64(0)},
		}
	}
	meshParent := []any{map[string]any{"group": "", "kind": "Service", "name": "checkout", "port": int64(80)}}
	objects := []struct {
		gvr  cluster.GVR
		body map[string]any
	}{
		{cluster.Gateways, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
			"metadata": map[string]any{"name": "traefik-gateway", "namespace": ns},
			"spec": map[string]any{"gatewayClassName": "traefik",
				"listeners": []any{map[string]any{"name": "web", "port": int64(80), "protocol": "HTTP"}}},
		}},
		{cluster.HTTPRoutes, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "checkout-web", "namespace": ns},
			"spec": map[string]any{
				"parentRefs": []any{map[string]any{"name": "traefik-gateway", "sectionName": "web"}},
				"hostnames":  []any{"checkout.example.com"},
				"rules": []any{map[string]any{
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
					"backendRefs": backends(80),
				}},
			},
		}},
		{cluster.HTTPRoutes, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "checkout-mesh", "namespace": ns},
			"spec": map[string]any{
				"parentRefs": meshParent,
				"rules":      []any{map[string]any{"backendRefs": backends(80)}},
			},
		}},
		{cluster.GRPCRoutes, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
			"metadata": map[string]any{"name": "checkout-grpc", "namespace": ns},
			"spec": map[string]any{
				"parentRefs": []any{map[string]any{"group": "", "kind": "Service", "name": "checkout", "port": int64(9000)}},
				"rules":      []any{map[string]any{"backendRefs": backends(9000)}},
			},
		}},
	}
	for _, obj := range objects {
		u := &unstructured.Unstructured{Object: obj.body}
		must(t, "create "+u.GetKind()+" "+u.GetName(), func() error {
			_, err := c.Dynamic.Resource(obj.gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
			return err
		})
	}

	httpRoutes := []map[string]any{{"name": "checkout-web", "useHeaderRoutes": o.headerRoutes}, {"name": "checkout-mesh"}}
	pluginConfig := map[string]any{"httpRoutes": httpRoutes, "grpcRoutes": []any{map[string]any{"name": "checkout-grpc"}}}
	if o.analysis != nil {
		pluginConfig["analysis"] = o.analysis
	}
	config, _ := json.Marshal(pluginConfig)
	routing := &v1alpha1.RolloutTrafficRouting{Plugins: map[string]json.RawMessage{cluster.PluginName: config}}
	if o.maxTrafficWeight != 0 {
		routing.MaxTrafficWeight = ptr(o.maxTrafficWeight)
	}
	if o.headerRoutes {
		routing.ManagedRoutes = []v1alpha1.MangedRoutes{{Name: "canary-header"}}
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: rollout, Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
				Spec: corev1.PodSpec{
					// No scheduler runs: the Pods go straight to KWOK's node, which makes them Running and Ready.
					NodeName:                     cluster.NodeName,
					AutomountServiceAccountToken: ptr(false),
					Containers: []corev1.Container{{
						Name:  "checkout",
						Image: "registry.example.com/checkout:v1",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "grpc", ContainerPort: 9000}},
					}},
				},
			},
			RevisionHistoryLimit: ptr(int32(2)),
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService:  canarySvc,
				StableService:  stableSvc,
				TrafficRouting: routing,
				Steps:          o.steps,
			}},
		},
	}
	must(t, "create rollout", func() error {
		_, err := c.Argo.ArgoprojV1alpha1().Rollouts(ns).Create(ctx, ro, metav1.CreateOptions{})
		return err
	})
	a := &app{ns: ns, routes: []cluster.RouteRef{
		{GVR: cluster.HTTPRoutes, Namespace: ns, Name: "checkout-web"},
		{GVR: cluster.HTTPRoutes, Namespace: ns, Name: "checkout-mesh"},
		{GVR: cluster.GRPCRoutes, Namespace: ns, Name: "checkout-grpc"},
	}}
	a.tl = c.Follow(ns, rollout, a.routes...)
	t.Cleanup(func() {
		a.tl.Stop()
		t.Logf("timeline of %s (seconds since the Rollout was created):\n%s", ns, a.tl)
		if t.Failed() {
			t.Logf("rollouts-controller log (last lines):\n%s", kube.Rollouts.LogTail(5000))
			t.Logf("plugin-server log (last lines):\n%s", kube.Server.LogTail(5000))
		}
	})
	// The first revision is promoted at once (no steps for a first deploy).
	a.awaitRollout(t, 2*time.Minute, "Healthy with revision 1", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS != "" && ro.Status.StableRS == ro.Status.CurrentPodHash
	})
	a.tl.Note("revision 1 Healthy")
	return a
}

// release changes the image to version, which starts a canary.
func (a *app) release(t *testing.T, version string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"checkout","image":"registry.example.com/checkout:%s"}]}}}}`, version)
	must(t, "update the image", func() error {
		_, err := kube.Argo.ArgoprojV1alpha1().Rollouts(a.ns).Patch(context.Background(), rollout, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	})
	a.tl.Note("image -> %s (canary starts)", version)
}

// promote resumes the indefinite pause at step index from with the status patch `kubectl argo rollouts
// promote` sends, and waits until Argo has left that step.
//
// Argo writes a pause in two patches (pauseConditions, then the Paused condition) and puts its own result
// back into its informer cache; a promote that lands between them is lost: Argo's cache keeps the pause
// condition and nothing changes on the server to correct it. So it promotes only once the Paused condition
// is there, and if Argo has not moved on after 5 s it touches an annotation (an update event that refreshes
// Argo's cache) and promotes again. Every attempt is in the timeline.
func (a *app) promote(t *testing.T, from int32) {
	t.Helper()
	a.promoteOnly(t, from)
	deadline := time.Now().Add(stepTimeout)
	nudge := time.Now().Add(5 * time.Second)
	for attempt := 2; ; {
		ro := a.get(t)
		if ro.Status.CurrentStepIndex != nil && *ro.Status.CurrentStepIndex > from {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout %s/%s did not leave step %d within %v of being promoted", a.ns, rollout, from, stepTimeout)
		}
		if time.Now().After(nudge) {
			must(t, "touch the rollout", func() error {
				patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e.weighbridge.io/nudge":"%d"}}}`, attempt)
				_, err := kube.Argo.ArgoprojV1alpha1().Rollouts(a.ns).Patch(context.Background(), rollout, types.MergePatchType,
					[]byte(patch), metav1.PatchOptions{})
				return err
			})
			a.tl.Note("still at step %d 5 s after promote: annotation touched to refresh Argo's cache (attempt %d)", from, attempt)
			a.promoteOnly(t, from)
			attempt++
			nudge = time.Now().Add(5 * time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// promoteOnly waits until Argo has finished pausing at step from, then clears the pause conditions.
func (a *app) promoteOnly(t *testing.T, from int32) {
	t.Helper()
	a.awaitRollout(t, stepTimeout, fmt.Sprintf("paused at step %d with the Paused condition written", from), func(ro *v1alpha1.Rollout) bool {
		if ro.Status.CurrentStepIndex == nil || *ro.Status.CurrentStepIndex != from {
			return false
		}
		for _, c := range ro.Status.Conditions {
			if c.Type == v1alpha1.RolloutPaused && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
	must(t, "promote", func() error {
		_, err := kube.Argo.ArgoprojV1alpha1().Rollouts(a.ns).Patch(context.Background(), rollout, types.MergePatchType,
			[]byte(`{"status":{"pauseConditions":null}}`), metav1.PatchOptions{}, "status")
		return err
	})
	a.tl.Note("promote from step %d (pause conditions cleared)", from)
}

func (a *app) get(t *testing.T) *v1alpha1.Rollout {
	t.Helper()
	ro, err := kube.Argo.ArgoprojV1alpha1().Rollouts(a.ns).Get(context.Background(), rollout, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get rollout %s/%s: %v", a.ns, rollout, err)
	}
	return ro
}

// awaitRollout polls the Rollout until cond holds.
func (a *app) awaitRollout(t *testing.T, timeout time.Duration, what string, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ro, err := kube.Argo.ArgoprojV1alpha1().Rollouts(a.ns).Get(context.Background(), rollout, metav1.GetOptions{})
		if err == nil && cond(ro) {
			return ro
		}
		if time.Now().After(deadline) {
			status, _ := json.MarshalIndent(ro.Status, "", "  ")
			t.Fatalf("rollout %s/%s not %s within %v; status:\n%s", a.ns, rollout, what, timeout, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// atStep waits until Argo is at step index i (0-based).
func (a *app) atStep(t *testing.T, i int32, timeout time.Duration) *v1alpha1.Rollout {
	t.Helper()
	return a.awaitRollout(t, timeout, fmt.Sprintf("at step %d", i), func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentStepIndex != nil && *ro.Status.CurrentStepIndex == i
	})
}

// atPause waits until Argo is paused at step index i (an indefinite pause: promote resumes it).
func (a *app) atPause(t *testing.T, i int32, timeout time.Duration) *v1alpha1.Rollout {
	t.Helper()
	return a.awaitRollout(t, timeout, fmt.Sprintf("paused at step %d", i), func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentStepIndex != nil && *ro.Status.CurrentStepIndex == i && len(ro.Status.PauseConditions) > 0
	})
}

// awaitWeights waits until every route sends canary (and stable the rest of total) on its weighted rule.
func (a *app) awaitWeights(t *testing.T, canary, total int64, timeout time.Duration) {
	t.Helper()
	a.awaitRoutes(t, timeout, fmt.Sprintf("stable=%d canary=%d", total-canary, canary), func(w cluster.Weights) bool {
		return w.Backends[canarySvc] == canary && w.Backends[stableSvc] == total-canary
	})
}

func (a *app) awaitRoutes(t *testing.T, timeout time.Duration, what string, cond func(cluster.Weights) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var bad []string
		for _, r := range a.routes {
			w, err := kube.RouteWeights(context.Background(), r.GVR, r.Namespace, r.Name)
			if err != nil || !cond(w) {
				bad = append(bad, fmt.Sprintf("%s: %s (err %v)", r, w, err))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes not %s within %v:\n  %s", what, timeout, strings.Join(bad, "\n  "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertPromoted checks the end of a full promotion: Healthy, the new revision stable, every route 100% to
// the stable Service (whose selector now picks the new Pods), no header rules and no managed-rule record.
func (a *app) assertPromoted(t *testing.T, total int64) {
	t.Helper()
	ro := a.awaitRollout(t, 2*time.Minute, "fully promoted (Healthy, stableRS = currentPodHash)", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
			ro.Status.CurrentStepIndex != nil && int(*ro.Status.CurrentStepIndex) == len(ro.Spec.Strategy.Canary.Steps)
	})
	a.tl.Note("fully promoted: stableRS=%s", ro.Status.StableRS)
	a.awaitRoutes(t, 30*time.Second, "100% stable, no header rules, no managed rules", func(w cluster.Weights) bool {
		return w.Backends[stableSvc] == total && w.Backends[canarySvc] == 0 && w.HeaderRules == 0 && w.Rules == 1 &&
			(w.Managed == "" || w.Managed == "{}" || w.Managed == "[]")
	})
	svc, err := kube.Kube.CoreV1().Services(a.ns).Get(context.Background(), stableSvc, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", stableSvc, err)
	}
	if got := svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]; got != ro.Status.StableRS {
		t.Fatalf("%s selects pod-template-hash %q, want the new stable %q", stableSvc, got, ro.Status.StableRS)
	}
}

func must(t *testing.T, what string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ptr[T any](v T) *T { return &v }

func setWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: ptr(w)} }

func pause(d string) v1alpha1.CanaryStep {
	if d == "" {
		return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	}
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromString(d))}}
}
