// Package config reads the connector's settings from its command line and environment.
//
// Argo Rollouts starts the connector with the `args` of its trafficRouterPlugins entry and with the
// controller's whole environment, so every setting can come from either; a flag wins over its variable.
package config

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults fixed by the project's conventions.
const (
	DefaultServer      = "weighbridge.argo-rollouts.svc:9090"
	DefaultPluginName  = "weighbridge/gateway-api"
	DefaultCallTimeout = 15 * time.Second
)

// pluginNamePattern is the pattern Argo Rollouts itself enforces on trafficRouterPlugins names.
var pluginNamePattern = regexp.MustCompile(`^([a-zA-Z0-9-]+)/([a-zA-Z0-9_.-]+)$`)

// Config is the connector's effective, validated configuration. It is never changed after Parse.
type Config struct {
	// Server is the gRPC target of plugin-server: host:port, or a gRPC target URI such as dns:///host:port.
	Server string
	// PluginName is the name Argo runs the connector as; it is sent with every call.
	PluginName string
	// CallTimeout bounds every forwarded call, because Argo's own calls to the plugin have no timeout.
	CallTimeout time.Duration
	// TLSCAFile, when set, switches the connection to TLS and trusts only the CA certificates in this file.
	TLSCAFile string
	// TLSCAPool holds the certificates read from TLSCAFile (nil for plaintext).
	TLSCAPool *x509.CertPool
	// TLSServerName overrides the name checked against the server certificate (default: the host of Server).
	TLSServerName string
	// TokenFile, when set, holds the bearer token sent with every call; it is re-read when it changes.
	TokenFile string
	// LogLevel is the minimum level written to stderr.
	LogLevel slog.Level
	// ShowVersion asks the connector to print its version and exit.
	ShowVersion bool
}

// ErrHelp is returned by Parse when -h or --help was given; usage has been written already.
var ErrHelp = flag.ErrHelp

// setting describes one flag and the environment variable that backs it.
type setting struct {
	flag  string
	env   string
	usage string
}

var settings = []setting{
	{"server", "WEIGHBRIDGE_SERVER", "gRPC address (host:port) of the weighbridge plugin-server"},
	{"plugin-name", "WEIGHBRIDGE_PLUGIN_NAME", "plugin name as configured in Argo's trafficRouterPlugins (sent to plugin-server)"},
	{"call-timeout", "WEIGHBRIDGE_CALL_TIMEOUT", "upper bound of every call to plugin-server (Go duration, e.g. 15s)"},
	{"tls-ca-file", "WEIGHBRIDGE_TLS_CA_FILE", "PEM file of the CA(s) that signed plugin-server's certificate; empty = plaintext"},
	{"tls-server-name", "WEIGHBRIDGE_TLS_SERVER_NAME", "name to verify in plugin-server's certificate (default: host of --server)"},
	{"token-file", "WEIGHBRIDGE_TOKEN_FILE", "file with a bearer token sent as 'authorization: Bearer <token>'; re-read when it changes"},
	{"log-level", "WEIGHBRIDGE_LOG_LEVEL", "debug, info, warn or error"},
}

