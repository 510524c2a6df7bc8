//go:build e2enode

package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/sampleapp"
)

const traefikImage = "localhost/weighbridge/traefik:v3.6.12"

// traefikManifest runs Traefik as the cluster's Gateway API controller (GatewayClass traefik), entry point web on
// :8000, behind the Service traefik/traefik.
const traefikManifest = `apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: traefik}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: traefik-gateway}
rules:
  - apiGroups: [""]
    resources: [namespaces, services, secrets, configmaps, nodes]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [gateway.networking.k8s.io]
    resources: [gatewayclasses, gateways, httproutes, grpcroutes, referencegrants, backendtlspolicies, tcproutes, tlsroutes]
    verbs: [get, list, watch]
  - apiGroups: [gateway.networking.k8s.io]
    resources: [gatewayclasses/status, gateways/status, httproutes/status, grpcroutes/status, backendtlspolicies/status, tcproutes/status, tlsroutes/status]
    verbs: [update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: traefik-gateway}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: traefik-gateway}
subjects: [{kind: ServiceAccount, name: traefik, namespace: traefik}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, namespace: traefik}
spec:
  replicas: 1
  selector: {matchLabels: {app: traefik}}
  template:
    metadata: {labels: {app: traefik}}
    spec:
      serviceAccountName: traefik
      containers:
        - name: traefik
          image: ` + traefikImage + `
          args:
            - --entryPoints.web.address=:8000
            - --providers.kubernetesgateway
            - --ping
            - --log.level=INFO
            - --log.noColor=true
            - --global.checkNewVersion=false
            - --global.sendAnonymousUsage=false
            - --metrics.prometheus=true
          ports: [{name: web, containerPort: 8000}]
          readinessProbe: {httpGet: {path: /ping, port: 8080}, periodSeconds: 1}
          securityContext: {readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false}
---
apiVersion: v1
kind: Service
metadata: {name: traefik, namespace: traefik}
spec:
  selector: {app: traefik}
  ports: [{name: web, port: 8000, targetPort: 8000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
`

