package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// TestLinesParseAsHclog checks a line against the rules of go-plugin's parser (log_entry.go): @message and
// @level as strings, @timestamp in hclog's exact layout, everything else kept as key/value pairs.
func TestLinesParseAsHclog(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo).Warn("plugin-server unreachable", "method", "SetWeight")

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.String())
	}
	if line["@message"] != "plugin-server unreachable" || line["@level"] != "warn" || line["method"] != "SetWeight" {
		t.Errorf("unexpected fields: %v", line)
	}
	ts, ok := line["@timestamp"].(string)
	if !ok {
		t.Fatalf("@timestamp missing: %v", line)
	}
	if _, err := time.Parse(hclogTimeFormat, ts); err != nil {
		t.Errorf("@timestamp %q does not parse with go-plugin's layout: %v", ts, err)
	}
	for _, k := range []string{"time", "level", "msg"} {
		if _, ok := line[k]; ok {
			t.Errorf("slog key %q should have been renamed: %v", k, line)
		}
	}
}

func TestLevelFilters(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelWarn).Info("hidden")
	if buf.Len() != 0 {
		t.Errorf("info written at warn level: %s", buf.String())
	}
}