// Parse reads args (without the program name) and env (a lookup like os.LookupEnv) into a Config.
// Usage and -h output go to usageOut. Every error names the flag or variable and says what is accepted.
func Parse(args []string, lookupEnv func(string) (string, bool), usageOut io.Writer) (Config, error) {
	fs := flag.NewFlagSet("weighbridge-connector", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	raw := map[string]*string{}
	defaults := map[string]string{
		"server":       DefaultServer,
		"plugin-name":  DefaultPluginName,
		"call-timeout": DefaultCallTimeout.String(),
		"log-level":    "info",
	}
	for _, s := range settings {
		raw[s.flag] = fs.String(s.flag, defaults[s.flag], fmt.Sprintf("%s (env %s)", s.usage, s.env))
	}
	showVersion := fs.Bool("version", false, "print the connector's version and exit")
	fs.Usage = func() {
		fmt.Fprintf(usageOut, "Usage: weighbridge-connector [flags]\n\n"+
			"Argo Rollouts traffic-router plugin that forwards every call to the weighbridge plugin-server.\n"+
			"Argo starts it; run by hand it only answers --help and --version.\n\nFlags (a flag wins over its variable):\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: every setting is a flag such as --server=host:port (see --help)", fs.Arg(0))
	}

	// source tells, for error messages, where a value came from.
	source := map[string]string{}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings {
		source[s.flag] = "--" + s.flag
		if given[s.flag] {
			continue
		}
		if v, ok := lookupEnv(s.env); ok {
			*raw[s.flag] = v
			source[s.flag] = s.env
		}
	}
	cfg := Config{ShowVersion: *showVersion}
	if cfg.ShowVersion {
		return cfg, nil
	}

	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", source[name], *raw[name], fmt.Sprintf(format, a...)))
	}

	cfg.Server = strings.TrimSpace(*raw["server"])
	if msg := checkServer(cfg.Server); msg != "" {
		bad("server", "%s", msg)
	}

	cfg.PluginName = strings.TrimSpace(*raw["plugin-name"])
	if !pluginNamePattern.MatchString(cfg.PluginName) {
		bad("plugin-name", "must look like <namespace>/<name> (Argo's pattern %s), e.g. %s",
			pluginNamePattern, DefaultPluginName)
	}

	if d, err := time.ParseDuration(strings.TrimSpace(*raw["call-timeout"])); err != nil {
		bad("call-timeout", "not a duration: use a number with a unit, e.g. 15s or 1m")
	} else if d <= 0 {
		bad("call-timeout", "must be positive: it bounds every call so that a stuck plugin-server cannot block Argo's workers")
	} else {
		cfg.CallTimeout = d
	}

	cfg.TLSCAFile = strings.TrimSpace(*raw["tls-ca-file"])
	if cfg.TLSCAFile != "" {
		pool, err := readCAFile(cfg.TLSCAFile)
		if err != nil {
			bad("tls-ca-file", "%v", err)
		}
		cfg.TLSCAPool = pool
	}
	cfg.TLSServerName = strings.TrimSpace(*raw["tls-server-name"])
	if cfg.TLSServerName != "" && cfg.TLSCAFile == "" {
		bad("tls-server-name", "only applies to TLS: also set --tls-ca-file (WEIGHBRIDGE_TLS_CA_FILE) to the CA of plugin-server's certificate")
	}

	cfg.TokenFile = strings.TrimSpace(*raw["token-file"])
	if cfg.TokenFile != "" {
		if err := checkTokenFile(cfg.TokenFile); err != nil {
			bad("token-file", "%v", err)
		}
	}

	switch strings.ToLower(strings.TrimSpace(*raw["log-level"])) {
	case "debug":
		cfg.LogLevel = slog.LevelDebug
	case "info":
		cfg.LogLevel = slog.LevelInfo
	case "warn", "warning":
		cfg.LogLevel = slog.LevelWarn
	case "error":
		cfg.LogLevel = slog.LevelError
	default:
		bad("log-level", "must be one of debug, info, warn, error")
	}

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// checkServer returns what is wrong with a --server value, or "" when it is usable.
func checkServer(s string) string {
	if s == "" {
		return "must not be empty: give plugin-server's gRPC address, e.g. " + DefaultServer
	}
	if strings.Contains(s, "://") || strings.HasPrefix(s, "unix:") {
		return "" // a gRPC target URI (dns:///, unix:, ...): grpc-go validates it when it resolves.
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "must be host:port, e.g. " + DefaultServer
	}
	if host == "" {
		return "host is missing: use host:port, e.g. " + DefaultServer
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "port must be a number from 1 to 65535, e.g. " + DefaultServer
	}
	return ""
}

// readCAFile loads the PEM certificates of a CA file.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("holds no PEM certificate: it must contain the CA certificate(s) that signed plugin-server's certificate")
	}
	return pool, nil
}

// checkTokenFile fails fast when the token file cannot serve a single call.
func checkTokenFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the token file (mount a projected service-account token there): %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return errors.New("the token file is empty")
	}
	return nil
}

// Attrs returns the effective configuration as log attributes (never the token itself).
func (c Config) Attrs() []any {
	return []any{
		slog.String("server", c.Server),
		slog.String("plugin_name", c.PluginName),
		slog.String("call_timeout", c.CallTimeout.String()),
		slog.Bool("tls", c.TLSCAFile != ""),
		slog.String("tls_ca_file", c.TLSCAFile),
		slog.String("tls_server_name", c.TLSServerName),
		slog.String("token_file", c.TokenFile),
		slog.String("log_level", strings.ToLower(c.LogLevel.String())),
	}
}
