// Package forwarder implements Argo Rollouts' traffic-router plugin interface by forwarding every call to
// plugin-server over gRPC. It holds no routing logic: it converts arguments, bounds each call in time, and
// turns failures into messages for the operator.
package forwarder

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/weighbridge/weighbridge/connector/internal/transport"
	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

// TypeName is the implementation name returned by Type when plugin-server cannot be asked.
const TypeName = "Weighbridge"

// Options configures a Forwarder.
type Options struct {
	// Server is the plugin-server address, used in messages.
	Server string
	// PluginName is sent as Caller.plugin_name with every call.
	PluginName string
	// Version is sent as Caller.connector_version with every call.
	Version string
	// CallTimeout bounds every call.
	CallTimeout time.Duration
	// TokenConfigured tells whether calls carry a bearer token (for error messages).
	TokenConfigured bool
	// Logger receives one line per failed call and debug lines per call.
	Logger *slog.Logger
}

// Forwarder is Argo's TrafficRouterPlugin backed by a plugin-server client. It is safe for concurrent use,
// as Argo calls it from several rollout workers at once.
type Forwarder struct {
	client pb.TrafficRouterClient
	opts   Options
	// base is cancelled when the process shuts down, which ends calls in flight.
	base context.Context
}

var _ rpc.TrafficRouterPlugin = (*Forwarder)(nil)

// New returns a Forwarder that sends calls through client. Calls in flight end when base is cancelled.
func New(base context.Context, client pb.TrafficRouterClient, opts Options) *Forwarder {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{client: client, opts: opts, base: base}
}

func (f *Forwarder) caller() *pb.Caller {
	return &pb.Caller{PluginName: f.opts.PluginName, ConnectorVersion: f.opts.Version}
}

// invoke runs one bounded call and reports a failure in operator terms.
func invoke[Req any, Resp any](f *Forwarder, method string, ro *v1alpha1.Rollout, req Req,
	call func(context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, *failure) {
	ctx, cancel := context.WithTimeout(f.base, f.opts.CallTimeout)
	defer cancel()
	var p peer.Peer
	start := time.Now()
	resp, err := call(ctx, req, grpc.Peer(&p))
	log := f.opts.Logger.With(slog.String("method", method))
	if ro != nil {
		log = log.With(slog.String("rollout", ro.Namespace+"/"+ro.Name))
	}
	if err == nil {
		log.Debug("call done", slog.String("took", time.Since(start).String()))
		return resp, nil
	}
	fl := &failure{
		Method:          method,
		Server:          f.opts.Server,
		Timeout:         f.opts.CallTimeout,
		Err:             err,
		ReachedServer:   p.Addr != nil,
		DeadlineHit:     f.base.Err() == nil && deadlineHit(ctx, err, f.opts.CallTimeout),
		ShuttingDown:    f.base.Err() != nil,
		TokenConfigured: f.opts.TokenConfigured,
	}
	log.Warn("call failed", slog.String("took", time.Since(start).String()), slog.String("code", status.Code(err).String()),
		slog.String("error", describe(*fl)))
	return resp, fl
}

// deadlineHit tells whether the call ended because the connector's deadline ran out. grpc-go sends the
// deadline along, so plugin-server's handler may give up a moment before the connector's own timer fires:
// a DEADLINE_EXCEEDED that arrives with less than a tenth of the timeout left is also the connector's.
func deadlineHit(ctx context.Context, err error, timeout time.Duration) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && status.Code(err) == codes.DeadlineExceeded && time.Until(deadline) < timeout/10
}

// fail reports an error that happened before anything was sent.
func (f *Forwarder) fail(method string, err error) types.RpcError {
	fl := failure{Method: method, Server: f.opts.Server, Err: err}
	f.opts.Logger.Error("call not sent", slog.String("method", method), slog.String("error", describe(fl)))
	return rpcError(fl)
}

// InitPlugin tells plugin-server that Argo started this connector process.
func (f *Forwarder) InitPlugin() types.RpcError {
	f.opts.Logger.Info("InitPlugin", slog.String("server", f.opts.Server))
	_, fl := invoke(f, "InitPlugin", nil, &pb.InitPluginRequest{Caller: f.caller()}, f.client.InitPlugin)
	if fl != nil {
		return rpcError(*fl)
	}
	return types.RpcError{}
}

// UpdateHash forwards Argo's canary and stable pod-template hashes.
func (f *Forwarder) UpdateHash(ro *v1alpha1.Rollout, canaryHash, stableHash string,
	additionalDestinations []v1alpha1.WeightDestination) types.RpcError {
	r, err := rolloutToProto(ro)
	if err != nil {
		return f.fail("UpdateHash", err)
	}
	_, fl := invoke(f, "UpdateHash", ro, &pb.UpdateHashRequest{
		Caller:                 f.caller(),
		Rollout:                r,
		CanaryHash:             canaryHash,
		StableHash:             stableHash,
		AdditionalDestinations: destinationsToProto(additionalDestinations),
	}, f.client.UpdateHash)
	if fl != nil {
		return rpcError(*fl)
	}
	return types.RpcError{}
}

// SetWeight forwards the canary weight Argo wants.
func (f *Forwarder) SetWeight(ro *v1alpha1.Rollout, desiredWeight int32,
	additionalDestinations []v1alpha1.WeightDestination) types.RpcError {
	r, err := rolloutToProto(ro)
	if err != nil {
		return f.fail("SetWeight", err)
	}
	_, fl := invoke(f, "SetWeight", ro, &pb.SetWeightRequest{
		Caller:                 f.caller(),
		Rollout:                r,
		DesiredWeight:          desiredWeight,
		AdditionalDestinations: destinationsToProto(additionalDestinations),
	}, f.client.SetWeight)
	if fl != nil {
		return rpcError(*fl)
	}
	return types.RpcError{}
}

