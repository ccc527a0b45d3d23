package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/sevra/atlas/jobq"
)

// confirmView is the confirmation page of a bulk action or a drain: it
// names the count and re-posts the same form with confirm=yes.
type confirmView struct {
	Queue   string
	Title   string
	Message string
	Action  string
	Fields  [][2]string
	Preview []string
	More    int
	Back    string
}

// bulkActions are what a selection can get, and the state each applies to
// ("" any state but active); each job is checked by jobq as it is handled
// (a job that moved on meanwhile is skipped, see bulk).
var bulkActions = map[string]jobq.State{"retry": jobq.StateFailed, "promote": jobq.StateDelayed, "remove": ""}

// maxSelected bounds the ids one bulk form may carry.
const maxSelected = 1000

// confirmed serves POST /admin/jobs/{queue}/bulk (form: op, ids… or
// all=1 with state, name and q) and /drain (form: delayed=1): without
// confirm=yes it shows what would happen and how many jobs it touches;
// with it, it acts and returns to the queue page.
func (s *Server) confirmed(w http.ResponseWriter, r *http.Request, a auth, q *jobq.Queue, action string) {
	ctx := r.Context()
	f, ok := parseFilter(r.PostForm)
	if !ok {
		s.errorPage(w, r, a, http.StatusBadRequest, "Unknown job state, or a filter longer than 200 characters.")
		return
	}
	back := "/admin/jobs/" + url.PathEscape(q.Name()) + "?" + f.values().Encode()
	yes := r.PostFormValue("confirm") == "yes"
	if action == "drain" {
		delayed := r.PostFormValue("delayed") == "1"
		counts, err := q.GetJobCounts(ctx, jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed)
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		n := counts[jobq.StateWaiting] + counts[jobq.StatePrioritized]
		what := "waiting and prioritized"
		if delayed {
			n += counts[jobq.StateDelayed]
			what = "waiting, prioritized and delayed"
		}
		if !yes {
			fields := [][2]string{{"state", string(f.State)}}
			if delayed {
				fields = append(fields, [2]string{"delayed", "1"})
			}
			s.confirmPage(w, r, a, confirmView{Queue: q.Name(), Title: "Drain " + q.Name(),
				Message: fmt.Sprintf("Drain removes %d %s job(s) of %s. Active, completed and failed jobs stay.", n, what, q.Name()),
				Action:  "drain", Fields: fields, Back: back})
			return
		}
		if err := q.Drain(ctx, delayed); err != nil {
			s.fail(w, r, a, err)
			return
		}
		s.log.InfoContext(ctx, "dashboard action", "queue", q.Name(), "action", "drain", "jobs", n, "via", a.Via)
		s.cache.clear()
		http.Redirect(w, r, back+"&done=drain&n="+strconv.FormatInt(n, 10), http.StatusSeeOther)
		return
	}

	op := r.PostFormValue("op")
	if _, ok := bulkActions[op]; !ok && op != "clean" {
		s.errorPage(w, r, a, http.StatusBadRequest, "Choose retry, promote, remove or clean.")
		return
	}
	all := r.PostFormValue("all") == "1"
	ids := r.PostForm["ids"]
	if len(ids) > maxSelected {
		s.errorPage(w, r, a, http.StatusBadRequest, fmt.Sprintf("At most %d jobs can be selected; use \"all matching\".", maxSelected))
		return
	}
	if all {
		if f.active() {
			res, err := s.search(ctx, q, f)
			if err != nil {
				s.fail(w, r, a, err)
				return
			}
			ids = ids[:0]
			for _, j := range res.Jobs {
				ids = append(ids, j.ID)
			}
		} else {
			counts, err := q.GetJobCounts(ctx, f.State)
			if err != nil {
				s.fail(w, r, a, err)
				return
			}
			ids = nil
			if counts[f.State] > 0 {
				jobs, err := q.GetJobs(ctx, []jobq.State{f.State}, 0, s.cfg.SearchLimit-1, false)
				if err != nil {
					s.fail(w, r, a, err)
					return
				}
				for _, j := range jobs {
					ids = append(ids, j.ID)
				}
			}
		}
	}
	if op == "clean" && !all {
		s.errorPage(w, r, a, http.StatusBadRequest, "Clean applies to all matching jobs; use remove for a selection.")
		return
	}
	if len(ids) == 0 {
		s.errorPage(w, r, a, http.StatusBadRequest, "No jobs selected.")
		return
	}
	if !yes {
		fields := [][2]string{{"op", op}}
		for k, vs := range f.values() {
			fields = append(fields, [2]string{k, vs[0]})
		}
		if all {
			fields = append(fields, [2]string{"all", "1"})
		} else {
			for _, id := range ids {
				fields = append(fields, [2]string{"ids", id})
			}
		}
		slices.SortStableFunc(fields, func(x, y [2]string) int {
			if x[0] < y[0] {
				return -1
			}
			if x[0] > y[0] {
				return 1
			}
			return 0
		})
		scope := "selected"
		if all {
			scope = "matching"
			if !f.active() {
				scope = "all " + string(f.State)
			}
		}
		msg := fmt.Sprintf("%s %d %s job(s) of %s?", verbOf(op), len(ids), scope, q.Name())
		if all && len(ids) >= s.cfg.SearchLimit {
			msg += fmt.Sprintf(" (At most %d are handled at once; repeat for more.)", s.cfg.SearchLimit)
		}
		v := confirmView{Queue: q.Name(), Title: verbOf(op) + " jobs", Message: msg, Action: "bulk", Fields: fields, Back: back}
		v.Preview = ids[:min(len(ids), 20)]
		v.More = len(ids) - len(v.Preview)
		s.confirmPage(w, r, a, v)
		return
	}
	n, err := s.bulk(ctx, q, op, f.State, ids)
	if err != nil {
		s.fail(w, r, a, err)
		return
	}
	s.log.InfoContext(ctx, "dashboard action", "queue", q.Name(), "action", "bulk-"+op, "jobs", n, "via", a.Via)
	s.cache.clear()
	http.Redirect(w, r, back+"&done=bulk-"+op+"&n="+strconv.Itoa(n), http.StatusSeeOther)
}

