package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func row(at time.Duration, step string, weights ...int64) Row {
	return Row{At: at, Release: "v2", Step: step, Phase: "Progressing", Weights: weights, Analyzer: "ANALYZING", Canary: "12 (0 err)"}
}

func TestLineColumnsLineUpWithTheHeader(t *testing.T) {
	tb := &Table{Routes: []string{"web", "mesh", "grpc"}}
	header := strings.Split(tb.Header(), "\n")[0]
	line := tb.Line(Row{At: 1500 * time.Millisecond, Release: "v3-bad", Step: "0/7 setWeight 1", Phase: "Degraded (aborted)",
		Weights: []int64{100, 1, 0}, Analyzer: "INCONCLUSIVE", Canary: "18835 (139 err)", Event: "rolled back"})
	for _, title := range []string{"release", "argo step", "argo phase", "web", "mesh", "grpc", "analyzer", "canary requests", "event"} {
		col := strings.Index(header, title)
		if col < 0 {
			t.Fatalf("header %q has no column %q", header, title)
		}
		if col == 0 || line[col-1] != ' ' || line[col] == ' ' {
			t.Errorf("column %q starts at %d in the header but not in the line:\n%s\n%s", title, col, header, line)
		}
	}
	for _, want := range []string{"   1.5s", "v3-bad", "Degraded (aborted)", "100%", "1%", "0%", "INCONCLUSIVE", "18835 (139 err)", "rolled back"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
}

func TestLongCellsAreCutAndUnknownWeightsShown(t *testing.T) {
	tb := &Table{Routes: []string{"web", "mesh"}}
	line := tb.Line(Row{Step: "2/7 setHeaderRoute a-very-long-header-route-name", Weights: []int64{-1}})
	if !strings.Contains(line, "2/7 setHeaderRoute ~") {
		t.Errorf("a cell wider than its column is cut with ~: %q", line)
	}
	if strings.Count(line, "?") != 2 {
		t.Errorf("an unread weight (-1) and a missing one both show as ?: %q", line)
	}
	if strings.Contains(line, "a-very-long") {
		t.Errorf("the cut cell overflowed: %q", line)
	}
}

func TestAddKeepsChangesAndEventsOnly(t *testing.T) {
	tb := &Table{Routes: []string{"web"}}
	if !tb.Add(row(0, "0/7 setWeight 1", 0)) {
		t.Fatal("the first row is added")
	}
	more := row(time.Second, "0/7 setWeight 1", 0)
	more.Canary = "500 (1 err)"
	if tb.Add(more) {
		t.Error("a row that differs only in time and counters is not added")
	}
	if !tb.Add(row(2*time.Second, "0/7 setWeight 1", 1)) {
		t.Error("a changed weight is added")
	}
	event := row(3*time.Second, "0/7 setWeight 1", 1)
	event.Event = "every route at 1%"
	if !tb.Add(event) {
		t.Error("an event is added even when nothing else changed")
	}
	if len(tb.rows) != 3 {
		t.Errorf("rows = %d, want 3", len(tb.rows))
	}
}

func TestPlainScreenPrintsTheHeaderOnceThenOneLinePerNewRow(t *testing.T) {
	var out bytes.Buffer
	s := NewScreen(&out, false, nil, []string{"title"}, []string{"web"})
	s.Add(row(0, "0/7 setWeight 1", 0))
	s.Status("waiting for Argo")
	s.Add(row(time.Second, "0/7 setWeight 1", 0)) // unchanged: no line
	s.Add(row(2*time.Second, "1/7 pause 5s", 1))
	s.Done()
	text := out.String()
	if strings.Contains(text, "\x1b") {
		t.Errorf("plain output has escape sequences: %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 5 || lines[0] != "title" || !strings.HasPrefix(lines[1], "time") || !strings.HasPrefix(lines[2], "----") {
		t.Fatalf("want title, header, rule and two rows, got:\n%s", text)
	}
	if !strings.Contains(lines[3], "0/7 setWeight 1") || !strings.Contains(lines[4], "1/7 pause 5s") {
		t.Errorf("rows out of order:\n%s", text)
	}
	if strings.Contains(text, "waiting for") {
		t.Errorf("plain output has no status line:\n%s", text)
	}
}

func TestLiveScreenRedrawsInPlaceWithStatusAndKeepsTheLastRowsThatFit(t *testing.T) {
	var out bytes.Buffer
	s := NewScreen(&out, true, func() int { return 12 }, []string{"title"}, []string{"web"})
	for i := range 20 {
		s.Add(row(time.Duration(i)*time.Second, "0/7 setWeight 1", int64(i)))
	}
	out.Reset()
	s.Status("now: waiting for Argo")
	frame := out.String()
	if !strings.HasPrefix(frame, "\x1b[H") || !strings.HasSuffix(frame, "\x1b[J") {
		t.Errorf("a frame starts at the cursor home and clears what is below it: %q", frame)
	}
	visible := strings.Split(strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(frame, "\x1b[H"), "\x1b[K", ""), "\x1b[J"), "\n")
	if len(visible) > 12 {
		t.Errorf("the frame has %d lines, more than the terminal's 12:\n%s", len(visible), strings.Join(visible, "\n"))
	}
	if !strings.Contains(frame, "earlier rows") || !strings.Contains(frame, "19%") || strings.Contains(frame, " 0.0s") {
		t.Errorf("the frame shows the latest rows and says how many earlier ones it left out:\n%s", frame)
	}
	if !strings.Contains(frame, "now: waiting for Argo") {
		t.Errorf("the status line is under the table:\n%s", frame)
	}
	out.Reset()
	s.Done()
	if strings.Contains(out.String(), "waiting for") {
		t.Errorf("the final frame has no status line:\n%s", out.String())
	}
}
