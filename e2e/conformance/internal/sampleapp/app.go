// Package sampleapp is the application the end-to-end scenarios and `make demo` roll out: namespace ns with
// Services checkout (the mesh front), checkout-stable and checkout-canary, a Traefik Gateway, the
// north/south HTTPRoute checkout-web (Gateway parent), the east/west HTTPRoute checkout-mesh and GRPCRoute
// checkout-grpc (Service parent, Linkerd's GAMMA), and the Rollout checkout over all three; plus the waits
// and actions both drive it with (release, promote, await a step or the routes' weights, time-to-revert, the
// split real Traefik applies).
//
// The pods are KWOK's, served by the cluster's pod server at their own IPs: each answers as its version (the
// image tag) and fails the share of requests its template's podserver.ErrorRateAnnotation says, so a bad
// release is a pod template that fails, as in real life.
package sampleapp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/podserver"
)

// Names of the app's Services and Rollout.
const (
	StableSvc = "checkout-stable"
	CanarySvc = "checkout-canary"
	Rollout   = "checkout"
)

// StepTimeout bounds one Argo step: a reconcile, a plugin call, the route write and its acceptance take well
// under a second; the rest is slack for a loaded two-core machine.
const StepTimeout = time.Minute

// Options varies the Rollout.
type Options struct {
	Steps            []v1alpha1.CanaryStep
	MaxTrafficWeight int32          // 0 = Argo's default (100)
	HeaderRoutes     bool           // managedRoutes canary-header, useHeaderRoutes on checkout-web
	Analysis         map[string]any // the plugin config's "analysis" (nil: none)
	// GatewayGRPC adds the north/south GRPCRoute checkout-grpc-web (Traefik Gateway parent, hostname GRPCHost)
	// to the routes and the Rollout: gRPC through real Traefik, for the analyzer's gRPC-code checks.
	GatewayGRPC bool
}

// App is one installed application and the Timeline that follows its Rollout and routes.
type App struct {
	C      *cluster.Cluster
	NS     string
	Routes []cluster.RouteRef
	TL     *cluster.Timeline
	// Traffic is the real north/south traffic through Traefik (nil until Serve).
	Traffic *cluster.Traffic
	// GRPCTraffic is the real gRPC traffic through Traefik to checkout-grpc-web (nil until ServeGRPC).
	GRPCTraffic *cluster.Traffic
}

// GatewayGRPCRoute is the north/south GRPCRoute of Options.GatewayGRPC.
const GatewayGRPCRoute = "checkout-grpc-web"

// GRPCHost is the hostname of the north/south GRPCRoute checkout-grpc-web of the app in namespace ns.
func GRPCHost(ns string) string { return "grpc." + ns + ".example.com" }

// Host is the hostname of the north/south HTTPRoute checkout-web of the app in namespace ns.
func Host(ns string) string { return "checkout." + ns + ".example.com" }

// Install creates the app in namespace ns, starts its Timeline and waits until revision 1 is Healthy. On error
// the returned App (when not nil) has a Timeline the caller still stops.
func Install(ctx context.Context, c *cluster.Cluster, ns string, o Options) (*App, error) {
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	for _, name := range []string{"checkout", StableSvc, CanarySvc} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "checkout"},
				Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
					{Name: "grpc", Port: 9000, TargetPort: intstr.FromInt32(9000), AppProtocol: Ptr("kubernetes.io/h2c")},
				},
			},
		}
		if _, err := c.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create service %s/%s: %w", ns, name, err)
		}
	}
	for _, obj := range routeObjects(ns, o) {
		u := &unstructured.Unstructured{Object: obj.body}
		if _, err := c.Dynamic.Resource(obj.gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create %s %s/%s: %w", u.GetKind(), ns, u.GetName(), err)
		}
	}
	if _, err := c.Argo.ArgoprojV1alpha1().Rollouts(ns).Create(ctx, rolloutObject(ns, o), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create rollout %s/%s: %w", ns, Rollout, err)
	}
	a := &App{C: c, NS: ns, Routes: []cluster.RouteRef{
		{GVR: cluster.HTTPRoutes, Namespace: ns, Name: "checkout-web"},
		{GVR: cluster.HTTPRoutes, Namespace: ns, Name: "checkout-mesh"},
		{GVR: cluster.GRPCRoutes, Namespace: ns, Name: "checkout-grpc"},
	}}
	if o.GatewayGRPC {
		a.Routes = append(a.Routes, cluster.RouteRef{GVR: cluster.GRPCRoutes, Namespace: ns, Name: GatewayGRPCRoute})
	}
	a.TL = c.Follow(ns, Rollout, a.Routes...)
	// The first revision is promoted at once (no steps for a first deploy).
	if _, err := a.AwaitRollout(ctx, 2*time.Minute, "Healthy with revision 1", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS != "" && ro.Status.StableRS == ro.Status.CurrentPodHash
	}); err != nil {
		return a, err
	}
	a.TL.Note("revision 1 Healthy")
	return a, nil
}