// bulk applies op to ids and returns how many it changed; jobs that moved
// on meanwhile (a StateError, gone) are skipped.
func (s *Server) bulk(ctx context.Context, q *jobq.Queue, op string, state jobq.State, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		var err error
		switch op {
		case "retry":
			err = q.Retry(ctx, id)
		case "promote":
			err = q.Promote(ctx, id)
		case "remove", "clean":
			err = q.Remove(ctx, id, false)
		}
		var se *jobq.StateError
		switch {
		case err == nil:
			n++
		case errors.As(err, &se), errors.Is(err, jobq.ErrJobNotFound):
		default:
			return n, err
		}
	}
	return n, nil
}

func verbOf(op string) string {
	switch op {
	case "retry":
		return "Retry"
	case "promote":
		return "Promote"
	case "clean":
		return "Clean (remove)"
	}
	return "Remove"
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request, a auth, v confirmView) {
	s.render(w, r, http.StatusOK, "confirm", pageData{Title: v.Title, Auth: a, Body: v})
}

// schedulerAction serves POST /admin/jobs/{queue}/scheduler-run|pause|
// resume|remove (form: scheduler); remove asks for confirmation first.
func (s *Server) schedulerAction(w http.ResponseWriter, r *http.Request, a auth, q *jobq.Queue, action string) {
	ctx, id := r.Context(), r.PostFormValue("scheduler")
	if id == "" {
		s.errorPage(w, r, a, http.StatusBadRequest, "No scheduler given.")
		return
	}
	var err error
	switch action {
	case "scheduler-run":
		_, err = q.RunJobSchedulerNow(ctx, id)
	case "scheduler-pause":
		_, err = q.PauseJobScheduler(ctx, id)
	case "scheduler-resume":
		_, err = q.ResumeJobScheduler(ctx, id)
	case "scheduler-remove":
		if r.PostFormValue("confirm") != "yes" {
			s.confirmPage(w, r, a, confirmView{Queue: q.Name(), Title: "Remove scheduler " + id,
				Message: fmt.Sprintf("Remove scheduler %s of %s and its pending run? Jobs it already added stay.", id, q.Name()),
				Action:  action, Fields: [][2]string{{"scheduler", id}}, Back: "/admin/jobs"})
			return
		}
		var ok bool
		if ok, err = q.RemoveJobScheduler(ctx, id); err == nil && !ok {
			err = fmt.Errorf("scheduler %s: %w", id, jobq.ErrJobNotFound)
		}
	}
	if err != nil {
		s.fail(w, r, a, err)
		return
	}
	s.log.InfoContext(ctx, "dashboard action", "queue", q.Name(), "action", action, "scheduler", id, "via", a.Via)
	s.cache.clear()
	back := "/admin/jobs/" + url.PathEscape(q.Name()) + "?state=waiting"
	if r.PostFormValue("from") == "overview" {
		back = "/admin/jobs?"
	}
	http.Redirect(w, r, back+"&done="+action, http.StatusSeeOther)
}
