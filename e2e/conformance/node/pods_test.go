//go:build e2enode

package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
)

var nodeappOnce sync.Once

// nodeappImage builds the sample app's image (cmd/nodeapp) once per run.
func nodeappImage(t *testing.T) string {
	t.Helper()
	const image = "localhost/weighbridge/nodeapp:dev"
	var err error
	nodeappOnce.Do(func() {
		bin := goBuild(t, "./cmd/nodeapp", "nodeapp")
		err = node.Images.Build(cluster.ImageSpec{
			Name: image, Files: []cluster.ImageFile{{Src: bin, Dst: "/nodeapp"}},
			Entrypoint: []string{"/nodeapp"}, User: "65532:65532",
		})
	})
	if err != nil {
		t.Fatalf("build the sample app's image: %v", err)
	}
	return image
}

// appManifest is a Deployment of replicas nodeapp pods answering version, and its Service app (port 80).
func appManifest(ns, name, image, version string, replicas int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: %[5]d
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      automountServiceAccountToken: false
      containers:
        - name: app
          image: %[3]s
          env:
            - {name: VERSION, value: %[4]s}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  selector: {app: %[2]s}
  ports: [{port: 80, targetPort: 8080}]
`, ns, name, image, version, replicas)
}

// When a Deployment and its Service are applied, then its pods run with addresses from the CNI bridge, and
// the Service's ClusterIP (kube-proxy's iptables rules) reaches every one of them, from the node and from a pod
// that finds the Service by its DNS name.
func TestPodsGetAddressesAndServicesRoute(t *testing.T) {
	ctx := context.Background()
	image := nodeappImage(t)
	began := time.Now()
	if _, err := node.KubectlApply(appManifest("smoke", "app", image, "v1", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Kubectl("-n", "smoke", "rollout", "status", "deployment/app", "--timeout=3m"); err != nil {
		t.Fatal(err)
	}
	logf("smoke: 2 pods Ready %v after kubectl apply", time.Since(began).Round(time.Millisecond))
	pods, err := node.Kube.CoreV1().Pods("smoke").List(ctx, metav1.ListOptions{LabelSelector: "app=app"})
	if err != nil {
		t.Fatal(err)
	}
	_, podNet, _ := net.ParseCIDR(cluster.NodePodCIDR)
	names := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || !podNet.Contains(net.ParseIP(p.Status.PodIP)) {
			t.Fatalf("pod %s: phase %s, IP %q: want Running with an address in %s", p.Name, p.Status.Phase, p.Status.PodIP, cluster.NodePodCIDR)
		}
		if p.Spec.NodeName != cluster.RealNodeName {
			t.Fatalf("pod %s is on node %q: want the scheduler to have put it on %s", p.Name, p.Spec.NodeName, cluster.RealNodeName)
		}
		names[p.Name] = false
		logf("smoke: pod %s on %s has IP %s", p.Name, p.Spec.NodeName, p.Status.PodIP)
	}
	svc, err := node.Kube.CoreV1().Services("smoke").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// kube-proxy picks a backend at random per connection, among the endpoints it has synced (the second pod's
	// readiness reaches its rules a moment after kubectl's rollout status): ask until both pods answered.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	var last error
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && !allSeen(names); {
		resp, err := client.Get("http://" + svc.Spec.ClusterIP + "/")
		if err != nil { // refused until kube-proxy has synced a ready endpoint
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fields := strings.Fields(string(body))
		if resp.StatusCode != http.StatusOK || len(fields) != 2 || fields[0] != "v1" {
			t.Fatalf("GET %s: %s %q: want 200 \"v1 <pod>\"", svc.Spec.ClusterIP, resp.Status, body)
		}
		names[fields[1]] = true
	}
	if !allSeen(names) {
		t.Fatalf("through the ClusterIP %s (kube-proxy) only these pods answered: %v (last error: %v)", svc.Spec.ClusterIP, names, last)
	}
	logf("smoke: both pods answered through ClusterIP %s", svc.Spec.ClusterIP)

	// From a pod, by the Service's name (the cluster DNS stand-in), through kube-proxy.
	url := "http://app.smoke.svc.cluster.local/"
	client0 := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: client, namespace: smoke}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  containers: [{name: get, image: %s, args: [get, %s]}]
`, image, url)
	if _, err := node.KubectlApply(client0); err != nil {
		t.Fatal(err)
	}
	phase := awaitPodDone(t, "smoke", "client")
	out, _ := node.Kubectl("-n", "smoke", "logs", "client")
	if phase != corev1.PodSucceeded || !strings.Contains(out, "200 OK") {
		t.Fatalf("pod client ended %s; its log (kubectl logs): %s", phase, out)
	}
	logf("smoke: pod client: %s", strings.TrimSpace(out))
	if _, err := node.Kubectl("delete", "namespace", "smoke", "--wait=false"); err != nil {
		t.Fatal(err)
	}
}

func allSeen(names map[string]bool) bool {
	for _, seen := range names {
		if !seen {
			return false
		}
	}
	return true
}

// awaitPodDone waits until pod ns/name has Succeeded or Failed, and returns which.
func awaitPodDone(t *testing.T, ns, name string) corev1.PodPhase {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := node.Kube.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			return p.Status.Phase
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pod %s/%s did not finish within 3 minutes", ns, name)
	return ""
}
