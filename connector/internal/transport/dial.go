// Package transport opens the connector's one long-lived gRPC connection to plugin-server.
package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
)

// MaxMessageSize bounds request and answer sizes. A Rollout is sent whole as JSON, and a Rollout with a big
// pod template and long status can approach etcd's object limit (about 1.5 MiB), so leave ample room.
const MaxMessageSize = 16 << 20

// Keepalive: while the connection is idle between reconciles, a ping every KeepaliveTime finds a dead
// plugin-server (a vanished pod leaves no FIN), so the next call reconnects instead of waiting out its
// deadline on a dead TCP connection. plugin-server must permit pings this often, also without calls.
const (
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 10 * time.Second
)

// DefaultBackoff retries a failed connection quickly and never waits more than 5 s between attempts:
// grpc's default (up to 120 s) would keep a restarted plugin-server unused for minutes.
var DefaultBackoff = backoff.Config{
	BaseDelay:  250 * time.Millisecond,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   5 * time.Second,
}

// Options configures Dial.
type Options struct {
	// Server is the gRPC target (host:port or a gRPC target URI).
	Server string
	// CAPool, when not nil, turns on TLS and trusts only these CAs.
	CAPool *x509.CertPool
	// ServerName overrides the name verified in the server's certificate.
	ServerName string
	// Token, when not nil, supplies the bearer token of every call.
	Token *FileToken
	// UserAgent identifies the connector and its version.
	UserAgent string
	// Version, when set, is sent in the VersionHeader of every call (plugin-server counts calls by it, to show
	// a connector of another release than the server).
	Version string
	// Backoff between connection attempts; zero value means DefaultBackoff.
	Backoff backoff.Config
}

// VersionHeader carries the connector's version on every call (plugin-server's
// weighbridge_connector_calls_total{connector_version}).
const VersionHeader = "weighbridge-connector-version"

func versionInterceptor(version string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.AppendToOutgoingContext(ctx, VersionHeader, version), method, req, reply, cc, opts...)
	}
}

// Dial creates the ClientConn. It does not connect: grpc-go connects at the first call and reconnects by
// itself after the connection is lost, so one ClientConn serves the whole life of the process.
func Dial(o Options) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if o.CAPool != nil {
		creds = credentials.NewTLS(&tls.Config{
			RootCAs:    o.CAPool,
			ServerName: o.ServerName,
			MinVersion: tls.VersionTLS12,
		})
	}
	bo := o.Backoff
	if bo == (backoff.Config{}) {
		bo = DefaultBackoff
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                KeepaliveTime,
			Timeout:             KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 5 * time.Second}),
	}
	if o.UserAgent != "" {
		opts = append(opts, grpc.WithUserAgent(o.UserAgent))
	}
	if o.Version != "" {
		opts = append(opts, grpc.WithChainUnaryInterceptor(versionInterceptor(o.Version)))
	}
	if o.Token != nil {
		opts = append(opts, grpc.WithChainUnaryInterceptor(bearerInterceptor(o.Token)))
	}
	conn, err := grpc.NewClient(o.Server, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot use %q as plugin-server address: %w", o.Server, err)
	}
	return conn, nil
}