type object struct {
	gvr  cluster.GVR
	body map[string]any
}

func routeObjects(ns string, o Options) []object {
	backends := func(port int64) []any {
		return []any{
			map[string]any{"name": StableSvc, "port": port, "weight": int64(100)},
			map[string]any{"name": CanarySvc, "port": port, "weight": int64(0)},
		}
	}
	meshParent := []any{map[string]any{"group": "", "kind": "Service", "name": "checkout", "port": int64(80)}}
	objs := []object{
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
				"hostnames":  []any{Host(ns)},
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
	if o.GatewayGRPC {
		objs = append(objs, object{cluster.GRPCRoutes, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
			"metadata": map[string]any{"name": GatewayGRPCRoute, "namespace": ns},
			"spec": map[string]any{
				"parentRefs": []any{map[string]any{"name": "traefik-gateway", "sectionName": "web"}},
				"hostnames":  []any{GRPCHost(ns)},
				"rules":      []any{map[string]any{"backendRefs": backends(9000)}},
			},
		}})
	}
	return objs
}

func rolloutObject(ns string, o Options) *v1alpha1.Rollout {
	httpRoutes := []map[string]any{{"name": "checkout-web", "useHeaderRoutes": o.HeaderRoutes}, {"name": "checkout-mesh"}}
	grpcRoutes := []any{map[string]any{"name": "checkout-grpc"}}
	if o.GatewayGRPC {
		grpcRoutes = append(grpcRoutes, map[string]any{"name": GatewayGRPCRoute})
	}
	pluginConfig := map[string]any{"httpRoutes": httpRoutes, "grpcRoutes": grpcRoutes}
	if o.Analysis != nil {
		pluginConfig["analysis"] = o.Analysis
	}
	config, _ := json.Marshal(pluginConfig)
	routing := &v1alpha1.RolloutTrafficRouting{Plugins: map[string]json.RawMessage{cluster.PluginName: config}}
	if o.MaxTrafficWeight != 0 {
		routing.MaxTrafficWeight = Ptr(o.MaxTrafficWeight)
	}
	if o.HeaderRoutes {
		routing.ManagedRoutes = []v1alpha1.MangedRoutes{{Name: "canary-header"}}
	}
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: Rollout, Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Replicas: Ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"},
					Annotations: map[string]string{podserver.ErrorRateAnnotation: "0"}},
				Spec: corev1.PodSpec{
					// No scheduler runs: the Pods go straight to KWOK's node, which makes them Running and Ready.
					NodeName:                     cluster.NodeName,
					AutomountServiceAccountToken: Ptr(false),
					Containers: []corev1.Container{{
						Name:  "checkout",
						Image: "registry.example.com/checkout:v1",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "grpc", ContainerPort: 9000}},
					}},
				},
			},
			RevisionHistoryLimit: Ptr(int32(2)),
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService:  CanarySvc,
				StableService:  StableSvc,
				TrafficRouting: routing,
				Steps:          o.Steps,
			}},
		},
	}
}

// Release changes the image to version (a healthy one: its pods fail no request), which starts a canary.
func (a *App) Release(ctx context.Context, version string) error {
	return a.ReleaseFailing(ctx, version, 0)
}

