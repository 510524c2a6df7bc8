package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/client"
	"github.com/argoproj/argo-rollouts/utils/config"
	"github.com/argoproj/argo-rollouts/utils/plugin"
	goPlugin "github.com/hashicorp/go-plugin"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// TestAuthenticationEndToEnd proves connector authentication the way it runs in a cluster: Argo's own
// plugin client -> the real connector with --token-file holding a real ServiceAccount token (issued by a
// real kube-apiserver through TokenRequest) and --tls-ca-file -> plugin-server with --auth-mode=tokenreview
// and TLS, whose TokenReviews go to the same kube-apiserver as a ServiceAccount holding only
// `tokenreviews create` (io.weighbridge.e2e.AuthServerMain). It also proves that Argo's own plugin
// downloader installs the connector from plugin-server's /connector/<os>-<arch> with the sha256 that
// NOTES.txt's command and the CLI's connector-config print (the CLI's ConfigMap used verbatim), and that it
// fails the download, rather than skipping the check, for any other non-empty sha256.
func TestAuthenticationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "weighbridge-test-ca")
	caFile := ca.writeCert(t, dir, "ca.pem")
	certFile, keyFile := ca.issueServerCert(t, dir)
	otherCAFile := newTestCA(t, "someone-elses-ca").writeCert(t, dir, "other-ca.pem")
	platform := runtime.GOOS + "-" + runtime.GOARCH
	connectorDir := filepath.Join(dir, "connectors")
	copyFile(t, env.Connector, filepath.Join(connectorDir, "weighbridge-connector-"+platform))

	srv, err := harness.StartServer(env, harness.ServerOptions{
		MainClass:    "io.weighbridge.e2e.AuthServerMain",
		Dir:          logDir,
		WorkDir:      env.Root,
		ReadyTimeout: 3 * time.Minute, // kube-apiserver + etcd, then the JVM
		ServerArgs: []string{
			"--auth-mode=tokenreview",
			"--allowed-service-accounts=argo-rollouts:argo-rollouts",
			"--tls-cert-file=" + certFile,
			"--tls-key-file=" + keyFile,
			"--connector-dir=" + connectorDir,
		},
	})
	if err != nil {
		t.Fatalf("start AuthServerMain (kube-apiserver + plugin-server with tokenreview and TLS): %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("AuthServerMain log (%s), last lines:\n%s", srv.LogPath, srv.LogTail(8000))
		}
		if err := srv.Stop(30 * time.Second); err != nil {
			t.Errorf("stop AuthServerMain: %v", err)
		}
	})
	restConfig, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		t.Fatalf("read the kube-apiserver's kubeconfig %s: %v", srv.Kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatalf("client-go clientset: %v", err)
	}
	argoToken := writeToken(t, dir, "argo.token", issueToken(t, kube, "argo-rollouts", "argo-rollouts"))
	intruderToken := writeToken(t, dir, "intruder.token", issueToken(t, kube, "default", "intruder"))
	garbageToken := writeToken(t, dir, "garbage.token", "not-a-kubernetes-token")

	// args are what an argo-rollouts-config entry would pass the connector.
	args := func(extra ...string) []string {
		return append([]string{
			"--server=127.0.0.1:" + strconv.Itoa(srv.GRPCPort),
			"--plugin-name=" + fixture.PluginName,
			"--call-timeout=" + defaultCallTimeout.String(),
		}, extra...)
	}
	// refused starts the connector as Argo does and returns InitPlugin's error text (what Argo logs
	// and puts in the Rollout's events); a later SetWeight must fail with the same reason.
	refused := func(t *testing.T, namespace string, connectorArgs ...string) string {
		t.Helper()
		p, err := harness.StartArgoPlugin(env.Connector, connectorArgs...)
		if p != nil {
			t.Cleanup(p.Client.Kill)
		}
		if err == nil {
			t.Fatalf("InitPlugin succeeded with %v, want it refused", connectorArgs)
		}
		if p != nil {
			ro := fixture.Rollout(fixture.Options{Namespace: namespace, Name: "checkout"})
			rpcErr := p.Router.SetWeight(ro, 10, nil)
			if !rpcErr.HasError() {
				t.Fatalf("SetWeight succeeded after InitPlugin was refused")
			}
			if calls, err := srv.Calls(context.Background(), "", namespace+"/checkout"); err != nil || len(calls) != 0 {
				t.Errorf("the refused SetWeight reached the domain (%d calls, %v)", len(calls), err)
			}
			text := err.Error() + "\nSetWeight: " + rpcErr.ErrorString
			t.Logf("what Argo reports:\n%s", text)
			return text
		}
		t.Logf("what Argo reports:\n%s", err)
		return err.Error()
	}

	t.Run("the allowed service account's token over TLS passes", func(t *testing.T) {
		p := mustStart(t, args("--tls-ca-file="+caFile, "--token-file="+argoToken)...)
		ro := fixture.Rollout(fixture.Options{Namespace: "auth-allowed", Name: "checkout"})
		assertNoError(t, "SetWeight", p.Router.SetWeight(ro, 10, fixture.Destinations("checkout")))
		assertCallerAndRollout(t, onlyCall(t, srv, ro, "setWeight"), ro)
	})

	t.Run("another service account's valid token is refused with PERMISSION_DENIED", func(t *testing.T) {
		text := refused(t, "auth-intruder", args("--tls-ca-file="+caFile, "--token-file="+intruderToken)...)
		for _, want := range []string{
			"denied",
			"service account default:intruder may not call plugin-server, which admits only argo-rollouts:argo-rollouts",
			"--allowed-service-accounts",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("Argo's error lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("a garbage token is refused with UNAUTHENTICATED", func(t *testing.T) {
		text := refused(t, "auth-garbage", args("--tls-ca-file="+caFile, "--token-file="+garbageToken)...)
		for _, want := range []string{"refused the connector's token", "TokenReview did not accept", "--token-file"} {
			if !strings.Contains(text, want) {
				t.Errorf("Argo's error lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "not-a-kubernetes-token") {
			t.Errorf("Argo's error repeats the token:\n%s", text)
		}
	})

	t.Run("no token is refused with UNAUTHENTICATED", func(t *testing.T) {
		text := refused(t, "auth-none", args("--tls-ca-file="+caFile)...)
		for _, want := range []string{"sends no token", "plugin-server requires a bearer token", "--token-file"} {
			if !strings.Contains(text, want) {
				t.Errorf("Argo's error lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("a connector trusting another CA cannot connect and says why", func(t *testing.T) {
		text := refused(t, "auth-wrong-ca", args("--tls-ca-file="+otherCAFile, "--token-file="+argoToken)...)
		for _, want := range []string{"unreachable", "certificate", "--tls-ca-file"} {
			if !strings.Contains(text, want) {
				t.Errorf("Argo's error lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("a plaintext connector cannot talk to the TLS port", func(t *testing.T) {
		text := refused(t, "auth-plaintext", args("--token-file="+argoToken)...)
		if !strings.Contains(text, "unreachable") && !strings.Contains(text, "could not complete") {
			t.Errorf("Argo's error does not say the server is unreachable:\n%s", text)
		}
	})

	t.Run("refusals are counted by reason", func(t *testing.T) {
		metrics := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", srv.HTTPPort))
		for _, reason := range []string{"missing_token", "invalid_token", "not_allowed"} {
			if v := metricValue(metrics, `weighbridge_auth_refused_total{reason="`+reason+`"}`); v < 1 {
				t.Errorf("weighbridge_auth_refused_total{reason=%q} = %v, want at least 1", reason, v)
			}
		}
	})

	t.Run("Argo's plugin downloader installs the connector from plugin-server", func(t *testing.T) {
		base := fmt.Sprintf("http://127.0.0.1:%d/connector/%s", srv.HTTPPort, platform)
		sumLine := httpGet(t, base+".sha256")
		fields := strings.Fields(sumLine)
		if len(fields) != 2 || fields[1] != "weighbridge-connector-"+platform {
			t.Fatalf("%s.sha256 = %q, want '<hex>  weighbridge-connector-%s'", base, sumLine, platform)
		}
		want := sha256File(t, env.Connector)
		if fields[0] != want {
			t.Fatalf("%s.sha256 = %s, want the connector's %s", base, fields[0], want)
		}

		// A different name than the other tests' so Argo's plugin map starts it afresh.
		const name = "argoproj-labs/gatewayAPI"
		connectorArgs := []string{
			"--server=127.0.0.1:" + strconv.Itoa(srv.GRPCPort),
			"--plugin-name=" + name,
			"--tls-ca-file=" + caFile,
			"--token-file=" + argoToken,
		}
		var quoted []string
		for _, a := range connectorArgs {
			quoted = append(quoted, fmt.Sprintf("%q", a))
		}
		work := t.TempDir()
		t.Chdir(work) // the controller resolves plugin-bin/ relative to its working directory
		t.Setenv("POD_NAMESPACE", "argo-rollouts")
		t.Cleanup(config.UnInitializeConfig)
		t.Cleanup(goPlugin.CleanupClients)
		// installConfigMap hands Argo's own config reader and downloader an argo-rollouts-config ConfigMap,
		// as the controller does at start.
		installConfigMap := func(cm *corev1.ConfigMap) error {
			config.UnInitializeConfig()
			cm.Namespace, cm.Name = "argo-rollouts", "argo-rollouts-config"
			fakeKube := fake.NewClientset(cm)
			if _, err := config.InitializeConfig(fakeKube, "argo-rollouts-config"); err != nil {
				t.Fatalf("Argo rejects the trafficRouterPlugins entry:\n%s\n%v", cm.Data["trafficRouterPlugins"], err)
			}
			return plugin.DownloadPlugins(plugin.FileDownloaderImpl{}, fakeKube)
		}
		install := func(sha string) error {
			pluginsYAML := fmt.Sprintf("- name: %q\n  location: %q\n  sha256: %q\n  args: [%s]\n",
				name, base, sha, strings.Join(quoted, ", "))
			return installConfigMap(&corev1.ConfigMap{Data: map[string]string{"trafficRouterPlugins": pluginsYAML}})
		}
		if err := install(strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("Argo installed the connector under a wrong sha256 (error %v), want a mismatch", err)
		}
		// Argo checks every non-empty sha256: the whole sha256sum line (what `cat <file>.sha256` prints)
		// and upper-case hex fail the download, they are not skipped.
		for _, bad := range []string{strings.TrimSpace(sumLine), strings.ToUpper(fields[0])} {
			if err := install(bad); err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Errorf("Argo's downloader with sha256 %q: error %v, want a mismatch", bad, err)
			}
		}
		// What NOTES.txt, the chart README and docs print: the .sha256 line through `cut -d' ' -f1`.
		cut := exec.Command("sh", "-c", "cut -d' ' -f1")
		cut.Stdin = strings.NewReader(sumLine)
		printed, err := cut.Output()
		if err != nil {
			t.Fatalf("cut -d' ' -f1: %v", err)
		}
		if err := install(strings.TrimSpace(string(printed))); err != nil {
			t.Fatalf("Argo cannot install the connector with the sha256 NOTES.txt's command prints (%q): %v",
				printed, err)
		}
		// What the CLI prints (`connector-config -o configmap`), used verbatim as the ConfigMap.
		cli := exec.Command(env.Java, "-cp", env.Classpath, "io.weighbridge.server.Main", "connector-config",
			"--server-url", fmt.Sprintf("http://127.0.0.1:%d", srv.HTTPPort), "--arch", platform,
			"--plugin-name", name, "--grpc-address", "127.0.0.1:"+strconv.Itoa(srv.GRPCPort),
			"--token-file="+argoToken, "--connector-arg=--tls-ca-file="+caFile, "-o", "configmap")
		var cliErr strings.Builder
		cli.Stderr = &cliErr
		out, err := cli.Output()
		if err != nil {
			t.Fatalf("connector-config: %v\n%s", err, cliErr.String())
		}
		var cm corev1.ConfigMap
		if err := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096).Decode(&cm); err != nil {
			t.Fatalf("connector-config printed no ConfigMap (%v):\n%s", err, out)
		}
		if !strings.Contains(cm.Data["trafficRouterPlugins"], fmt.Sprintf("sha256: %q", want)) {
			t.Errorf("connector-config printed another sha256 than the connector's %s:\n%s", want, out)
		}
		if err := installConfigMap(&cm); err != nil {
			t.Fatalf("Argo cannot install the connector with the ConfigMap connector-config printed: %v\n%s", err, out)
		}
		installed := filepath.Join(work, "plugin-bin", "argoproj-labs", "gatewayAPI")
		if got := sha256File(t, installed); got != want {
			t.Fatalf("installed %s has sha256 %s, want %s", installed, got, want)
		}
		version, err := exec.Command(installed, "--version").Output()
		if err != nil || strings.TrimSpace(string(version)) == "" {
			t.Fatalf("the installed connector does not run: --version printed %q (%v)", version, err)
		}

		router, err := client.GetTrafficPlugin(name)
		if err != nil {
			t.Fatalf("Argo's GetTrafficPlugin with the downloaded connector: %v", err)
		}
		ro := fixture.Rollout(fixture.Options{Namespace: "auth-downloaded", Name: "checkout"})
		assertNoError(t, "SetWeight", router.SetWeight(ro, 20, nil))
		if calls, err := srv.Calls(context.Background(), "setWeight", "auth-downloaded/checkout"); err != nil || len(calls) != 1 {
			t.Errorf("plugin-server recorded %d setWeight calls (%v), want 1", len(calls), err)
		}
	})
}

func mustStart(t *testing.T, args ...string) *harness.ArgoPlugin {
	t.Helper()
	p, err := harness.StartArgoPlugin(env.Connector, args...)
	if p != nil {
		t.Cleanup(p.Client.Kill)
	}
	if err != nil {
		t.Fatalf("start the connector the way Argo does with %v: %v", args, err)
	}
	return p
}

// issueToken creates the ServiceAccount if needed and has the API server issue it a token, as the
// kubelet does for a Pod's projected token.
func issueToken(t *testing.T, kube kubernetes.Interface, namespace, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if _, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil &&
		!strings.Contains(err.Error(), "already exists") {
		t.Fatalf("create ServiceAccount %s/%s: %v", namespace, name, err)
	}
	expiry := int64(3600)
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

func writeToken(t *testing.T, dir, name, token string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", filepath.Dir(to), err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatalf("write %s: %v", to, err)
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", url, resp.Status, err, body)
	}
	return string(body)
}

// metricValue is the value of the Prometheus text-format series, or -1 when it is absent.
func metricValue(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// testCA is a throwaway certificate authority for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	return &testCA{cert: cert, der: der, key: key}
}

func (ca *testCA) writeCert(t *testing.T, dir, name string) string {
	t.Helper()
	return writePEM(t, filepath.Join(dir, name), "CERTIFICATE", ca.der)
}

// issueServerCert writes plugin-server's certificate (for 127.0.0.1, localhost and the chart's Service
// name) and its PKCS#8 key, as cert-manager would.
func (ca *testCA) issueServerCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("server key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "weighbridge"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "weighbridge.argo-rollouts.svc"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("server key PKCS#8: %v", err)
	}
	return writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", der),
		writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", pkcs8)
}

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}
