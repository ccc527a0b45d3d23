package dashboard

import (
	"fmt"
	"html/template"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/sevra/atlas/jobq"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "overview", "queue", "job", "error", "confirm"}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"seg":   url.PathEscape,
	"query": url.QueryEscape,
	"when":  when,
	"ago":   ago,
	"trunc": trunc,
	"show":  func(v any) string { return trunc(fmt.Sprintf("%+v", v), 200) },
	"add":   func(a, b int) int { return a + b },
	"pct":   func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"secs":  func(d time.Duration) string { return roughly(d) },
	// runAt is when a delayed job is due.
	"runAt": func(j *jobq.Job) time.Time { return j.Timestamp.Add(j.Delay) },
	"dur": func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	},
}

// when formats an absolute time in UTC; the zero time is "—".
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago formats how long before now t was (or "in …" for the future).
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if d := now.Sub(t); d >= 0 {
		return roughly(d) + " ago"
	} else {
		return "in " + roughly(-d)
	}
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// trunc cuts s to n runes, marking the cut.
func trunc(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
