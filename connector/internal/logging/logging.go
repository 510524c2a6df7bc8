// Package logging builds the connector's structured logger.
//
// The connector's stderr is read by go-plugin inside the Argo Rollouts controller. go-plugin re-logs a JSON
// line at its own level when the line uses hclog's keys (@level, @message, @timestamp); any other line lands
// at debug level. So the connector writes slog JSON under hclog's key names: its warnings and errors then
// show up in the controller's log as warnings and errors.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// hclogTimeFormat is the only timestamp layout go-plugin's log parser accepts.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// New returns a JSON logger writing to w (the process's real stderr) from level upwards.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: hclogKeys,
	})).With(slog.String("component", "weighbridge-connector"))
}

// hclogKeys renames slog's built-in keys to the ones go-plugin understands.
func hclogKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
	case slog.LevelKey:
		return slog.String("@level", strings.ToLower(a.Value.String()))
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	return a
}
