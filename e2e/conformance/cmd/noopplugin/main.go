// Command noopplugin is the least a traffic-router plugin can be under Argo Rollouts' protocol: Argo's own rpc
// package served through go-plugin, as every plugin is, with methods that do nothing. make bench measures its
// CPU per call beside the connector's, so that the table shows what Argo's net/rpc (gob decoding of the whole
// Rollout on every call) costs any plugin, Go or not, before the plugin does any work. It is a bench fixture,
// never shipped.
package main

import (
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	goplugin "github.com/hashicorp/go-plugin"
)

// noop implements Argo's TrafficRouterPlugin and does nothing: every weight is "verified".
type noop struct{}

func (noop) InitPlugin() types.RpcError { return types.RpcError{} }
func (noop) UpdateHash(*v1alpha1.Rollout, string, string, []v1alpha1.WeightDestination) types.RpcError {
	return types.RpcError{}
}
func (noop) SetWeight(*v1alpha1.Rollout, int32, []v1alpha1.WeightDestination) types.RpcError {
	return types.RpcError{}
}
func (noop) SetHeaderRoute(*v1alpha1.Rollout, *v1alpha1.SetHeaderRoute) types.RpcError {
	return types.RpcError{}
}
func (noop) SetMirrorRoute(*v1alpha1.Rollout, *v1alpha1.SetMirrorRoute) types.RpcError {
	return types.RpcError{}
}
func (noop) VerifyWeight(*v1alpha1.Rollout, int32, []v1alpha1.WeightDestination) (types.RpcVerified, types.RpcError) {
	return types.Verified, types.RpcError{}
}
func (noop) RemoveManagedRoutes(*v1alpha1.Rollout) types.RpcError { return types.RpcError{} }
func (noop) Type() string                                         { return "noop" }

func main() {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
			MagicCookieValue: "trafficrouter",
		},
		Plugins: map[string]goplugin.Plugin{"RpcTrafficRouterPlugin": &rpc.RpcTrafficRouterPlugin{Impl: noop{}}},
	})
}
