package forwarder

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weighbridge/weighbridge/connector/internal/transport"
)

// failure is everything known about a call that did not succeed.
type failure struct {
	// Method is Argo's method name, e.g. "SetWeight".
	Method string
	// Server is the configured plugin-server address.
	Server string
	// Timeout is the per-call deadline that applied.
	Timeout time.Duration
	// Err is what the gRPC call (or the connector before it) returned.
	Err error
	// ReachedServer is true when a connection to plugin-server carried the call, so a status may be the
	// server's own answer; false means no connection could be used at all.
	ReachedServer bool
	// DeadlineHit is true when the connector's own per-call deadline expired.
	DeadlineHit bool
	// ShuttingDown is true when the call was cancelled because the connector is exiting.
	ShuttingDown bool
	// TokenConfigured tells whether the connector sends a bearer token at all.
	TokenConfigured bool
}

// rpcError is the single place where a failed call becomes the text Argo shows in the Rollout's events.
// plugin-server's own answers are written for operators and pass through unchanged; failures of the
// connection itself say what to check.
func rpcError(f failure) types.RpcError {
	return types.RpcError{ErrorString: describe(f)}
}

func describe(f failure) string {
	var tokenErr *transport.TokenError
	if errors.As(f.Err, &tokenErr) {
		return fmt.Sprintf("weighbridge connector cannot read its bearer token from %s: %v; check --token-file "+
			"(WEIGHBRIDGE_TOKEN_FILE) and the projected service-account token volume of the Argo Rollouts controller pod",
			tokenErr.Path, tokenErr.Err)
	}
	if f.ShuttingDown {
		return fmt.Sprintf("weighbridge connector is shutting down, %s was not completed; Argo starts the plugin "+
			"again at a later reconcile", f.Method)
	}
	st, ok := status.FromError(f.Err)
	if !ok {
		// Not a gRPC status: the connector failed before sending (e.g. the Rollout could not be encoded).
		return fmt.Sprintf("weighbridge connector could not send %s: %v", f.Method, f.Err)
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		if !f.ReachedServer {
			hint := ""
			if looksLikeTLSMismatch(msg) {
				hint = ", and that --tls-ca-file is set exactly when plugin-server serves TLS and names the CA of its certificate"
			}
			return fmt.Sprintf("plugin-server at %s unreachable: %s; check that the weighbridge plugin-server is "+
				"running and that --server points at its gRPC port%s", f.Server, msg, hint)
		}
		return fmt.Sprintf("plugin-server at %s could not complete %s: %s; Argo retries, and if this persists "+
			"check that the plugin-server is running and read its logs", f.Server, f.Method, msg)
	case codes.DeadlineExceeded:
		if f.DeadlineHit {
			return fmt.Sprintf("plugin-server at %s did not answer %s within %s: %s; check the plugin-server's logs "+
				"and load, or raise --call-timeout", f.Server, f.Method, f.Timeout, msg)
		}
	case codes.Unauthenticated:
		if !f.TokenConfigured {
			return fmt.Sprintf("plugin-server at %s requires authentication for %s (%s) but the connector sends no "+
				"token: set --token-file (WEIGHBRIDGE_TOKEN_FILE) to a projected service-account token of the Argo "+
				"Rollouts controller", f.Server, f.Method, msg)
		}
		return fmt.Sprintf("plugin-server at %s refused the connector's token for %s: %s; check that --token-file "+
			"(WEIGHBRIDGE_TOKEN_FILE) holds a current projected service-account token with the audience "+
			"plugin-server expects", f.Server, f.Method, msg)
	case codes.PermissionDenied:
		return fmt.Sprintf("plugin-server at %s denied %s: %s; the service account whose token the connector "+
			"sends is not allowed: check plugin-server's list of allowed callers", f.Server, f.Method, msg)
	}
	if msg == "" {
		return fmt.Sprintf("plugin-server at %s answered %s with %s and no message; check the plugin-server's logs",
			f.Server, f.Method, st.Code())
	}
	return msg
}

// looksLikeTLSMismatch recognises grpc-go's connection errors that mean the two ends disagree about TLS or
// its certificate: a TLS handshake error, or a TLS server closing a plaintext connection before its preface.
func looksLikeTLSMismatch(msg string) bool {
	for _, s := range []string{"tls:", "x509:", "handshake", "server preface"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
