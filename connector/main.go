// Command weighbridge-connector is the executable Argo Rollouts runs as its traffic-router plugin.
//
// Argo execs it as a go-plugin net/rpc plugin (Argo's own rpc package serves that side); every call is
// forwarded over one long-lived gRPC connection to the weighbridge plugin-server, which does the work.
// The binary is static so that it runs inside the distroless controller image.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/weighbridge/weighbridge/connector/internal/config"
	"github.com/weighbridge/weighbridge/connector/internal/forwarder"
	"github.com/weighbridge/weighbridge/connector/internal/logging"
	"github.com/weighbridge/weighbridge/connector/internal/transport"
	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Handshake is Argo Rollouts' handshake for traffic-router plugins (rollout/trafficrouting/plugin/client).
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "trafficrouter",
}

// PluginKey is the name under which Argo dispenses the traffic-router plugin.
const PluginKey = "RpcTrafficRouterPlugin"

// parentPollInterval is how often the connector checks that the process that started it is still alive.
const parentPollInterval = 250 * time.Millisecond

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is main without os.Exit, returning the exit code.
func run(args []string, lookupEnv func(string) (string, bool), stdout, stderr *os.File) int {
	cfg, err := config.Parse(args, lookupEnv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "weighbridge-connector: invalid configuration:\n%v\n", err)
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintln(stdout, version)
		return 0
	}

	// The logger keeps the real stderr: go-plugin's Serve later redirects os.Stderr to a stream that Argo
	// does not read, while the process's stderr is logged by the controller.
	log := logging.New(stderr, cfg.LogLevel)
	log.Info("starting", append([]any{slog.String("version", version)}, cfg.Attrs()...)...)
	if cfg.TokenFile != "" && cfg.TLSCAFile == "" {
		log.Warn("the bearer token is sent without TLS; set --tls-ca-file unless a mesh encrypts the connection")
	}

	var token *transport.FileToken
	if cfg.TokenFile != "" {
		token = transport.NewFileToken(cfg.TokenFile)
	}
	conn, err := transport.Dial(transport.Options{
		Server:     cfg.Server,
		CAPool:     cfg.TLSCAPool,
		ServerName: cfg.TLSServerName,
		Token:      token,
		UserAgent:  "weighbridge-connector/" + version,
		Version:    version,
	})
	if err != nil {
		log.Error("cannot create the plugin-server client", slog.String("error", err.Error()))
		return 1
	}

	base, cancel := context.WithCancel(context.Background())
	var once sync.Once
	shutdown := func(reason string) {
		once.Do(func() {
			log.Info("shutting down", slog.String("reason", reason))
			cancel()
			closeQuietly(conn, log)
		})
	}
	defer shutdown("go-plugin asked the plugin to quit")

	// go-plugin ignores SIGINT on purpose (the host decides when a plugin ends), and Go's default for
	// SIGTERM would skip closing the connection. The connector ends on both, since it keeps no state.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		shutdown("received " + sig.String())
		os.Exit(0)
	}()
	// A killed controller cannot send Control.Quit; the connector then becomes an orphan and must not stay.
	go watchParent(os.Getppid(), parentPollInterval, func() {
		shutdown("the process that started the connector has exited")
		os.Exit(0)
	})

	fwd := forwarder.New(base, pb.NewTrafficRouterClient(conn), forwarder.Options{
		Server:          cfg.Server,
		PluginName:      cfg.PluginName,
		Version:         version,
		CallTimeout:     cfg.CallTimeout,
		TokenConfigured: token != nil,
		Logger:          log,
	})
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]goplugin.Plugin{PluginKey: &rpc.RpcTrafficRouterPlugin{Impl: fwd}},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclogLevel(cfg.LogLevel),
			Output:     stderr,
			JSONFormat: true,
		}),
	})
	return 0
}

// watchParent calls gone once the parent process has changed, i.e. the original parent exited and the
// connector was re-parented. A parent pid of 1 at start means there is no parent to watch.
func watchParent(ppid int, every time.Duration, gone func()) {
	if ppid <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			gone()
			return
		}
	}
}

func closeQuietly(c io.Closer, log *slog.Logger) {
	if err := c.Close(); err != nil {
		log.Debug("closing the plugin-server connection", slog.String("error", err.Error()))
	}
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l <= slog.LevelDebug:
		return hclog.Debug
	case l <= slog.LevelInfo:
		return hclog.Info
	case l <= slog.LevelWarn:
		return hclog.Warn
	default:
		return hclog.Error
	}
}
