package config

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != DefaultServer || cfg.PluginName != DefaultPluginName || cfg.CallTimeout != 15*time.Second ||
		cfg.TLSCAPool != nil || cfg.TokenFile != "" || cfg.LogLevel != slog.LevelInfo {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
}

func TestEnvironmentAndFlagsFlagWins(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := env(
		"WEIGHBRIDGE_SERVER", "from-env:1234",
		"WEIGHBRIDGE_PLUGIN_NAME", "argoproj-labs/gatewayAPI",
		"WEIGHBRIDGE_CALL_TIMEOUT", "not-a-duration", // overridden by the flag, so never parsed
		"WEIGHBRIDGE_TOKEN_FILE", token,
		"WEIGHBRIDGE_LOG_LEVEL", "debug",
	)
	cfg, err := Parse([]string{"--server=from-flag:9090", "--call-timeout=3s"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "from-flag:9090" {
		t.Errorf("flag must win over env: server = %q", cfg.Server)
	}
	if cfg.PluginName != "argoproj-labs/gatewayAPI" || cfg.CallTimeout != 3*time.Second || cfg.TokenFile != token ||
		cfg.LogLevel != slog.LevelDebug {
		t.Errorf("unexpected config: %+v", cfg)
	}
}

func TestInvalidSettingsAreRejectedClearly(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	notPEM := filepath.Join(dir, "not.pem")
	for _, f := range []string{empty, notPEM} {
		content := ""
		if f == notPEM {
			content = "hello"
		}
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		args   []string
		lookup func(string) (string, bool)
		want   string
	}{
		{"server without port", []string{"--server=plugin-server"}, env(), `--server="plugin-server": must be host:port`},
		{"server bad port", []string{"--server=host:99999"}, env(), "port must be a number from 1 to 65535"},
		{"server empty from env", nil, env("WEIGHBRIDGE_SERVER", ""), `WEIGHBRIDGE_SERVER="": must not be empty`},
		{"plugin name", []string{"--plugin-name=gateway"}, env(), `--plugin-name="gateway": must look like <namespace>/<name>`},
		{"timeout not a duration", nil, env("WEIGHBRIDGE_CALL_TIMEOUT", "15"), `WEIGHBRIDGE_CALL_TIMEOUT="15": not a duration`},
		{"timeout zero", []string{"--call-timeout=0s"}, env(), "must be positive"},
		{"CA file missing", []string{"--tls-ca-file=" + filepath.Join(dir, "nope")}, env(), "cannot read the CA file"},
		{"CA file without PEM", []string{"--tls-ca-file=" + notPEM}, env(), "holds no PEM certificate"},
		{"server name without TLS", []string{"--tls-server-name=x"}, env(), "only applies to TLS"},
		{"token file missing", nil, env("WEIGHBRIDGE_TOKEN_FILE", filepath.Join(dir, "nope")), "cannot read the token file"},
		{"token file empty", []string{"--token-file=" + empty}, env(), "the token file is empty"},
		{"log level", []string{"--log-level=loud"}, env(), "must be one of debug, info, warn, error"},
		{"positional argument", []string{"weighbridge:9090"}, env(), `unexpected argument "weighbridge:9090"`},
		{"unknown flag", []string{"--sever=x:1"}, env(), "flag provided but not defined: -sever"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.args, c.lookup, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v does not contain %q", err, c.want)
			}
		})
	}
}

func TestEveryErrorIsReported(t *testing.T) {
	_, err := Parse([]string{"--server=x", "--log-level=loud"}, env(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--server") || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("want both problems in one error, got %v", err)
	}
}

func TestVersionAndHelp(t *testing.T) {
	cfg, err := Parse([]string{"--version", "--server=ignored"}, env(), io.Discard)
	if err != nil || !cfg.ShowVersion {
		t.Errorf("--version: cfg=%+v err=%v", cfg, err)
	}
	var usage strings.Builder
	if _, err := Parse([]string{"--help"}, env(), &usage); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: err=%v", err)
	}
	for _, s := range settings {
		if !strings.Contains(usage.String(), "-"+s.flag) || !strings.Contains(usage.String(), s.env) {
			t.Errorf("usage does not document --%s / %s:\n%s", s.flag, s.env, usage.String())
		}
	}
}
