package forwarder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/weighbridge/weighbridge/connector/internal/fakeserver"
	"github.com/weighbridge/weighbridge/connector/internal/fixture"
	"github.com/weighbridge/weighbridge/connector/internal/forwarder"
	"github.com/weighbridge/weighbridge/connector/internal/transport"
	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

const version = "v9.9.9-test"

// fastBackoff keeps reconnect tests short; production uses transport.DefaultBackoff.
var fastBackoff = backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 200 * time.Millisecond}

func startServer(t *testing.T) *fakeserver.Server {
	t.Helper()
	srv, err := fakeserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// refusingAddr is a loopback address where nothing listens and nothing else can start to: a socket bound to
// it but never listening (connections are refused) and held until the test ends. A stopped server's port could
// be taken by another process on a busy machine.
func refusingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// newForwarder connects a Forwarder to server through the production Dial.
func newForwarder(t *testing.T, o transport.Options, timeout time.Duration) *forwarder.Forwarder {
	t.Helper()
	if o.Backoff == (backoff.Config{}) {
		o.Backoff = fastBackoff
	}
	conn, err := transport.Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return forwarder.New(context.Background(), pb.NewTrafficRouterClient(conn), forwarder.Options{
		Server:          o.Server,
		PluginName:      fixture.PluginName,
		Version:         version,
		CallTimeout:     timeout,
		TokenConfigured: o.Token != nil,
	})
}

func caller() *pb.Caller {
	return &pb.Caller{PluginName: fixture.PluginName, ConnectorVersion: version}
}

// wantRollout is the Rollout message as the contract defines it, written from the fixture's constants.
func wantRollout() *pb.Rollout {
	return &pb.Rollout{
		Namespace:       fixture.Namespace,
		Name:            fixture.Name,
		Uid:             fixture.UID,
		Generation:      fixture.Generation,
		ResourceVersion: fixture.ResourceVersion,
	}
}

func wantDestinations() []*pb.WeightDestination {
	return []*pb.WeightDestination{
		{ServiceName: "checkout-exp-a", PodTemplateHash: "aaaa1111", Weight: 5},
		{ServiceName: "checkout-exp-b", PodTemplateHash: "bbbb2222", Weight: 0},
	}
}

// checkRolloutJSON decodes the JSON that arrived and compares it with the Rollout that was sent, then
// clears it so that the rest of the message can be compared field by field.
func checkRolloutJSON(t *testing.T, got proto.Message, sent *v1alpha1.Rollout) {
	t.Helper()
	field := got.ProtoReflect().Descriptor().Fields().ByName("rollout")
	if field == nil || !got.ProtoReflect().Has(field) {
		if sent != nil {
			t.Fatalf("rollout missing from %T", got)
		}
		return
	}
	r := got.ProtoReflect().Get(field).Message().Interface().(*pb.Rollout)
	var decoded v1alpha1.Rollout
	if err := json.Unmarshal(r.GetJson(), &decoded); err != nil {
		t.Fatalf("rollout.json is not a Rollout: %v", err)
	}
	if !equality.Semantic.DeepEqual(&decoded, sent) {
		t.Errorf("rollout.json does not decode to the Rollout sent:\n%s", cmp.Diff(sent, &decoded))
	}
	r.Json = nil
}

func TestEveryFieldArrives(t *testing.T) {
	srv := startServer(t)
	fwd := newForwarder(t, transport.Options{Server: srv.Addr}, 5*time.Second)
	zero := int32(0)

	cases := []struct {
		name   string
		method string
		sent   *v1alpha1.Rollout
		call   func() types.RpcError
		want   proto.Message
	}{
		{"InitPlugin", "InitPlugin", nil, fwd.InitPlugin,
			&pb.InitPluginRequest{Caller: caller()}},
		{"UpdateHash", "UpdateHash", fixture.Rollout(),
			func() types.RpcError {
				return fwd.UpdateHash(fixture.Rollout(), "7d9f8c6b5", "5c4b3a291", fixture.Destinations())
			},
			&pb.UpdateHashRequest{Caller: caller(), Rollout: wantRollout(), CanaryHash: "7d9f8c6b5",
				StableHash: "5c4b3a291", AdditionalDestinations: wantDestinations()}},
		{"UpdateHash with empty hashes", "UpdateHash", fixture.Rollout(),
			func() types.RpcError { return fwd.UpdateHash(fixture.Rollout(), "", "", nil) },
			&pb.UpdateHashRequest{Caller: caller(), Rollout: wantRollout()}},
		{"SetWeight", "SetWeight", fixture.Rollout(),
			func() types.RpcError { return fwd.SetWeight(fixture.Rollout(), 733, fixture.Destinations()) },
			&pb.SetWeightRequest{Caller: caller(), Rollout: wantRollout(), DesiredWeight: 733,
				AdditionalDestinations: wantDestinations()}},
		{"SetWeight to zero", "SetWeight", fixture.Rollout(),
			func() types.RpcError { return fwd.SetWeight(fixture.Rollout(), 0, nil) },
			&pb.SetWeightRequest{Caller: caller(), Rollout: wantRollout()}},
		{"SetHeaderRoute", "SetHeaderRoute", fixture.Rollout(),
			func() types.RpcError { return fwd.SetHeaderRoute(fixture.Rollout(), fixture.HeaderRoute()) },
			&pb.SetHeaderRouteRequest{Caller: caller(), Rollout: wantRollout(), HeaderRoute: &pb.SetHeaderRoute{
				Name: "canary-header",
				Match: []*pb.HeaderRoutingMatch{
					{HeaderName: "x-canary", HeaderValue: &pb.StringMatch{Exact: "yes"}},
					{HeaderName: "x-user", HeaderValue: &pb.StringMatch{Prefix: "beta-", Regex: "^beta-[0-9]+$"}},
					{HeaderName: "x-no-value"},
				},
			}}},
		{"SetHeaderRoute removal (no match)", "SetHeaderRoute", fixture.Rollout(),
			func() types.RpcError {
				return fwd.SetHeaderRoute(fixture.Rollout(), &v1alpha1.SetHeaderRoute{Name: "canary-header"})
			},
			&pb.SetHeaderRouteRequest{Caller: caller(), Rollout: wantRollout(),
				HeaderRoute: &pb.SetHeaderRoute{Name: "canary-header"}}},
		{"SetHeaderRoute nil", "SetHeaderRoute", fixture.Rollout(),
			func() types.RpcError { return fwd.SetHeaderRoute(fixture.Rollout(), nil) },
			&pb.SetHeaderRouteRequest{Caller: caller(), Rollout: wantRollout()}},
		{"SetMirrorRoute", "SetMirrorRoute", fixture.Rollout(),
			func() types.RpcError { return fwd.SetMirrorRoute(fixture.Rollout(), fixture.MirrorRoute()) },
			&pb.SetMirrorRouteRequest{Caller: caller(), Rollout: wantRollout(), MirrorRoute: &pb.SetMirrorRoute{
				Name:       "mirror",
				Percentage: proto.Int32(35),
				Match: []*pb.RouteMatch{
					{
						Method: &pb.StringMatch{Exact: "GET"},
						Path:   &pb.StringMatch{Prefix: "/api/"},
						Headers: map[string]*pb.StringMatch{
							"x-mirror": {Exact: "1"},
							"x-tenant": {Regex: "t-.*"},
						},
					},
					{Path: &pb.StringMatch{Regex: "^/health$"}},
				},
			}}},
		{"SetMirrorRoute with percentage 0 keeps it present", "SetMirrorRoute", fixture.Rollout(),
			func() types.RpcError {
				return fwd.SetMirrorRoute(fixture.Rollout(), &v1alpha1.SetMirrorRoute{Name: "mirror", Percentage: &zero})
			},
			&pb.SetMirrorRouteRequest{Caller: caller(), Rollout: wantRollout(),
				MirrorRoute: &pb.SetMirrorRoute{Name: "mirror", Percentage: proto.Int32(0)}}},
		{"SetMirrorRoute removal without percentage", "SetMirrorRoute", fixture.Rollout(),
			func() types.RpcError {
				return fwd.SetMirrorRoute(fixture.Rollout(), &v1alpha1.SetMirrorRoute{Name: "mirror"})
			},
			&pb.SetMirrorRouteRequest{Caller: caller(), Rollout: wantRollout(),
				MirrorRoute: &pb.SetMirrorRoute{Name: "mirror"}}},
		{"SetMirrorRoute nil", "SetMirrorRoute", fixture.Rollout(),
			func() types.RpcError { return fwd.SetMirrorRoute(fixture.Rollout(), nil) },
			&pb.SetMirrorRouteRequest{Caller: caller(), Rollout: wantRollout()}},
		{"VerifyWeight", "VerifyWeight", fixture.Rollout(),
			func() types.RpcError {
				_, err := fwd.VerifyWeight(fixture.Rollout(), 1000, fixture.Destinations())
				return err
			},
			&pb.VerifyWeightRequest{Caller: caller(), Rollout: wantRollout(), DesiredWeight: 1000,
				AdditionalDestinations: wantDestinations()}},
		{"RemoveManagedRoutes", "RemoveManagedRoutes", fixture.Rollout(),
			func() types.RpcError { return fwd.RemoveManagedRoutes(fixture.Rollout()) },
			&pb.RemoveManagedRoutesRequest{Caller: caller(), Rollout: wantRollout()}},
		{"nil Rollout stays absent", "SetWeight", nil,
			func() types.RpcError { return fwd.SetWeight(nil, 1, nil) },
			&pb.SetWeightRequest{Caller: caller(), DesiredWeight: 1}},
		{"Type", "Type", nil,
			func() types.RpcError {
				if got := fwd.Type(); got != "Weighbridge" {
					return types.RpcError{ErrorString: "Type() = " + got}
				}
				return types.RpcError{}
			},
			&pb.TypeRequest{Caller: caller()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(srv.Calls())
			if err := c.call(); err.HasError() {
				t.Fatalf("call failed: %s", err.ErrorString)
			}
			calls := srv.Calls()
			if len(calls) != before+1 || calls[len(calls)-1].Method != c.method {
				t.Fatalf("expected exactly one %s call, got %d new calls", c.method, len(calls)-before)
			}
			got := calls[len(calls)-1].Request
			checkRolloutJSON(t, got, c.sent)
			if diff := cmp.Diff(c.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("request differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnswersAndErrorsAreMapped(t *testing.T) {
	srv := startServer(t)
	fwd := newForwarder(t, transport.Options{Server: srv.Addr}, 5*time.Second)

	answer := func(resp proto.Message, err error) fakeserver.Handler {
		return func(context.Context, string, proto.Message) (proto.Message, error) { return resp, err }
	}
	setWeight := func() types.RpcError { return fwd.SetWeight(fixture.Rollout(), 10, nil) }
	cases := []struct {
		name         string
		handler      fakeserver.Handler
		call         func() (types.RpcVerified, types.RpcError)
		wantVerified types.RpcVerified
		wantError    string
	}{
		{"SetWeight ok", answer(nil, nil), noVerify(setWeight), types.NotVerified, ""},
		{"SetWeight INVALID_ARGUMENT passes through",
			answer(nil, status.Error(codes.InvalidArgument, "plugins[\"weighbridge/gateway-api\"].httpRoute: set a route name")),
			noVerify(setWeight), types.NotVerified, "plugins[\"weighbridge/gateway-api\"].httpRoute: set a route name"},
		{"SetWeight NOT_FOUND passes through",
			answer(nil, status.Error(codes.NotFound, "HTTPRoute shop/checkout not found")),
			noVerify(setWeight), types.NotVerified, "HTTPRoute shop/checkout not found"},
		{"SetWeight INTERNAL passes through",
			answer(nil, status.Error(codes.Internal, "bug")), noVerify(setWeight), types.NotVerified, "bug"},
		{"SetWeight UNKNOWN without message",
			answer(nil, status.Error(codes.Unknown, "")), noVerify(setWeight), types.NotVerified,
			"answered SetWeight with Unknown and no message"},
		{"UpdateHash PERMISSION_DENIED explains",
			answer(nil, status.Error(codes.PermissionDenied, "nope")),
			noVerify(func() types.RpcError { return fwd.UpdateHash(fixture.Rollout(), "a", "b", nil) }),
			types.NotVerified, "denied UpdateHash: nope; the service account"},
		{"RemoveManagedRoutes UNAUTHENTICATED without token explains",
			answer(nil, status.Error(codes.Unauthenticated, "missing bearer token")),
			noVerify(func() types.RpcError { return fwd.RemoveManagedRoutes(fixture.Rollout()) }),
			types.NotVerified, "the connector sends no token: set --token-file"},
		{"InitPlugin FAILED_PRECONDITION passes through",
			answer(nil, status.Error(codes.FailedPrecondition, "plugin name not accepted")),
			noVerify(fwd.InitPlugin), types.NotVerified, "plugin name not accepted"},
		{"server-sent UNAVAILABLE is not called unreachable",
			answer(nil, status.Error(codes.Unavailable, "Kubernetes API unreachable")),
			noVerify(setWeight), types.NotVerified, "could not complete SetWeight: Kubernetes API unreachable"},
		{"VerifyWeight VERIFIED", answer(&pb.VerifyWeightResponse{Verification: pb.Verification_VERIFICATION_VERIFIED}, nil),
			verify(fwd), types.Verified, ""},
		{"VerifyWeight NOT_VERIFIED", answer(&pb.VerifyWeightResponse{
			Verification: pb.Verification_VERIFICATION_NOT_VERIFIED, Reason: "route has 5, want 10"}, nil),
			verify(fwd), types.NotVerified, ""},
		{"VerifyWeight NOT_IMPLEMENTED", answer(&pb.VerifyWeightResponse{Verification: pb.Verification_VERIFICATION_NOT_IMPLEMENTED}, nil),
			verify(fwd), types.NotImplemented, ""},
		{"VerifyWeight UNSPECIFIED is an error", answer(&pb.VerifyWeightResponse{}, nil),
			verify(fwd), types.NotVerified, "answered VerifyWeight without a verification result (VERIFICATION_UNSPECIFIED)"},
		{"VerifyWeight error is NotVerified with the message",
			answer(nil, status.Error(codes.Aborted, "conflict did not resolve")),
			verify(fwd), types.NotVerified, "conflict did not resolve"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.SetHandler(c.handler)
			verified, err := c.call()
			if verified != c.wantVerified {
				t.Errorf("verified = %v, want %v", verified, c.wantVerified)
			}
			switch {
			case c.wantError == "" && err.HasError():
				t.Errorf("unexpected error %q", err.ErrorString)
			case c.wantError != "" && !strings.Contains(err.ErrorString, c.wantError):
				t.Errorf("error %q does not contain %q", err.ErrorString, c.wantError)
			}
		})
	}
}

func noVerify(call func() types.RpcError) func() (types.RpcVerified, types.RpcError) {
	return func() (types.RpcVerified, types.RpcError) { return types.NotVerified, call() }
}

func verify(fwd *forwarder.Forwarder) func() (types.RpcVerified, types.RpcError) {
	return func() (types.RpcVerified, types.RpcError) { return fwd.VerifyWeight(fixture.Rollout(), 10, nil) }
}

func TestDeadlineBoundsHangingCall(t *testing.T) {
	srv := startServer(t)
	cancelled := make(chan struct{})
	srv.SetHandler(func(ctx context.Context, _ string, _ proto.Message) (proto.Message, error) {
		<-ctx.Done() // hang until the client gives up
		close(cancelled)
		return nil, ctx.Err()
	})
	fwd := newForwarder(t, transport.Options{Server: srv.Addr}, 300*time.Millisecond)

	err := fwd.SetWeight(fixture.Rollout(), 10, nil)

	want := "plugin-server at " + srv.Addr + " did not answer SetWeight within 300ms"
	if !strings.HasPrefix(err.ErrorString, want) {
		t.Errorf("error %q does not start with %q", err.ErrorString, want)
	}
	<-cancelled // the server saw the call end: the connector did not leave it running
}

func TestTypeWhenServerIsDown(t *testing.T) {
	addr := refusingAddr(t)
	fwd := newForwarder(t, transport.Options{Server: addr}, 2*time.Second)
	if got, want := fwd.Type(), "Weighbridge (plugin-server unreachable)"; got != want {
		t.Errorf("Type() = %q, want %q", got, want)
	}
	err := fwd.SetWeight(fixture.Rollout(), 10, nil)
	want := "plugin-server at " + addr + " unreachable: "
	if !strings.HasPrefix(err.ErrorString, want) || !strings.HasSuffix(err.ErrorString,
		"; check that the weighbridge plugin-server is running and that --server points at its gRPC port") {
		t.Errorf("unexpected error %q", err.ErrorString)
	}
}

func TestReconnectsAfterServerRestartOnSameAddress(t *testing.T) {
	srv := startServer(t)
	addr := srv.Addr
	fwd := newForwarder(t, transport.Options{Server: addr}, 2*time.Second)
	if err := fwd.SetWeight(fixture.Rollout(), 10, nil); err.HasError() {
		t.Fatalf("first call: %s", err.ErrorString)
	}

	srv.Stop()
	// Depending on whether grpc-go has noticed the closed connection yet, this fails as "unreachable" or as
	// "could not complete": either way it must fail, not hang or succeed.
	if err := fwd.SetWeight(fixture.Rollout(), 20, nil); !err.HasError() {
		t.Fatal("call to a stopped server succeeded")
	}

	restarted, err := fakeserver.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restarted.Stop)
	// The same Forwarder (and so the same ClientConn) must get through again once grpc-go has reconnected.
	eventually(t, 10*time.Second, func() bool { return !fwd.SetWeight(fixture.Rollout(), 30, nil).HasError() })
	if c, ok := restarted.Last("SetWeight"); !ok || c.Request.(*pb.SetWeightRequest).GetDesiredWeight() != 30 {
		t.Errorf("restarted server did not receive the call: %v", c)
	}
}

// eventually polls cond until it holds or the limit passes.
func eventually(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		<-tick.C
	}
}

func TestConcurrentCallsFromArgoWorkers(t *testing.T) {
	srv := startServer(t)
	fwd := newForwarder(t, transport.Options{Server: srv.Addr}, 5*time.Second)
	const workers = 10
	errs := make(chan types.RpcError, workers)
	for i := range workers {
		go func() { errs <- fwd.SetWeight(fixture.Rollout(), int32(i), nil) }()
	}
	for range workers {
		if err := <-errs; err.HasError() {
			t.Error(err.ErrorString)
		}
	}
	seen := map[int32]bool{}
	for _, c := range srv.Calls() {
		seen[c.Request.(*pb.SetWeightRequest).GetDesiredWeight()] = true
	}
	if len(seen) != workers {
		t.Errorf("want %d distinct weights at the server, got %v", workers, seen)
	}
}
