package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/sevra/atlas/jobq"
)

type queueView struct {
	Queue  queueSummary
	State  jobq.State
	Jobs   []*jobq.Job
	Page   int
	Pages  int
	Total  int64
	Notice string
}

// notices are the fixed messages an action's redirect can ask for (never
// text taken from the URL).
var notices = map[string]string{
	"retry": "Job moved back to waiting.", "retry-all": "Failed jobs moved back to waiting.",
	"promote": "Job promoted to waiting.", "remove": "Job removed.", "pause": "Queue paused.",
	"resume": "Queue resumed.", "clean": "Old jobs removed.",
}

// parseState reads ?state=, defaulting to failed.
func parseState(v string) (jobq.State, bool) {
	if v == "" {
		return jobq.StateFailed, true
	}
	st := jobq.State(v)
	return st, slices.Contains(listStates, st) || st == jobq.StatePaused
}

// Queue serves GET /admin/jobs/{queue}?state=&page=.
func (s *Server) Queue() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		q, ok := s.queue(r.PathValue("queue"))
		if !ok {
			s.errorPage(w, r, a, http.StatusNotFound, "No such queue.")
			return
		}
		st, ok := parseState(r.URL.Query().Get("state"))
		if !ok {
			s.errorPage(w, r, a, http.StatusBadRequest, "Unknown job state.")
			return
		}
		page, err := strconv.Atoi(r.URL.Query().Get("page"))
		if err != nil || page < 1 {
			page = 1
		}
		ctx := r.Context()
		v := queueView{Queue: s.summarize(ctx, q), State: st, Page: page, Notice: notices[r.URL.Query().Get("done")]}
		counts, err := q.GetJobCounts(ctx, st)
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		v.Total = counts[st]
		size := s.cfg.PageSize
		v.Pages = max(1, int((v.Total+int64(size)-1)/int64(size)))
		start := (page - 1) * size
		if v.Jobs, err = q.GetJobs(ctx, []jobq.State{st}, start, start+size-1, false); err != nil {
			s.fail(w, r, a, err)
			return
		}
		s.render(w, r, http.StatusOK, "queue", pageData{Title: q.Name(), Auth: a, Body: v})
	})
}

type jobView struct {
	Queue                            string
	Job                              *jobq.Job
	State                            jobq.State
	Data, Opts, Progress, ReturnJSON string
	Logs                             []string
	LogTotal                         int
	Notice                           string
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
		ctx := r.Context()
		j, err := q.GetJob(ctx, r.PathValue("id"))
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		v := jobView{Queue: q.Name(), Job: j, Data: pretty(j.Data), Progress: pretty(j.Progress),
			ReturnJSON: pretty(j.ReturnValue), Notice: notices[r.URL.Query().Get("done")]}
		if b, err := json.MarshalIndent(j.Opts, "", "  "); err == nil {
			v.Opts = string(b)
		}
		if v.State, err = j.State(ctx); err != nil {
			s.fail(w, r, a, err)
			return
		}
		lines, total, err := q.JobLogs(ctx, j.ID, 0, maxLogLines-1, false)
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		slices.Reverse(lines)
		v.Logs, v.LogTotal = lines, total
		s.render(w, r, http.StatusOK, "job", pageData{Title: j.ID, Auth: a, Body: v})
	})
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
