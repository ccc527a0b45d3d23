package dashboard

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/sevra/atlas/jobq"
)

// chartSet is a queue's charts over one range.
type chartSet struct {
	Range      string // "hour" or "day"
	Throughput template.HTML
	Wait       template.HTML
	// Completed, Failed are the range's totals; WaitSamples the number of
	// jobs the wait chart is drawn from.
	Completed, Failed int64
	WaitSamples       int
}

// chartRanges are the ranges drawn: minutes covered and bucket width.
var chartRanges = []struct {
	name            string
	minutes, bucket int
}{{"hour", 60, 1}, {"day", 1440, 15}}

// waitSample is how many of the newest completed and failed jobs the wait
// chart reads (wait = processed − (added + delay)).
const waitSample = 500

// chartsTTL is how long charts are cached; their data moves per minute.
const chartsTTL = 15 * time.Second

// charts returns queue's charts, cached for chartsTTL.
func (s *Server) charts(ctx context.Context, q *jobq.Queue) ([]chartSet, error) {
	v, _, err := s.chartCache.get(ctx, q.Name(), func(ctx context.Context) (any, error) {
		return s.drawCharts(ctx, q)
	})
	if err != nil {
		return nil, err
	}
	return v.([]chartSet), nil
}

// perMinute maps the minute (unix minutes) to a metrics count. As in
// BullMQ, Count−PrevCount events happened in PrevTS's minute, and point i
// of Data (newest first) is the minute before that minus i.
func perMinute(m jobq.Metrics) map[int64]int64 {
	out := map[int64]int64{}
	if m.PrevTS == 0 {
		return out
	}
	newest := m.PrevTS / 60000
	out[newest] += m.Count - m.PrevCount
	for i, d := range m.Data {
		out[newest-1-int64(i)] += d
	}
	return out
}

func (s *Server) drawCharts(ctx context.Context, q *jobq.Queue) ([]chartSet, error) {
	var series [2]map[int64]int64
	for i, k := range []jobq.MetricsKind{jobq.MetricsCompleted, jobq.MetricsFailed} {
		m, err := q.GetMetrics(ctx, k, 0, 1439)
		if err != nil {
			return nil, err
		}
		series[i] = perMinute(m)
	}
	jobs, err := q.GetJobs(ctx, []jobq.State{jobq.StateCompleted, jobq.StateFailed}, 0, waitSample/2-1, false)
	if err != nil {
		return nil, err
	}
	waitSum, waitN := map[int64]float64{}, map[int64]int{}
	for _, j := range jobs {
		if j.ProcessedOn.IsZero() {
			continue
		}
		w := j.ProcessedOn.Sub(j.Timestamp.Add(j.Delay)).Seconds()
		m := j.ProcessedOn.Unix() / 60
		waitSum[m] += max(w, 0)
		waitN[m]++
	}
	nowMin := s.cfg.Now().Unix() / 60
	var out []chartSet
	for _, r := range chartRanges {
		n := r.minutes / r.bucket
		comp, fail, wait := make([]float64, n), make([]float64, n), make([]float64, n)
		cs := chartSet{Range: r.name}
		for b := range n {
			var ws float64
			var wn int
			for k := range r.bucket {
				m := nowMin - int64(r.minutes) + 1 + int64(b*r.bucket+k)
				comp[b] += float64(series[0][m])
				fail[b] += float64(series[1][m])
				ws += waitSum[m]
				wn += waitN[m]
			}
			cs.Completed += int64(comp[b])
			cs.Failed += int64(fail[b])
			cs.WaitSamples += wn
			if wn > 0 {
				wait[b] = ws / float64(wn)
			} else {
				wait[b] = -1 // no sample: a gap
			}
		}
		unit := "per minute"
		if r.bucket > 1 {
			unit = fmt.Sprintf("per %d minutes", r.bucket)
		}
		cs.Throughput = svgChart(fmt.Sprintf("jobs %s, last %s", unit, r.name), r.minutes, []line{{"completed", "#1f7a4d", comp}, {"failed", "#b42318", fail}}, "")
		cs.Wait = svgChart(fmt.Sprintf("mean wait (s) %s, last %s", unit, r.name), r.minutes, []line{{"wait", "#2f5bd3", wait}}, "s")
		out = append(out, cs)
	}
	return out, nil
}

// line is one series; negative values are gaps.
type line struct {
	name, color string
	v           []float64
}

// svgChart draws lines over minutes of time ending now, as inline SVG.
// Everything written is a number or a fixed string, so it is safe HTML.
func svgChart(title string, minutes int, lines []line, unit string) template.HTML {
	const w, h, left, bottom, top = 600.0, 160.0, 44.0, 20.0, 8.0
	top_ := 0.0
	for _, l := range lines {
		for _, v := range l.v {
			top_ = max(top_, v)
		}
	}
	if top_ == 0 {
		top_ = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#fafbfc" stroke="#e3e6ec"/>`, left, top, w-left-4, h-top-bottom)
	for _, f := range []float64{0, 0.5, 1} {
		y := h - bottom - f*(h-top-bottom)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#e3e6ec"/>`, left, w-4, y, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="10" text-anchor="end" fill="#6b7280">%s</text>`, left-4, y+3, axisLabel(f*top_, unit))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" fill="#6b7280">−%s</text>`, left, h-6, roughly(time.Duration(minutes)*time.Minute))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" text-anchor="end" fill="#6b7280">now</text>`, w-4, h-6)
	for _, l := range lines {
		n := len(l.v)
		step := (w - left - 4) / float64(max(n-1, 1))
		var pts []string
		flush := func() {
			if len(pts) > 0 {
				fmt.Fprintf(&b, `<polyline class="series-%s" fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, l.name, l.color, strings.Join(pts, " "))
				pts = pts[:0]
			}
		}
		for i, v := range l.v {
			if v < 0 {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", left+float64(i)*step, h-bottom-v/top_*(h-top-bottom)))
		}
		if len(pts) == 1 { // a single point: draw it as a dot
			fmt.Fprintf(&b, `<circle cx="%s" r="2" fill="%s"/>`, strings.Replace(pts[0], ",", `" cy="`, 1), l.color)
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and fixed strings only
}

func axisLabel(v float64, unit string) string {
	switch {
	case v >= 100 || v == float64(int64(v)):
		return fmt.Sprintf("%.0f%s", v, unit)
	case v < 1:
		return fmt.Sprintf("%.2f%s", v, unit)
	}
	return fmt.Sprintf("%.1f%s", v, unit)
}
