//go:build e2enode

package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
)

// Images of the install: Argo's controller as upstream runs it (one static binary, user 999, working directory
// /home/argo-rollouts, read-only root in install.yaml) and plugin-server from the Dockerfile (testkit/nodeimages).
const (
	argoImage        = "localhost/weighbridge/argo-rollouts:v1.9.1"
	weighbridgeImage = "localhost/weighbridge/weighbridge:node"
	upstreamArgo     = "quay.io/argoproj/argo-rollouts:latest"
)

// installed is set once TestInstallAsUsersDo has installed Argo and Weighbridge; later scenarios use them.
var installed bool

// upstreamDir is testkit/upstream/resolve.sh's directory (CRDs, Argo's install.yaml).
func upstreamDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(root, "testkit", "upstream", "resolve.sh")).Output()
	if err != nil {
		t.Fatalf("testkit/upstream/resolve.sh: %v (run it once outside the test: make e2e-node does)", err)
	}
	return strings.TrimSpace(string(out))
}

// When Argo Rollouts is installed from its own manifests/install.yaml (only the image swapped) and Weighbridge with
// `helm install` of charts/weighbridge (default values but the image), and Argo is registered with exactly what the
// chart's NOTES print, then Argo's controller downloads the connector from plugin-server's Service over the
// cluster network, checks its sha256 and runs it.
func TestInstallAsUsersDo(t *testing.T) {
	ctx := context.Background()
	images := os.Getenv("WEIGHBRIDGE_NODE_IMAGES")
	if images == "" {
		t.Fatal("WEIGHBRIDGE_NODE_IMAGES is not set: make e2e-node builds plugin-server's image with " +
			"testkit/nodeimages/build.sh and passes its directory")
	}
	if err := node.Images.ImportArchive(filepath.Join(images, "weighbridge.tar")); err != nil {
		t.Fatal(err)
	}
	if err := node.Images.Build(cluster.ImageSpec{
		Name:       argoImage,
		Files:      []cluster.ImageFile{{Src: filepath.Join(node.Bin, "rollouts-controller"), Dst: "/bin/rollouts-controller"}},
		Entrypoint: []string{"/bin/rollouts-controller"}, User: "999", WorkDir: "/home/argo-rollouts",
	}); err != nil {
		t.Fatal(err)
	}
	up := upstreamDir(t)
	logf("install: Gateway API CRDs")
	if _, err := node.Kubectl("apply", "--server-side", "-f", filepath.Join(up, "crds", "gateway-api-v1.5.1-experimental.yaml")); err != nil {
		t.Fatal(err)
	}

	// Argo Rollouts as its docs say: kubectl create namespace argo-rollouts; kubectl apply -n argo-rollouts -f
	// install.yaml. The image is swapped, and so is its pull policy: install.yaml says Always, which needs a
	// registry to ask (none is reachable here).
	manifest, err := os.ReadFile(filepath.Join(up, "manifests", "argo-rollouts-v1.9.1-install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	swapped := strings.Replace(string(manifest), "image: "+upstreamArgo+"\n        imagePullPolicy: Always",
		"image: "+argoImage+"\n        imagePullPolicy: IfNotPresent", 1)
	if swapped == string(manifest) {
		t.Fatalf("install.yaml no longer holds %q with imagePullPolicy Always: update the swap", upstreamArgo)
	}
	if _, err := node.Kubectl("create", "namespace", "argo-rollouts"); err != nil {
		t.Fatal(err)
	}
	logf("install: Argo Rollouts from install.yaml")
	if _, err := node.KubectlApply(swapped, "-n", "argo-rollouts", "--server-side"); err != nil {
		t.Fatal(err)
	}

	logf("install: helm install weighbridge charts/weighbridge")
	helm := exec.Command(node.HelmBin, "install", "weighbridge", filepath.Join(root, "charts", "weighbridge"),
		"--namespace", "weighbridge", "--create-namespace", "--kubeconfig", node.Kubeconfig,
		"--set", "image.repository=localhost/weighbridge/weighbridge", "--set", "image.tag=node", "--wait", "--timeout", "5m")
	notes, err := helm.CombinedOutput()
	if err != nil {
		t.Fatalf("helm install: %v\n%s\n%s", err, notes, describe("weighbridge"))
	}
	logf("install: plugin-server Ready (helm --wait)")

	// Registration exactly as NOTES print it: the sha256 command, then the install.yaml ConfigMap with its digest.
	sumCmd := regexp.MustCompile(`(?m)^\s+(kubectl -n \S+ exec .*)$`).FindStringSubmatch(string(notes))
	if sumCmd == nil {
		t.Fatalf("NOTES print no sha256 command:\n%s", notes)
	}
	sh := exec.Command("bash", "-c", sumCmd[1])
	sh.Env = append(os.Environ(), "KUBECONFIG="+node.Kubeconfig, "PATH="+filepath.Dir(node.KubectlBin)+":"+os.Getenv("PATH"))
	sum, err := sh.Output()
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{64}\n?$`).Match(sum) {
		t.Fatalf("NOTES' sha256 command %q: %v: %q", sumCmd[1], err, sum)
	}
	logf("install: NOTES' command printed sha256 %s", strings.TrimSpace(string(sum)))
	configMap := notesConfigMap(t, string(notes))
	configMap = strings.Replace(configMap, "<the 64 hex digits printed above>", strings.TrimSpace(string(sum)), 1)
	if _, err := node.KubectlApply(configMap); err != nil {
		t.Fatal(err)
	}
	// Argo reads argo-rollouts-config once at start (NOTES say so): restart it.
	if _, err := node.Kubectl("-n", "argo-rollouts", "rollout", "restart", "deployment/argo-rollouts"); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Kubectl("-n", "argo-rollouts", "rollout", "status", "deployment/argo-rollouts", "--timeout=5m"); err != nil {
		t.Fatalf("%v\n%s", err, describe("argo-rollouts"))
	}
	// The controller is up once it has downloaded the plugin (it exits when a download or checksum fails).
	if err := awaitLog("argo-rollouts", "deployment/argo-rollouts", "Download complete", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	pods, err := node.Kube.CoreV1().Pods("argo-rollouts").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			logf("install: Argo pod %s (install.yaml: runAsNonRoot, read-only root; the image's user 999) downloaded "+
				"the connector over the cluster network", p.Name)
		}
	}
	admitted(t, ctx)
	installed = true
}

// admitted checks the chart's NetworkPolicy against the pods that run: the selectors of each ingress rule's peers
// must match Argo's controller pod (labelled by install.yaml) and its namespace, on both ports. The bridge CNI here
// does not enforce NetworkPolicy, so this is what the policy would admit, evaluated on the real objects.
func admitted(t *testing.T, ctx context.Context) {
	t.Helper()
	policy, err := node.Kube.NetworkingV1().NetworkPolicies("weighbridge").Get(ctx, "weighbridge", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's NetworkPolicy (networkPolicy.enabled is the default): %v", err)
	}
	ns, err := node.Kube.CoreV1().Namespaces().Get(ctx, "argo-rollouts", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := node.Kube.CoreV1().Pods("argo-rollouts").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=argo-rollouts"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("Argo's controller pod: %v", err)
	}
	argoPod := pods.Items[0]
	ports := map[string]bool{}
	for _, rule := range policy.Spec.Ingress {
		for _, peer := range rule.From {
			if peer.PodSelector == nil || peer.NamespaceSelector == nil {
				continue
			}
			podSel, err1 := metav1.LabelSelectorAsSelector(peer.PodSelector)
			nsSel, err2 := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
			if err1 != nil || err2 != nil {
				t.Fatalf("NetworkPolicy selector: %v %v", err1, err2)
			}
			if podSel.Matches(labels.Set(argoPod.Labels)) && nsSel.Matches(labels.Set(ns.Labels)) {
				for _, p := range rule.Ports {
					ports[p.Port.String()] = true
				}
			}
		}
	}
	if !ports["grpc"] || !ports["http"] {
		t.Fatalf("the chart's NetworkPolicy admits Argo's pod %s (labels %v) on ports %v: want grpc and http",
			argoPod.Name, argoPod.Labels, ports)
	}
	logf("install: the chart's NetworkPolicy admits install.yaml's Argo pod on grpc and http (not enforced: the bridge CNI enforces no policy)")
}

// notesConfigMap is the argo-rollouts-config ConfigMap that NOTES print for install.yaml users.
func notesConfigMap(t *testing.T, notes string) string {
	t.Helper()
	i := strings.Index(notes, "apiVersion: v1\nkind: ConfigMap")
	if i < 0 {
		t.Fatalf("NOTES print no argo-rollouts-config ConfigMap:\n%s", notes)
	}
	block := notes[i:]
	if end := strings.Index(block, "\n\n"); end >= 0 {
		block = block[:end+1]
	}
	return block
}

// awaitLog waits until kubectl logs of target in ns (every container of its pods) contain want.
func awaitLog(ns, target, want string, timeout time.Duration) error {
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Second) {
		out, _ := node.Kubectl("-n", ns, "logs", target, "--all-containers")
		if strings.Contains(out, want) {
			return nil
		}
		last = out
	}
	return fmt.Errorf("%s/%s logged no %q within %v; its log ends:\n%s\n%s", ns, target, want, timeout, tailOf(last, 3000), describe(ns))
}

// describe is kubectl get/describe of ns's pods and its events, for a failure's message.
func describe(ns string) string {
	var b bytes.Buffer
	for _, args := range [][]string{{"get", "pods", "-o", "wide"}, {"describe", "pods"}, {"get", "events", "--sort-by=.lastTimestamp"}} {
		out, _ := node.Kubectl(append([]string{"-n", ns}, args...)...)
		fmt.Fprintf(&b, "$ kubectl -n %s %s\n%s\n", ns, strings.Join(args, " "), tailOf(out, 4000))
	}
	return b.String()
}

func tailOf(s string, max int) string {
	if len(s) > max {
		return s[len(s)-max:]
	}
	return s
}