// ReleaseFailing changes the image to version whose pods fail errorRate (0..1) of their HTTP requests.
func (a *App) ReleaseFailing(ctx context.Context, version string, errorRate float64) error {
	return a.release(ctx, version, errorRate, 0)
}

// ReleaseFailingGRPC changes the image to version whose pods answer HTTP healthily but fail grpcErrorRate
// (0..1) of their gRPC calls with UNAVAILABLE.
func (a *App) ReleaseFailingGRPC(ctx context.Context, version string, grpcErrorRate float64) error {
	return a.release(ctx, version, 0, grpcErrorRate)
}

func (a *App) release(ctx context.Context, version string, httpRate, grpcRate float64) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:"%g",%q:"%g"}},`+
		`"spec":{"containers":[{"name":"checkout","image":"registry.example.com/checkout:%s"}]}}}}`,
		podserver.ErrorRateAnnotation, httpRate, podserver.GRPCErrorRateAnnotation, grpcRate, version)
	if _, err := a.C.Argo.ArgoprojV1alpha1().Rollouts(a.NS).Patch(ctx, Rollout, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("update the image of rollout %s/%s: %w", a.NS, Rollout, err)
	}
	a.TL.Note("image -> %s, its pods fail %g%% of HTTP requests and %g%% of gRPC calls (canary starts)", version,
		100*httpRate, 100*grpcRate)
	return nil
}

// Promote resumes the indefinite pause at step index from with the status patch `kubectl argo rollouts
// promote` sends, and waits until Argo has left that step.
//
// Argo writes a pause in two patches (pauseConditions, then the Paused condition) and puts its own result
// back into its informer cache; a promote that lands between them is lost: Argo's cache keeps the pause
// condition and nothing changes on the server to correct it. So it promotes only once the Paused condition
// is there, and if Argo has not moved on after 5 s it touches an annotation (an update event that refreshes
// Argo's cache) and promotes again. Every attempt is in the timeline.
func (a *App) Promote(ctx context.Context, from int32) error {
	if err := a.PromoteOnly(ctx, from); err != nil {
		return err
	}
	deadline := time.Now().Add(StepTimeout)
	nudge := time.Now().Add(5 * time.Second)
	for attempt := 2; ; {
		ro, err := a.Get(ctx)
		if err != nil {
			return err
		}
		if ro.Status.CurrentStepIndex != nil && *ro.Status.CurrentStepIndex > from {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rollout %s/%s did not leave step %d within %v of being promoted", a.NS, Rollout, from, StepTimeout)
		}
		if time.Now().After(nudge) {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e.weighbridge.io/nudge":"%d"}}}`, attempt)
			if _, err := a.C.Argo.ArgoprojV1alpha1().Rollouts(a.NS).Patch(ctx, Rollout, types.MergePatchType,
				[]byte(patch), metav1.PatchOptions{}); err != nil {
				return fmt.Errorf("touch rollout %s/%s: %w", a.NS, Rollout, err)
			}
			a.TL.Note("still at step %d 5 s after promote: annotation touched to refresh Argo's cache (attempt %d)", from, attempt)
			if err := a.PromoteOnly(ctx, from); err != nil {
				return err
			}
			attempt++
			nudge = time.Now().Add(5 * time.Second)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// PromoteOnly waits until Argo has finished pausing at step from, then clears the pause conditions.
func (a *App) PromoteOnly(ctx context.Context, from int32) error {
	if _, err := a.AwaitRollout(ctx, StepTimeout, fmt.Sprintf("paused at step %d with the Paused condition written", from), func(ro *v1alpha1.Rollout) bool {
		if ro.Status.CurrentStepIndex == nil || *ro.Status.CurrentStepIndex != from {
			return false
		}
		for _, c := range ro.Status.Conditions {
			if c.Type == v1alpha1.RolloutPaused && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	if _, err := a.C.Argo.ArgoprojV1alpha1().Rollouts(a.NS).Patch(ctx, Rollout, types.MergePatchType,
		[]byte(`{"status":{"pauseConditions":null}}`), metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("promote rollout %s/%s: %w", a.NS, Rollout, err)
	}
	a.TL.Note("promote from step %d (pause conditions cleared)", from)
	return nil
}

// Get reads the Rollout.
func (a *App) Get(ctx context.Context) (*v1alpha1.Rollout, error) {
	ro, err := a.C.Argo.ArgoprojV1alpha1().Rollouts(a.NS).Get(ctx, Rollout, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get rollout %s/%s: %w", a.NS, Rollout, err)
	}
	return ro, nil
}

// AwaitRollout polls the Rollout until cond holds.
func (a *App) AwaitRollout(ctx context.Context, timeout time.Duration, what string, cond func(*v1alpha1.Rollout) bool) (*v1alpha1.Rollout, error) {
	deadline := time.Now().Add(timeout)
	for {
		ro, err := a.C.Argo.ArgoprojV1alpha1().Rollouts(a.NS).Get(ctx, Rollout, metav1.GetOptions{})
		if err == nil && cond(ro) {
			return ro, nil
		}
		if time.Now().After(deadline) {
			var status []byte
			if ro != nil {
				status, _ = json.MarshalIndent(ro.Status, "", "  ")
			}
			return ro, fmt.Errorf("rollout %s/%s not %s within %v (last error %v); status:\n%s", a.NS, Rollout, what, timeout, err, status)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return ro, err
		}
	}
}

// AtStep waits until Argo is at step index i (0-based).
func (a *App) AtStep(ctx context.Context, i int32, timeout time.Duration) (*v1alpha1.Rollout, error) {
	return a.AwaitRollout(ctx, timeout, fmt.Sprintf("at step %d", i), func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentStepIndex != nil && *ro.Status.CurrentStepIndex == i
	})
}

// AtPause waits until Argo is paused at step index i (an indefinite pause: Promote resumes it).
func (a *App) AtPause(ctx context.Context, i int32, timeout time.Duration) (*v1alpha1.Rollout, error) {
	return a.AwaitRollout(ctx, timeout, fmt.Sprintf("paused at step %d", i), func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentStepIndex != nil && *ro.Status.CurrentStepIndex == i && len(ro.Status.PauseConditions) > 0
	})
}

// AwaitWeights waits until every route sends canary (and stable the rest of total) on its weighted rule.
func (a *App) AwaitWeights(ctx context.Context, canary, total int64, timeout time.Duration) error {
	return a.AwaitRoutes(ctx, timeout, fmt.Sprintf("stable=%d canary=%d", total-canary, canary), func(w cluster.Weights) bool {
		return w.Backends[CanarySvc] == canary && w.Backends[StableSvc] == total-canary
	})
}

// AwaitRoutes waits until cond holds for every route.
func (a *App) AwaitRoutes(ctx context.Context, timeout time.Duration, what string, cond func(cluster.Weights) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		var bad []string
		for _, r := range a.Routes {
			w, err := a.C.RouteWeights(ctx, r.GVR, r.Namespace, r.Name)
			if err != nil || !cond(w) {
				bad = append(bad, fmt.Sprintf("%s: %s (err %v)", r, w, err))
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("routes not %s within %v:\n  %s", what, timeout, strings.Join(bad, "\n  "))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// AwaitPromoted waits for the end of a full promotion and checks it: Healthy, the new revision stable, every
// route 100% to the stable Service (whose selector now picks the new Pods), no header rules and no managed-rule
// record.
func (a *App) AwaitPromoted(ctx context.Context, total int64) (*v1alpha1.Rollout, error) {
	ro, err := a.AwaitRollout(ctx, 2*time.Minute, "fully promoted (Healthy, stableRS = currentPodHash)", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash &&
			ro.Status.CurrentStepIndex != nil && int(*ro.Status.CurrentStepIndex) == len(ro.Spec.Strategy.Canary.Steps)
	})
	if err != nil {
		return ro, err
	}
	a.TL.Note("fully promoted: stableRS=%s", ro.Status.StableRS)
	if err := a.AwaitRoutes(ctx, 30*time.Second, "100% stable, no header rules, no managed rules", func(w cluster.Weights) bool {
		return w.Backends[StableSvc] == total && w.Backends[CanarySvc] == 0 && w.HeaderRules == 0 && w.Rules == 1 &&
			(w.Managed == "" || w.Managed == "{}" || w.Managed == "[]")
	}); err != nil {
		return ro, err
	}
	svc, err := a.C.Kube.CoreV1().Services(a.NS).Get(ctx, StableSvc, metav1.GetOptions{})
	if err != nil {
		return ro, fmt.Errorf("get service %s/%s: %w", a.NS, StableSvc, err)
	}
	if got := svc.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey]; got != ro.Status.StableRS {
		return ro, fmt.Errorf("%s selects pod-template-hash %q, want the new stable %q", StableSvc, got, ro.Status.StableRS)
	}
	return ro, nil
}

// Revert is how fast a bad canary was reverted, measured on the Timeline from the moment every route first
// sent the canary its weight.
type Revert struct {
	// RoutesReverted is until every route was back at canary=0; ArgoDegraded until Argo reported the Rollout
	// aborted and Degraded.
	RoutesReverted, ArgoDegraded time.Duration
	// Rollout is the Degraded Rollout.
	Rollout *v1alpha1.Rollout
}

// AwaitRevert waits until every route, having sent canary (of total 100) to the canary after since, is back at
// 0 and Argo reports the Rollout aborted and Degraded, and measures both (see Revert).
func (a *App) AwaitRevert(ctx context.Context, canary int64, since time.Time, timeout time.Duration) (Revert, error) {
	if err := a.AwaitWeights(ctx, 0, 100, timeout); err != nil {
		return Revert{}, err
	}
	var atCanary time.Time
	for _, r := range a.Routes {
		seen := a.TL.FirstSeen(r.String(), fmt.Sprintf("%s=%d %s=%d", CanarySvc, canary, StableSvc, 100-canary), since)
		if seen.IsZero() {
			return Revert{}, fmt.Errorf("the timeline never saw %s at canary=%d%%:\n%s", r, canary, a.TL)
		}
		if seen.After(atCanary) {
			atCanary = seen
		}
	}
	// The timeline polls on its own: wait until it has recorded every route at 0%, too.
	var revertedAt time.Time
	for deadline := time.Now().Add(5 * time.Second); ; {
		revertedAt = time.Time{}
		missing := false
		for _, r := range a.Routes {
			seen := a.TL.FirstSeen(r.String(), CanarySvc+"=0 "+StableSvc+"=100", atCanary)
			missing = missing || seen.IsZero()
			if seen.After(revertedAt) {
				revertedAt = seen
			}
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			return Revert{}, fmt.Errorf("the timeline did not record every route at 0%% within 5 s:\n%s", a.TL)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return Revert{}, err
		}
	}
	r := Revert{RoutesReverted: revertedAt.Sub(atCanary)}
	a.TL.Note("every route back at canary=0%% %v after all reached %d%%", r.RoutesReverted.Round(time.Millisecond), canary)
	ro, err := a.AwaitRollout(ctx, 2*time.Minute, "aborted and Degraded", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Abort && ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	if err != nil {
		return r, err
	}
	if err := a.AwaitWeights(ctx, 0, 100, 30*time.Second); err != nil {
		return r, err
	}
	r.ArgoDegraded, r.Rollout = time.Since(atCanary), ro
	a.TL.Note("Argo: Rollout %s (%s), %v after reaching %d%%", ro.Status.Phase, ro.Status.Message,
		r.ArgoDegraded.Round(time.Millisecond), canary)
	return r, nil
}

// ErrorRateAnalysis is the plugin config's "analysis" of the bad-canary scenario: abort when the canary's error
// rate exceeds 1% (latency not checked), medium sensitivity, from 20 requests on.
func ErrorRateAnalysis() map[string]any {
	return map[string]any{
		"enabled":       true,
		"successRate":   map[string]any{"maxErrorRate": 0.01},
		"latency":       map[string]any{"enabled": false},
		"sensitivity":   "medium",
		"minSampleSize": 20,
	}
}

// Serve sends gatewayRate real requests per second through Traefik to the north/south route checkout-web
// (answered by the pods, as their versions), and, when the cluster has the simulated east/west data plane,
// meshRate simulated requests per second through each east/west route, whose backends answer healthily (the
// simulated mesh knows no versions: a bad version is seen by Traefik's real metrics only).
func (a *App) Serve(gatewayRate, meshRate float64) {
	a.Traffic = a.C.SendTraffic(Host(a.NS), gatewayRate)
	note := fmt.Sprintf("traffic: %.0f req/s through Traefik to %s", gatewayRate, Host(a.NS))
	if dp := a.C.DataPlane; dp != nil {
		for _, r := range a.Routes {
			dp.Follow(r, meshRate) // ignores the Gateway-parented route
		}
		healthy := cluster.Behaviour{ErrorRate: 0.001, MedianLatency: 20 * time.Millisecond}
		dp.Behave(a.NS, StableSvc, healthy)
		dp.Behave(a.NS, CanarySvc, healthy)
		note += fmt.Sprintf("; simulated Linkerd: %.0f req/s per east/west route, healthy", meshRate)
	}
	a.TL.Note("%s", note)
}

// ServeGRPC sends rate real gRPC calls per second through Traefik to the north/south GRPCRoute
// checkout-grpc-web (Options.GatewayGRPC), answered by the pods as their versions.
func (a *App) ServeGRPC(rate float64) error {
	t, err := a.C.SendGRPCTraffic(GRPCHost(a.NS), rate)
	if err != nil {
		return err
	}
	a.GRPCTraffic = t
	a.TL.Note("gRPC traffic: %.0f calls/s through Traefik to %s", rate, GRPCHost(a.NS))
	return nil
}

// Stop ends the app's traffic and its Timeline.
func (a *App) Stop() {
	if a.Traffic != nil {
		a.Traffic.Stop()
	}
	if a.GRPCTraffic != nil {
		a.GRPCTraffic.Stop()
	}
	a.TL.Stop()
}

// MeasureSplit waits until Traefik has applied the route's current weights (cluster.TraefikThrottle after the
// wait, plus a margin), then counts window of the real traffic through Traefik and judges the share the canary
// version served against the canary weight of checkout-web (out of total), which must not change meanwhile.
// The split goes into the timeline; an error when it is outside the binomial tolerance.
func (a *App) MeasureSplit(ctx context.Context, canaryVersion string, total int64, window time.Duration) (cluster.Split, error) {
	if a.Traffic == nil {
		return cluster.Split{}, fmt.Errorf("no traffic through Traefik: call Serve first")
	}
	web := a.Routes[0]
	before, err := a.C.RouteWeights(ctx, web.GVR, web.Namespace, web.Name)
	if err != nil {
		return cluster.Split{}, err
	}
	if err := sleep(ctx, cluster.TraefikThrottle+500*time.Millisecond); err != nil {
		return cluster.Split{}, err
	}
	start := a.Traffic.Counts()
	if err := sleep(ctx, window); err != nil {
		return cluster.Split{}, err
	}
	counts := a.Traffic.Counts().Sub(start)
	after, err := a.C.RouteWeights(ctx, web.GVR, web.Namespace, web.Name)
	if err != nil {
		return cluster.Split{}, err
	}
	if before.String() != after.String() {
		return cluster.Split{}, fmt.Errorf("%s changed from %s to %s while the split was measured: the step was too short to measure", web, before, after)
	}
	s := cluster.NewSplit(counts, canaryVersion, after.Backends[CanarySvc], total)
	a.TL.Note("Traefik split: %s", s)
	if !s.OK() {
		return s, fmt.Errorf("the split through Traefik is outside the tolerance: %s", s)
	}
	return s, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// SetWeight is a setWeight step.
func SetWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: Ptr(w)} }

// Pause is a pause step of duration d ("" pauses until promoted).
func Pause(d string) v1alpha1.CanaryStep {
	if d == "" {
		return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	}
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: Ptr(intstr.FromString(d))}}
}
