package seed

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar, redrawn at most every interval.
// A nil *progress draws nothing.
type progress struct {
	w        io.Writer
	label    string
	total    int
	done     int
	start    time.Time
	last     time.Time
	interval time.Duration
	now      func() time.Time
}

// newProgress returns a bar for total steps, or nil when w is nil.
func newProgress(w io.Writer, label string, total int, now func() time.Time) *progress {
	if w == nil || total <= 0 {
		return nil
	}
	t := now()
	p := &progress{w: w, label: label, total: total, start: t, interval: 100 * time.Millisecond, now: now}
	p.draw(t)
	return p
}

// add advances the bar by n steps.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.done = min(p.done+n, p.total)
	if t := p.now(); t.Sub(p.last) >= p.interval {
		p.draw(t)
	}
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.done = p.total
	p.draw(p.now())
	fmt.Fprintln(p.w)
}

func (p *progress) draw(t time.Time) {
	const width = 30
	filled := width * p.done / p.total
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	fmt.Fprintf(p.w, "\r%-8s [%s] %3d%% %d/%d %s", p.label, bar, 100*p.done/p.total, p.done, p.total,
		t.Sub(p.start).Round(100*time.Millisecond))
	p.last = t
}
