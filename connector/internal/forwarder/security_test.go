package forwarder_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/weighbridge/weighbridge/connector/internal/config"
	"github.com/weighbridge/weighbridge/connector/internal/fakeserver"
	"github.com/weighbridge/weighbridge/connector/internal/fixture"
	"github.com/weighbridge/weighbridge/connector/internal/transport"
)

// writeProjectedToken lays out a token the way the kubelet does for a projected volume: the file is a
// symlink through "..data", and rotation atomically points "..data" at a new timestamped directory.
func writeProjectedToken(t *testing.T, dir, generation, token string) {
	t.Helper()
	gen := filepath.Join(dir, "..gen-"+generation)
	if err := os.MkdirAll(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gen, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..gen-"+generation, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "token")); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
			t.Fatal(err)
		}
	}
}

func authorization(t *testing.T, srv *fakeserver.Server, method string) string {
	t.Helper()
	c, ok := srv.Last(method)
	if !ok {
		t.Fatalf("no %s call arrived", method)
	}
	v := c.Metadata.Get("authorization")
	if len(v) != 1 {
		t.Fatalf("want exactly one authorization header, got %q", v)
	}
	return v[0]
}

func TestBearerTokenIsSentAndReReadAfterRotation(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	writeProjectedToken(t, dir, "1", "token-one")
	fwd := newForwarder(t, transport.Options{Server: srv.Addr,
		Token: transport.NewFileToken(filepath.Join(dir, "token"))}, 5*time.Second)

	if err := fwd.SetWeight(fixture.Rollout(), 10, nil); err.HasError() {
		t.Fatal(err.ErrorString)
	}
	if got := authorization(t, srv, "SetWeight"); got != "Bearer token-one" {
		t.Errorf("authorization = %q, want %q", got, "Bearer token-one")
	}

	writeProjectedToken(t, dir, "2", "token-two")
	if err := os.RemoveAll(filepath.Join(dir, "..gen-1")); err != nil {
		t.Fatal(err)
	}
	if err := fwd.SetWeight(fixture.Rollout(), 20, nil); err.HasError() {
		t.Fatal(err.ErrorString)
	}
	if got := authorization(t, srv, "SetWeight"); got != "Bearer token-two" {
		t.Errorf("after rotation authorization = %q, want %q", got, "Bearer token-two")
	}
}

func TestUnreadableTokenFailsTheCallClearly(t *testing.T) {
	srv := startServer(t)
	path := filepath.Join(t.TempDir(), "token")
	fwd := newForwarder(t, transport.Options{Server: srv.Addr, Token: transport.NewFileToken(path)}, 5*time.Second)

	err := fwd.SetWeight(fixture.Rollout(), 10, nil)

	if !strings.HasPrefix(err.ErrorString, "weighbridge connector cannot read its bearer token from "+path) {
		t.Errorf("unexpected error %q", err.ErrorString)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("a call without its token reached the server (%d calls)", n)
	}
}

// testPKI is a CA and a server certificate it signed for plugin-server.test and 127.0.0.1.
type testPKI struct {
	caPEM  []byte
	server tls.Certificate
}

func newPKI(t *testing.T, commonName string) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "plugin-server.test"},
		DNSNames:     []string{"plugin-server.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key},
	}
}

// tlsConfigFromFlags runs the connector's own flag parsing, so the CA file is read as in production.
func tlsConfigFromFlags(t *testing.T, args ...string) config.Config {
	t.Helper()
	cfg, err := config.Parse(args, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestTLSWithCAFile(t *testing.T) {
	pki := newPKI(t, "weighbridge test CA")
	srv, err := fakeserver.Start("127.0.0.1:0",
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	writeProjectedToken(t, dir, "1", "tls-token")

	t.Run("trusted CA and server name", func(t *testing.T) {
		cfg := tlsConfigFromFlags(t, "--server="+srv.Addr, "--tls-ca-file="+caFile, "--tls-server-name=plugin-server.test")
		fwd := newForwarder(t, transport.Options{Server: cfg.Server, CAPool: cfg.TLSCAPool, ServerName: cfg.TLSServerName,
			Token: transport.NewFileToken(filepath.Join(dir, "token"))}, 5*time.Second)
		if err := fwd.SetWeight(fixture.Rollout(), 10, nil); err.HasError() {
			t.Fatalf("call over TLS failed: %s", err.ErrorString)
		}
		if got := authorization(t, srv, "SetWeight"); got != "Bearer tls-token" {
			t.Errorf("authorization = %q", got)
		}
	})
	t.Run("server name defaults to the host of --server", func(t *testing.T) {
		cfg := tlsConfigFromFlags(t, "--server="+srv.Addr, "--tls-ca-file="+caFile)
		fwd := newForwarder(t, transport.Options{Server: cfg.Server, CAPool: cfg.TLSCAPool}, 5*time.Second)
		if err := fwd.InitPlugin(); err.HasError() {
			t.Fatalf("call over TLS failed: %s", err.ErrorString)
		}
	})
	t.Run("untrusted CA is refused and reported", func(t *testing.T) {
		other := newPKI(t, "some other CA")
		otherFile := filepath.Join(t.TempDir(), "other.crt")
		if err := os.WriteFile(otherFile, other.caPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := tlsConfigFromFlags(t, "--server="+srv.Addr, "--tls-ca-file="+otherFile)
		fwd := newForwarder(t, transport.Options{Server: cfg.Server, CAPool: cfg.TLSCAPool}, 5*time.Second)
		err := fwd.SetWeight(fixture.Rollout(), 10, nil)
		t.Log(err.ErrorString)
		if !strings.Contains(err.ErrorString, "unreachable") || !strings.Contains(err.ErrorString, "certificate") {
			t.Errorf("want an unreachable error naming the certificate problem, got %q", err.ErrorString)
		}
	})
	t.Run("plaintext client is refused", func(t *testing.T) {
		fwd := newForwarder(t, transport.Options{Server: srv.Addr}, 5*time.Second)
		err := fwd.SetWeight(fixture.Rollout(), 10, nil)
		t.Log(err.ErrorString)
		if !strings.Contains(err.ErrorString, "unreachable") {
			t.Errorf("want an unreachable error, got %q", err.ErrorString)
		}
	})
}

func TestVersionHeaderIsSentOnEveryCall(t *testing.T) {
	srv := startServer(t)
	fwd := newForwarder(t, transport.Options{Server: srv.Addr, Version: "v1.2.3"}, 5*time.Second)

	for _, w := range []int32{10, 20} {
		if err := fwd.SetWeight(fixture.Rollout(), w, nil); err.HasError() {
			t.Fatal(err.ErrorString)
		}
		c, _ := srv.Last("SetWeight")
		if got := c.Metadata.Get(transport.VersionHeader); len(got) != 1 || got[0] != "v1.2.3" {
			t.Errorf("%s = %q, want [v1.2.3]", transport.VersionHeader, got)
		}
	}
}
