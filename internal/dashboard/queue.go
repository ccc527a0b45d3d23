package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sevra/atlas/jobq"
)

type queueView struct {
	Queue  queueSummary
	State  jobq.State
	Filter filter
	// FilterQuery is the filter as a URL query, for links and forms.
	FilterQuery string
	Jobs        []*jobq.Job
	Page        int
	Pages       int
	Total       int64
	// Search is set when a filter narrowed the list.
	Search *searchResult
	Charts []chartSet
	Notice string
}

// notices are the fixed messages an action's redirect can ask for (never
// text taken from the URL; n is read as a number).
var notices = map[string]string{
	"retry": "Job moved back to waiting.", "retry-all": "Failed jobs moved back to waiting.",
	"promote": "Job promoted to waiting.", "remove": "Job removed.", "pause": "Queue paused.",
	"resume": "Queue resumed.", "clean": "Old jobs removed.", "drain": "Queue drained.",
	"bulk-retry": "%d job(s) moved back to waiting.", "bulk-promote": "%d job(s) promoted.",
	"bulk-remove": "%d job(s) removed.", "bulk-clean": "%d job(s) removed.",
	"scheduler-run": "Scheduler job added.", "scheduler-pause": "Scheduler paused.",
	"scheduler-resume": "Scheduler resumed.", "scheduler-remove": "Scheduler removed.",
}

// notice returns the message for ?done=&n=.
func notice(q url.Values) string {
	msg := notices[q.Get("done")]
	if strings.Contains(msg, "%d") {
		n, _ := strconv.Atoi(q.Get("n"))
		msg = fmt.Sprintf(msg, n)
	}
	return msg
}

// cacheKey is a page's key in the live cache: its path and query without
// the action notice.
func cacheKey(r *http.Request) string {
	q := r.URL.Query()
	q.Del("done")
	q.Del("n")
	return r.URL.Path + "?" + q.Encode()
}

// parseState reads ?state=, defaulting to failed.
func parseState(v string) (jobq.State, bool) {
	if v == "" {
		return jobq.StateFailed, true
	}
	st := jobq.State(v)
	return st, slices.Contains(listStates, st) || st == jobq.StatePaused
}

// maxFilterLen bounds the name and search text.
const maxFilterLen = 200

// parseFilter reads state, name and q.
func parseFilter(v url.Values) (filter, bool) {
	st, ok := parseState(v.Get("state"))
	f := filter{State: st, Name: strings.TrimSpace(v.Get("name")), Text: strings.TrimSpace(v.Get("q"))}
	return f, ok && len(f.Name) <= maxFilterLen && len(f.Text) <= maxFilterLen
}

// Queue serves GET /admin/jobs/{queue}?state=&name=&q=&page=.
func (s *Server) Queue() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		q, ok := s.queue(r.PathValue("queue"))
		if !ok {
			s.errorPage(w, r, a, http.StatusNotFound, "No such queue.")
			return
		}
		f, ok := parseFilter(r.URL.Query())
		if !ok {
			s.errorPage(w, r, a, http.StatusBadRequest, "Unknown job state, or a filter longer than 200 characters.")
			return
		}
		page, err := strconv.Atoi(r.URL.Query().Get("page"))
		if err != nil || page < 1 {
			page = 1
		}
		val, etag, err := s.cache.get(r.Context(), cacheKey(r), func(ctx context.Context) (any, error) {
			return s.queueView(ctx, q, f, page)
		})
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		if notModified(w, r, etag) {
			return
		}
		v := val.(queueView)
		v.Notice = notice(r.URL.Query())
		s.render(w, r, http.StatusOK, "queue", pageData{Title: q.Name(), Auth: a, Body: v, ETag: etag})
	})
}

