package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Row is one line of the demo's table: what Argo, the routes and the analyzer said at a moment when one of them
// changed, or an action of the demo (Event).
type Row struct {
	At       time.Duration // since the table started
	Release  string        // the image tag of the Rollout's pod template
	Step     string        // Argo's current step (cluster.StepLabel)
	Phase    string        // Argo's phase, "Degraded (aborted)" when aborted
	Weights  []int64       // the canary's weight on each route, in the order of Table.Routes; -1 = not read yet
	Analyzer string        // the analyzer's phase for the Rollout ("" when it has none)
	Canary   string        // requests the canary has served so far and how many failed
	Event    string
}

// key is what makes a row worth a new line: the counters tick all the time and do not count.
func (r Row) key() string {
	return fmt.Sprint(r.Release, "|", r.Step, "|", r.Phase, "|", r.Weights, "|", r.Analyzer)
}

type column struct {
	title string
	width int
}

// Table renders rows in fixed-width columns, so that lines printed one at a time (plain output) line up
// just like a redrawn table.
type Table struct {
	// Routes are the titles of the weight columns, one per route.
	Routes []string
	rows   []Row
}

func (t *Table) columns() []column {
	cols := []column{{"time", 7}, {"release", 8}, {"argo step", 20}, {"argo phase", 18}}
	for _, r := range t.Routes {
		cols = append(cols, column{r, max(len(r), 5)})
	}
	return append(cols, column{"analyzer", 12}, column{"canary requests", 16}, column{"event", 0})
}

// Header is the title line and a rule under it.
func (t *Table) Header() string {
	cols := t.columns()
	titles := make([]string, len(cols))
	rules := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
		rules[i] = strings.Repeat("-", max(c.width, len(c.title)))
	}
	return t.join(cols, titles) + "\n" + t.join(cols, rules)
}

// Line renders one row.
func (t *Table) Line(r Row) string {
	cells := []string{fmt.Sprintf("%6.1fs", r.At.Seconds()), r.Release, r.Step, r.Phase}
	for i := range t.Routes {
		w := "?"
		if i < len(r.Weights) && r.Weights[i] >= 0 {
			w = fmt.Sprintf("%d%%", r.Weights[i])
		}
		cells = append(cells, w)
	}
	analyzer := r.Analyzer
	if analyzer == "" {
		analyzer = "-"
	}
	return t.join(t.columns(), append(cells, analyzer, r.Canary, r.Event))
}

func (t *Table) join(cols []column, cells []string) string {
	var b strings.Builder
	for i, c := range cols {
		cell := cells[i]
		if c.width > 0 && len(cell) > c.width {
			cell = cell[:c.width-1] + "~"
		}
		if i < len(cols)-1 {
			fmt.Fprintf(&b, "%-*s  ", c.width, cell)
		} else {
			b.WriteString(cell)
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// Add appends r unless it repeats the previous row (same key, no event); it tells whether it did.
func (t *Table) Add(r Row) bool {
	if r.Event == "" && len(t.rows) > 0 && t.rows[len(t.rows)-1].key() == r.key() {
		return false
	}
	t.rows = append(t.rows, r)
	return true
}

// Frame is the whole table for a terminal: title lines, header, the last maxRows rows (all when maxRows <= 0)
// and a status line.
func (t *Table) Frame(title []string, status string, maxRows int) string {
	var b strings.Builder
	for _, l := range title {
		b.WriteString(l + "\n")
	}
	b.WriteString(t.Header() + "\n")
	rows := t.rows
	if maxRows > 0 && len(rows) > maxRows {
		fmt.Fprintf(&b, "  ... %d earlier rows\n", len(rows)-maxRows+1)
		rows = rows[len(rows)-maxRows+1:]
	}
	for _, r := range rows {
		b.WriteString(t.Line(r) + "\n")
	}
	if status != "" {
		b.WriteString("\n" + status + "\n")
	}
	return b.String()
}

// Screen shows a Table: on a terminal (live) it redraws the whole table in place with a status line under it;
// otherwise it prints the header once and then each new row as one line, and no status lines.
type Screen struct {
	mu      sync.Mutex
	out     io.Writer
	live    bool
	height  func() int // the terminal's rows (live only)
	table   *Table
	title   []string
	status  string
	started bool
}

// NewScreen shows a table with the given route columns on out.
func NewScreen(out io.Writer, live bool, height func() int, title []string, routes []string) *Screen {
	return &Screen{out: out, live: live, height: height, title: title, table: &Table{Routes: routes}}
}

// Add shows r if it is new (see Table.Add).
func (s *Screen) Add(r Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.table.Add(r) {
		return
	}
	if s.live {
		s.redraw()
		return
	}
	if !s.started {
		for _, l := range s.title {
			fmt.Fprintln(s.out, l)
		}
		fmt.Fprintln(s.out, s.table.Header())
		s.started = true
	}
	fmt.Fprintln(s.out, s.table.Line(r))
}

// Status sets the line under the table (live only: plain output has no place for it).
func (s *Screen) Status(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
	if s.live {
		s.redraw()
	}
}

// Done leaves the final table on screen (without the status line).
func (s *Screen) Done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = ""
	if s.live {
		s.redraw()
	}
}

func (s *Screen) redraw() {
	rows := 0
	if s.height != nil {
		// Title, header (2), a possible "earlier rows" line, blank + status line.
		rows = s.height() - len(s.title) - 5
		if rows < 3 {
			rows = 3
		}
	}
	frame := s.table.Frame(s.title, s.status, rows)
	// Cursor home, each line then clear to its end, clear below: no flicker from clearing the whole screen.
	var b strings.Builder
	b.WriteString("\x1b[H")
	for _, l := range strings.SplitAfter(frame, "\n") {
		b.WriteString(strings.TrimSuffix(l, "\n"))
		if strings.HasSuffix(l, "\n") {
			b.WriteString("\x1b[K\n")
		}
	}
	b.WriteString("\x1b[J")
	_, _ = io.WriteString(s.out, b.String())
}