// SetHeaderRoute forwards a setHeaderRoute step.
func (f *Forwarder) SetHeaderRoute(ro *v1alpha1.Rollout, headerRoute *v1alpha1.SetHeaderRoute) types.RpcError {
	r, err := rolloutToProto(ro)
	if err != nil {
		return f.fail("SetHeaderRoute", err)
	}
	_, fl := invoke(f, "SetHeaderRoute", ro, &pb.SetHeaderRouteRequest{
		Caller:      f.caller(),
		Rollout:     r,
		HeaderRoute: headerRouteToProto(headerRoute),
	}, f.client.SetHeaderRoute)
	if fl != nil {
		return rpcError(*fl)
	}
	return types.RpcError{}
}

// SetMirrorRoute forwards a setMirrorRoute step.
func (f *Forwarder) SetMirrorRoute(ro *v1alpha1.Rollout, mirrorRoute *v1alpha1.SetMirrorRoute) types.RpcError {
	r, err := rolloutToProto(ro)
	if err != nil {
		return f.fail("SetMirrorRoute", err)
	}
	_, fl := invoke(f, "SetMirrorRoute", ro, &pb.SetMirrorRouteRequest{
		Caller:      f.caller(),
		Rollout:     r,
		MirrorRoute: mirrorRouteToProto(mirrorRoute),
	}, f.client.SetMirrorRoute)
	if fl != nil {
		return rpcError(*fl)
	}
	return types.RpcError{}
}

// VerifyWeight asks whether the weight is in effect. On any failure it answers NotVerified with an error,
// as Argo's own client does, and an answer without a verification result is such a failure.
func (f *Forwarder) VerifyWeight(ro *v1alpha1.Rollout, desiredWeight int32,
	additionalDestinations []v1alpha1.WeightDestination) (types.RpcVerified, types.RpcError) {
	r, err := rolloutToProto(ro)
	if err != nil {
		return types.NotVerified, f.fail("VerifyWeight", err)
	}
	resp, fl := invoke(f, "VerifyWeight", ro, &pb.VerifyWeightRequest{
		Caller:                 f.caller(),
		Rollout:                r,
		DesiredWeight:          desiredWeight,
		AdditionalDestinations: destinationsToProto(additionalDestinations),
	}, f.client.VerifyWeight)
	if fl != nil {
		return types.NotVerified, rpcError(*fl)
	}
	verified, rpcErr := verificationToArgo(resp.GetVerification(), f.opts.Server)
	if verified == types.NotVerified && !rpcErr.HasError() {
		f.opts.Logger.Info("weight not verified yet", slog.String("rollout", ro.GetNamespace()+"/"+ro.GetName()),
			slog.Int("desired_weight", int(desiredWeight)), slog.String("reason", resp.GetReason()))
	}
	return verified, rpcErr
}

// verificationToArgo maps the contract's answer onto Argo's RpcVerified. Argo reads 0 as NotVerified, so
// an unset or unknown value must become an error rather than a silent answer.
func verificationToArgo(v pb.Verification, server string) (types.RpcVerified, types.RpcError) {
	switch v {
	case pb.Verification_VERIFICATION_VERIFIED:
		return types.Verified, types.RpcError{}
	case pb.Verification_VERIFICATION_NOT_VERIFIED:
		return types.NotVerified, types.RpcError{}
	case pb.Verification_VERIFICATION_NOT_IMPLEMENTED:
		return types.NotImplemented, types.RpcError{}
	default:
		return types.NotVerified, types.RpcError{ErrorString: "plugin-server at " + server +
			" answered VerifyWeight without a verification result (" + v.String() + "); this is a plugin-server " +
			"bug or a version mismatch between connector and plugin-server: check that both come from the same release"}
	}
}

// RemoveManagedRoutes forwards the removal of every header and mirror route of the Rollout.
func (f *Forwarder) RemoveManagedRoutes(ro *v1alpha1.Rollout) types.RpcError {
	r, err := rolloutToProto(ro)
	if err != nil {
		return f.fail("RemoveManagedRoutes", err)
	}
	_, fl := invoke(f, "RemoveManagedRoutes", ro, &pb.RemoveManagedRoutesRequest{
		Caller:  f.caller(),
		Rollout: r,
	}, f.client.RemoveManagedRoutes)
	if fl != nil {
		return rpcError(*fl)
	}
	return types.RpcError{}
}

// Type asks plugin-server for its name. Type cannot return an error (Argo only logs it), so a failure is
// folded into the name.
func (f *Forwarder) Type() string {
	resp, fl := invoke(f, "Type", nil, &pb.TypeRequest{Caller: f.caller()}, f.client.Type)
	if fl == nil {
		return resp.GetType()
	}
	var tokenErr *transport.TokenError
	if errors.As(fl.Err, &tokenErr) {
		return TypeName + " (connector cannot read its token file)"
	}
	code := status.Code(fl.Err)
	if (code == codes.Unavailable && !fl.ReachedServer) || fl.DeadlineHit {
		return TypeName + " (plugin-server unreachable)"
	}
	return TypeName + " (plugin-server error: " + code.String() + ")"
}
