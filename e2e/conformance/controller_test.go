package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/client"
	"github.com/argoproj/argo-rollouts/utils/config"
	"github.com/argoproj/argo-rollouts/utils/plugin"
	goPlugin "github.com/hashicorp/go-plugin"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
)

// TestThroughArgosControllerCode installs and starts the connector with the Argo Rollouts controller's own
// code instead of the harness's mirror of it: the argo-rollouts-config ConfigMap (trafficRouterPlugins with
// a file:// location and args) is read by utils/config, the binary is installed by utils/plugin's
// DownloadPlugins into plugin-bin/<namespace>/<name>, and client.GetTrafficPlugin execs, dispenses,
// initializes and pings it, exactly as at a reconcile.
func TestThroughArgosControllerCode(t *testing.T) {
	srv := shared(t)
	work := t.TempDir()
	t.Chdir(work) // the controller resolves plugin-bin/ relative to its working directory
	t.Setenv("POD_NAMESPACE", "argo-rollouts")
	t.Cleanup(config.UnInitializeConfig)
	t.Cleanup(goPlugin.CleanupClients) // GetTrafficPlugin's clients are Managed, as in the controller

	var args []string
	for _, a := range connectorArgs(srv.GRPCPort, defaultCallTimeout) {
		args = append(args, fmt.Sprintf("%q", a))
	}
	pluginsYAML := fmt.Sprintf("- name: %q\n  location: %q\n  args: [%s]\n",
		fixture.PluginName, "file://"+env.Connector, strings.Join(args, ", "))
	kube := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "argo-rollouts-config", Namespace: "argo-rollouts"},
		Data:       map[string]string{"trafficRouterPlugins": pluginsYAML},
	})
	if _, err := config.InitializeConfig(kube, "argo-rollouts-config"); err != nil {
		t.Fatalf("Argo rejects the trafficRouterPlugins entry:\n%s\n%v", pluginsYAML, err)
	}
	if err := plugin.DownloadPlugins(plugin.FileDownloaderImpl{}, kube); err != nil {
		t.Fatalf("Argo cannot install the connector from a file:// location: %v", err)
	}
	installed := filepath.Join(work, "plugin-bin", "weighbridge", "gateway-api")
	if info, err := os.Stat(installed); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("installed plugin %s: %v (mode %v), want mode 0700", installed, err, info)
	}

	router, err := client.GetTrafficPlugin(fixture.PluginName)
	if err != nil {
		t.Fatalf("Argo's GetTrafficPlugin: %v", err)
	}
	ro := fixture.Rollout(fixture.Options{Namespace: "conformance-controller", Name: "checkout"})
	assertNoError(t, "SetWeight", router.SetWeight(ro, 15, fixture.Destinations("checkout")))
	call := onlyCall(t, srv, ro, "setWeight")
	assertCallerAndRollout(t, call, ro)

	// The next reconcile gets the same process back after a ping.
	again, err := client.GetTrafficPlugin(fixture.PluginName)
	if err != nil || again != router {
		t.Errorf("second GetTrafficPlugin = %v, %v; want the same plugin after Argo's ping", again, err)
	}
}
