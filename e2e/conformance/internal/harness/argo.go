package harness

import (
	"fmt"
	"os/exec"

	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	goPlugin "github.com/hashicorp/go-plugin"
)

// The next two are argo-rollouts v1.9.1 rollout/trafficrouting/plugin/client's handshakeConfig and
// pluginMap, unexported there: the controller starts every traffic-router plugin with exactly these.
var handshakeConfig = goPlugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "trafficrouter",
}

var pluginMap = map[string]goPlugin.Plugin{
	"RpcTrafficRouterPlugin": &rpc.RpcTrafficRouterPlugin{},
}

// ArgoPlugin is a plugin process started and dispensed the way the Argo Rollouts controller does it
// (argo-rollouts v1.9.1 rollout/trafficrouting/plugin/client.startPluginLocked).
type ArgoPlugin struct {
	// Client is go-plugin's client; Kill stops the process as Argo does.
	Client *goPlugin.Client
	// Protocol is the net/rpc ClientProtocol (Argo pings it on every reconcile).
	Protocol goPlugin.ClientProtocol
	// Router is Argo's own net/rpc client: every call the tests make goes through it.
	Router rpc.TrafficRouterPlugin
	// Cmd is the started process; Cmd.Process.Pid is the connector's PID.
	Cmd *exec.Cmd
}

// StartArgoPlugin execs path with args, handshakes, dispenses RpcTrafficRouterPlugin, calls
// InitPlugin and pings, like Argo's controller. On an InitPlugin failure it returns the plugin (still
// running, as in Argo, which keeps the process) with the error. Other failures kill the process.
func StartArgoPlugin(path string, args ...string) (*ArgoPlugin, error) {
	cmd := exec.Command(path, args...)
	p := &ArgoPlugin{Cmd: cmd}
	p.Client = goPlugin.NewClient(&goPlugin.ClientConfig{
		HandshakeConfig: handshakeConfig,
		Plugins:         pluginMap,
		Cmd:             cmd,
		Managed:         true,
	})

	rpcClient, err := p.Client.Client()
	if err != nil {
		p.Client.Kill()
		return nil, fmt.Errorf("unable to get plugin client (%s): %w", path, err)
	}
	p.Protocol = rpcClient

	raw, err := rpcClient.Dispense("RpcTrafficRouterPlugin")
	if err != nil {
		p.Client.Kill()
		return nil, fmt.Errorf("unable to dispense plugin (%s): %w", path, err)
	}
	router, ok := raw.(rpc.TrafficRouterPlugin)
	if !ok {
		p.Client.Kill()
		return nil, fmt.Errorf("unexpected type from plugin: %T", raw)
	}
	p.Router = router

	if resp := router.InitPlugin(); resp.HasError() {
		return p, fmt.Errorf("unable to initialize plugin via rpc (%s): %w", path, resp)
	}
	if err := rpcClient.Ping(); err != nil {
		p.Client.Kill()
		return nil, fmt.Errorf("could not ping plugin (%s): %w", path, err)
	}
	return p, nil
}

// Pid is the connector process's id.
func (p *ArgoPlugin) Pid() int { return p.Cmd.Process.Pid }