func (s *Server) queueView(ctx context.Context, q *jobq.Queue, f filter, page int) (queueView, error) {
	v := queueView{Queue: s.summarize(ctx, q, true), State: f.State, Filter: f, FilterQuery: f.values().Encode(), Page: page}
	size := s.cfg.PageSize
	start := (page - 1) * size
	if f.active() {
		res, err := s.search(ctx, q, f)
		if err != nil {
			return v, err
		}
		v.Total = int64(len(res.Jobs))
		v.Jobs = res.Jobs[min(start, len(res.Jobs)):min(start+size, len(res.Jobs))]
		res.Jobs = nil
		v.Search = &res
	} else {
		counts, err := q.GetJobCounts(ctx, f.State)
		if err != nil {
			return v, err
		}
		v.Total = counts[f.State]
		if v.Jobs, err = q.GetJobs(ctx, []jobq.State{f.State}, start, start+size-1, false); err != nil {
			return v, err
		}
	}
	v.Pages = max(1, int((v.Total+int64(size)-1)/int64(size)))
	charts, err := s.charts(ctx, q)
	if err != nil {
		return v, err
	}
	v.Charts = charts
	return v, nil
}

type jobView struct {
	Queue                            string
	Job                              *jobq.Job
	State                            jobq.State
	Data, Opts, Progress, ReturnJSON string
	Logs                             []string
	LogTotal                         int
	// Parent links the parent job when its queue is shown here.
	Parent *jobLink
	// Children are the job's children: finished ones from the parent's
	// records, pending ones (while waiting-children) from a bounded scan.
	Children []childLink
	Notice   string
}

type jobLink struct{ Queue, ID string }

type childLink struct {
	jobLink
	Key    string
	State  string
	Result string
}

// maxLogLines is how many log lines the job page shows (the newest).
const maxLogLines = 200

// Job serves GET /admin/jobs/{queue}/{id}.
func (s *Server) Job() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		q, ok := s.queue(r.PathValue("queue"))
		if !ok {
			s.errorPage(w, r, a, http.StatusNotFound, "No such queue.")
			return
		}
		val, etag, err := s.cache.get(r.Context(), cacheKey(r), func(ctx context.Context) (any, error) {
			return s.jobView(ctx, q, r.PathValue("id"))
		})
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		if notModified(w, r, etag) {
			return
		}
		v := val.(jobView)
		v.Notice = notice(r.URL.Query())
		s.render(w, r, http.StatusOK, "job", pageData{Title: v.Job.ID, Auth: a, Body: v, ETag: etag})
	})
}

func (s *Server) jobView(ctx context.Context, q *jobq.Queue, id string) (jobView, error) {
	j, err := q.GetJob(ctx, id)
	if err != nil {
		return jobView{}, err
	}
	v := jobView{Queue: q.Name(), Job: j, Data: pretty(j.Data), Progress: pretty(j.Progress),
		ReturnJSON: pretty(j.ReturnValue), Opts: bullOpts(j.Opts)}
	if v.State, err = j.State(ctx); err != nil {
		return v, err
	}
	lines, total, err := q.JobLogs(ctx, j.ID, 0, maxLogLines-1, false)
	if err != nil {
		return v, err
	}
	slices.Reverse(lines)
	v.Logs, v.LogTotal = lines, total
	if j.ParentKey != "" {
		if l, ok := s.linkOf(q, j.ParentKey); ok {
			v.Parent = &l
		}
	}
	if v.Children, err = s.children(ctx, q, j, v.State); err != nil {
		return v, err
	}
	return v, nil
}

// pretty indents JSON for display; anything else is shown as is.
func pretty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// fail maps a jobq error to a status and shows it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, a auth, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, jobq.ErrJobNotFound):
		status = http.StatusNotFound
	case errors.Is(err, jobq.ErrNotInState), errors.Is(err, jobq.ErrJobActive):
		status = http.StatusConflict
	}
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "dashboard", "path", r.URL.Path, "err", err)
	}
	s.errorPage(w, r, a, status, err.Error())
}
