package forwarder

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weighbridge/weighbridge/connector/internal/transport"
	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

const addr = "weighbridge.argo-rollouts.svc:9090"

func TestRPCErrorText(t *testing.T) {
	base := failure{Method: "SetWeight", Server: addr, Timeout: 15 * time.Second, ReachedServer: true}
	with := func(mod func(*failure)) failure {
		f := base
		mod(&f)
		return f
	}
	cases := []struct {
		name string
		in   failure
		want string
	}{
		{"invalid argument passes through",
			with(func(f *failure) {
				f.Err = status.Error(codes.InvalidArgument, "plugins[\"weighbridge/gateway-api\"].httpRoute: route x not found; fix it")
			}),
			"plugins[\"weighbridge/gateway-api\"].httpRoute: route x not found; fix it"},
		{"not found passes through",
			with(func(f *failure) { f.Err = status.Error(codes.NotFound, "HTTPRoute default/web does not exist") }),
			"HTTPRoute default/web does not exist"},
		{"failed precondition passes through",
			with(func(f *failure) { f.Err = status.Error(codes.FailedPrecondition, "admission webhook refused") }),
			"admission webhook refused"},
		{"aborted passes through",
			with(func(f *failure) { f.Err = status.Error(codes.Aborted, "conflict on HTTPRoute default/web") }),
			"conflict on HTTPRoute default/web"},
		{"unimplemented passes through",
			with(func(f *failure) { f.Err = status.Error(codes.Unimplemented, "SetMirrorRoute is not supported") }),
			"SetMirrorRoute is not supported"},
		{"internal passes through",
			with(func(f *failure) { f.Err = status.Error(codes.Internal, "bug: nil route") }),
			"bug: nil route"},
		{"server code without message names code and logs",
			with(func(f *failure) { f.Err = status.Error(codes.Unknown, "") }),
			"plugin-server at " + addr + " answered SetWeight with Unknown and no message; check the plugin-server's logs"},
		{"unavailable without a connection is unreachable",
			with(func(f *failure) {
				f.ReachedServer = false
				f.Err = status.Error(codes.Unavailable, "connection error: dial tcp: connection refused")
			}),
			"plugin-server at " + addr + " unreachable: connection error: dial tcp: connection refused; check that the " +
				"weighbridge plugin-server is running and that --server points at its gRPC port"},
		{"unavailable after a TLS failure hints at the TLS flags",
			with(func(f *failure) {
				f.ReachedServer = false
				f.Err = status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`)
			}),
			"plugin-server at " + addr + ` unreachable: connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"; check that the ` +
				"weighbridge plugin-server is running and that --server points at its gRPC port, and that --tls-ca-file is " +
				"set exactly when plugin-server serves TLS and names the CA of its certificate"},
		{"unavailable over a connection keeps the server's words",
			with(func(f *failure) { f.Err = status.Error(codes.Unavailable, "Kubernetes API unreachable") }),
			"plugin-server at " + addr + " could not complete SetWeight: Kubernetes API unreachable; Argo retries, " +
				"and if this persists check that the plugin-server is running and read its logs"},
		{"own deadline says which call and how long",
			with(func(f *failure) {
				f.DeadlineHit = true
				f.Err = status.Error(codes.DeadlineExceeded, "context deadline exceeded")
			}),
			"plugin-server at " + addr + " did not answer SetWeight within 15s: context deadline exceeded; check the " +
				"plugin-server's logs and load, or raise --call-timeout"},
		{"server's own deadline passes through",
			with(func(f *failure) { f.Err = status.Error(codes.DeadlineExceeded, "Kubernetes API did not answer in 10s") }),
			"Kubernetes API did not answer in 10s"},
		{"unauthenticated with a token",
			with(func(f *failure) {
				f.TokenConfigured = true
				f.Err = status.Error(codes.Unauthenticated, "token expired")
			}),
			"plugin-server at " + addr + " refused the connector's token for SetWeight: token expired; check that " +
				"--token-file (WEIGHBRIDGE_TOKEN_FILE) holds a current projected service-account token with the audience " +
				"plugin-server expects"},
		{"unauthenticated without a token",
			with(func(f *failure) { f.Err = status.Error(codes.Unauthenticated, "bearer token required") }),
			"plugin-server at " + addr + " requires authentication for SetWeight (bearer token required) but the " +
				"connector sends no token: set --token-file (WEIGHBRIDGE_TOKEN_FILE) to a projected service-account " +
				"token of the Argo Rollouts controller"},
		{"permission denied",
			with(func(f *failure) {
				f.Err = status.Error(codes.PermissionDenied, "system:serviceaccount:x:y not allowed")
			}),
			"plugin-server at " + addr + " denied SetWeight: system:serviceaccount:x:y not allowed; the service account " +
				"whose token the connector sends is not allowed: check plugin-server's list of allowed callers"},
		{"token file unreadable",
			with(func(f *failure) {
				f.ReachedServer = false
				f.Err = &transport.TokenError{Path: "/var/run/secrets/t", Err: errors.New("no such file")}
			}),
			"weighbridge connector cannot read its bearer token from /var/run/secrets/t: no such file; check " +
				"--token-file (WEIGHBRIDGE_TOKEN_FILE) and the projected service-account token volume of the Argo " +
				"Rollouts controller pod"},
		{"shutting down",
			with(func(f *failure) {
				f.ShuttingDown = true
				f.Err = status.Error(codes.Canceled, "context canceled")
			}),
			"weighbridge connector is shutting down, SetWeight was not completed; Argo starts the plugin again at a " +
				"later reconcile"},
		{"error before sending",
			with(func(f *failure) { f.Err = fmt.Errorf("cannot encode Rollout a/b as JSON: boom") }),
			"weighbridge connector could not send SetWeight: cannot encode Rollout a/b as JSON: boom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := rpcError(c.in)
			if got != (types.RpcError{ErrorString: c.want}) {
				t.Errorf("got  %q\nwant %q", got.ErrorString, c.want)
			}
		})
	}
}

func TestVerificationToArgo(t *testing.T) {
	cases := []struct {
		in      pb.Verification
		want    types.RpcVerified
		wantErr bool
	}{
		{pb.Verification_VERIFICATION_VERIFIED, types.Verified, false},
		{pb.Verification_VERIFICATION_NOT_VERIFIED, types.NotVerified, false},
		{pb.Verification_VERIFICATION_NOT_IMPLEMENTED, types.NotImplemented, false},
		{pb.Verification_VERIFICATION_UNSPECIFIED, types.NotVerified, true},
		{pb.Verification(42), types.NotVerified, true},
	}
	for _, c := range cases {
		t.Run(c.in.String(), func(t *testing.T) {
			got, err := verificationToArgo(c.in, addr)
			if got != c.want || err.HasError() != c.wantErr {
				t.Errorf("verificationToArgo(%v) = %v, %q; want %v, error=%v", c.in, got, err.ErrorString, c.want, c.wantErr)
			}
		})
	}
}