// shopManifest is the app, its Gateway, route and Rollout in one document set, applied at once (as a GitOps
// tool or a user with one kubectl apply does: the Rollout may reach Argo before the route's first status).
func shopManifest(image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: checkout-stable, namespace: shop}
spec: {selector: {app: checkout}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: checkout-canary, namespace: shop}
spec: {selector: {app: checkout}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  gatewayClassName: traefik
  listeners: [{name: web, port: 8000, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: checkout, namespace: shop}
spec:
  parentRefs: [{name: web, sectionName: web}]
  hostnames: [checkout.example.com]
  rules:
    - backendRefs:
        - {name: checkout-stable, port: 80, weight: 100}
        - {name: checkout-canary, port: 80, weight: 0}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: checkout, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      automountServiceAccountToken: false
      containers:
        - name: checkout
          image: %s
          env:
            - {name: VERSION, value: v1}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
  strategy:
    canary:
      stableService: checkout-stable
      canaryService: checkout-canary
      trafficRouting:
        plugins:
          weighbridge/gateway-api:
            httpRoutes: [{name: checkout}]
      steps:
        - setWeight: 20
        - pause: {}
        - setWeight: 50
        - pause: {}
`, image)
}

// split sends n requests through Traefik (Host checkout.example.com) and counts the versions that answered.
func split(t *testing.T, traefikIP string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://"+traefikIP+":8000/", nil)
		req.Host = "checkout.example.com"
		resp, err := client.Do(req)
		if err != nil {
			counts["error"]++
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			counts[fmt.Sprintf("status %d", resp.StatusCode)]++
			continue
		}
		counts[strings.Fields(string(body))[0]]++
	}
	return counts
}

// When the route and the Rollout are applied together and a new version is released, then Argo moves traffic
// through Weighbridge in the image installed by the chart, Traefik (a pod) sends each step's share of real requests
// to the canary's pods, plugin-server's pod deleted at the first pause is replaced and the canary goes on, and the
// promotion ends with every request on the new version.
func TestPromotionThroughTraefik(t *testing.T) {
	if !installed {
		t.Fatal("TestInstallAsUsersDo did not install Argo and Weighbridge: see its failure")
	}
	ctx := context.Background()
	image := nodeappImage(t)
	if err := node.Images.Build(cluster.ImageSpec{
		Name:       traefikImage,
		Files:      []cluster.ImageFile{{Src: filepath.Join(traefikBin(t), "traefik"), Dst: "/traefik"}},
		Entrypoint: []string{"/traefik"}, User: "65532:65532",
	}); err != nil {
		t.Fatal(err)
	}
	// The chart's default two replicas stay: Argo's calls move to the other replica when the deleted pod's
	// connection is re-made, and the replica that served the earlier step must stand down rather than restore its
	// older weights (it once did: the route flipped 20 <-> 50 about twice a second).
	if _, err := node.KubectlApply(traefikManifest); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Kubectl("-n", "traefik", "rollout", "status", "deployment/traefik", "--timeout=3m"); err != nil {
		t.Fatalf("%v\n%s", err, describe("traefik"))
	}
	logf("promotion: Traefik Ready")
	if _, err := node.KubectlApply(shopManifest(image)); err != nil {
		t.Fatal(err)
	}
	app := followShop(t, "promotion")
	if _, err := app.AwaitRollout(ctx, 3*time.Minute, "Healthy at revision 1", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == "Healthy"
	}); err != nil {
		t.Fatalf("%v\n%s", err, describe("shop"))
	}
	svc, err := node.Kube.CoreV1().Services("traefik").Get(ctx, "traefik", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := svc.Spec.ClusterIP
	// Traefik programs the route asynchronously: wait until it answers, then measure.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if got := split(t, ip, 1); got["v1"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := node.Kubectl("-n", "traefik", "logs", "deployment/traefik")
			t.Fatalf("Traefik does not route checkout.example.com to v1: %v\n%s", split(t, ip, 1), tailOf(out, 3000))
		}
	}
	before := split(t, ip, 100)
	app.TL.Note("before the release, 100 requests through Traefik: %v", before)
	if before["v1"] != 100 {
		t.Fatalf("before the release: %v, want all 100 on v1", before)
	}

	if _, err := node.Kubectl("-n", "shop", "set", "env", "rollout/checkout", "VERSION=v2"); err != nil {
		// kubectl set env works on known workload kinds only: patch the Rollout's template instead.
		patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"v2"}]`
		if _, err := node.Kubectl("-n", "shop", "patch", "rollout", "checkout", "--type=json", "-p", patch); err != nil {
			t.Fatal(err)
		}
	}
	app.TL.Note("released v2")
	for i, step := range []struct {
		pause  int32
		weight int64
	}{{1, 20}, {3, 50}} {
		if _, err := app.AtPause(ctx, step.pause, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := app.AwaitWeights(ctx, step.weight, 100, time.Minute); err != nil {
			t.Fatal(err)
		}
		// Traefik's weighted round robin is deterministic; kube-proxy does not take part (Traefik sends to pods).
		// A few requests may still go by the previous weights while Traefik reloads: wait for the share, bounded.
		var got map[string]int
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			got = split(t, ip, 100)
			share := int64(got["v2"])
			if got["v1"]+got["v2"] == 100 && share >= step.weight-10 && share <= step.weight+10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %d (setWeight %d): 100 requests through Traefik gave %v, want about %d on v2", i, step.weight, got, step.weight)
			}
		}
		app.TL.Note("at setWeight %d, 100 requests through Traefik: %v", step.weight, got)
		logf("promotion: at setWeight %d Traefik sent %d of 100 requests to v2 (%v)", step.weight, got["v2"], got)
		if i == 0 {
			// plugin-server's pod dies mid-canary: its Deployment brings a new one, and the canary goes on (the
			// connector in Argo's pod reaches the new pod through the same Service).
			out, err := node.Kubectl("-n", "weighbridge", "delete", "pod", "-l", "app.kubernetes.io/name=weighbridge", "--wait=true")
			if err != nil {
				t.Fatal(err)
			}
			app.TL.Note("plugin-server's pod deleted: %s", strings.TrimSpace(out))
			if _, err := node.Kubectl("-n", "weighbridge", "rollout", "status", "deployment/weighbridge", "--timeout=3m"); err != nil {
				t.Fatalf("%v\n%s", err, describe("weighbridge"))
			}
			app.TL.Note("plugin-server's Deployment has a Ready pod again")
			logf("promotion: plugin-server pod deleted at setWeight 20; a new one is Ready")
		}
		if err := app.Promote(ctx, step.pause); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.AwaitRollout(ctx, 3*time.Minute, "Healthy at revision 2", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == "Healthy" && ro.Status.StableRS == ro.Status.CurrentPodHash
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		after := split(t, ip, 100)
		if after["v2"] == 100 {
			app.TL.Note("promoted, 100 requests through Traefik: %v", after)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the promotion: %v, want all 100 on v2", after)
		}
	}
}

// traefikBin is testkit/traefik/build.sh's bin directory (Traefik v3.6.12, built from Go modules and cached).
func traefikBin(t *testing.T) string {
	t.Helper()
	dir, err := cluster.TestkitBuild(root, "traefik")
	if err != nil {
		t.Fatalf("%v (make e2e-node builds it first)", err)
	}
	return dir
}

// followShop is the shop's Rollout checkout and its HTTPRoute as package sampleapp drives them, with a Timeline that
// is printed (titled what) when the test ends.
func followShop(t *testing.T, what string) *sampleapp.App {
	t.Helper()
	c, err := node.AsCluster()
	if err != nil {
		t.Fatal(err)
	}
	route := cluster.RouteRef{GVR: cluster.HTTPRoutes, Namespace: "shop", Name: "checkout"}
	app := &sampleapp.App{C: c, NS: "shop", Routes: []cluster.RouteRef{route}, TL: c.Follow("shop", "checkout", route)}
	t.Cleanup(func() {
		app.TL.Stop()
		fmt.Fprintf(os.Stderr, "timeline of the %s:\n%s\n", what, app.TL)
	})
	return app
}
