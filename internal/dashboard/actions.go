package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sevra/atlas/jobq"
)

// maxGrace bounds the clean form's grace.
const maxGrace = 365 * 24 * time.Hour

// QueueAction serves POST /admin/jobs/{queue}/{action}: pause, resume,
// retry-all (failed jobs), clean (form: state completed|failed, grace as a
// Go duration such as 1h).
func (s *Server) QueueAction() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		q, ok := s.queue(r.PathValue("queue"))
		if !ok {
			s.errorPage(w, r, a, http.StatusNotFound, "No such queue.")
			return
		}
		ctx, action := r.Context(), r.PathValue("action")
		back := backTo(q.Name(), r.PostFormValue("state"), r.PostFormValue("page"))
		var err error
		n := 0
		switch action {
		case "pause":
			err = q.Pause(ctx)
		case "resume":
			err = q.Resume(ctx)
		case "retry-all":
			n, err = q.RetryAll(ctx)
		case "clean":
			st := jobq.State(r.PostFormValue("clean_state"))
			grace, perr := time.ParseDuration(r.PostFormValue("grace"))
			if (st != jobq.StateCompleted && st != jobq.StateFailed) || perr != nil || grace < 0 || grace > maxGrace {
				s.errorPage(w, r, a, http.StatusBadRequest, "Clean needs a state (completed or failed) and a grace such as 1h (0 to 8760h).")
				return
			}
			var ids []string
			ids, err = q.Clean(ctx, grace, 0, st)
			n = len(ids)
		case "bulk", "drain":
			s.confirmed(w, r, a, q, action)
			return
		case "scheduler-run", "scheduler-pause", "scheduler-resume", "scheduler-remove":
			s.schedulerAction(w, r, a, q, action)
			return
		default:
			s.errorPage(w, r, a, http.StatusNotFound, "Unknown action.")
			return
		}
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		s.log.InfoContext(ctx, "dashboard action", "queue", q.Name(), "action", action, "jobs", n, "via", a.Via)
		s.cache.clear()
		http.Redirect(w, r, back+"&done="+action+"&n="+strconv.Itoa(n), http.StatusSeeOther)
	})
}

// JobAction serves POST /admin/jobs/{queue}/{id}/{action}: retry (failed),
// promote (delayed), remove.
func (s *Server) JobAction() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		q, ok := s.queue(r.PathValue("queue"))
		if !ok {
			s.errorPage(w, r, a, http.StatusNotFound, "No such queue.")
			return
		}
		ctx, id, action := r.Context(), r.PathValue("id"), r.PathValue("action")
		var err error
		switch action {
		case "retry":
			err = q.Retry(ctx, id)
		case "promote":
			err = q.Promote(ctx, id)
		case "remove":
			err = q.Remove(ctx, id, false)
		default:
			s.errorPage(w, r, a, http.StatusNotFound, "Unknown action.")
			return
		}
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		s.log.InfoContext(ctx, "dashboard action", "queue", q.Name(), "job", id, "action", action, "via", a.Via)
		s.cache.clear()
		back := backTo(q.Name(), r.PostFormValue("state"), r.PostFormValue("page"))
		if r.PostFormValue("from") == "job" && action != "remove" {
			back = "/admin/jobs/" + url.PathEscape(q.Name()) + "/" + url.PathEscape(id) + "?"
		}
		http.Redirect(w, r, back+"&done="+action, http.StatusSeeOther)
	})
}

// backTo is the queue page an action returns to (state and page are
// re-validated there).
func backTo(queue, state, page string) string {
	if _, ok := parseState(state); !ok {
		state = ""
	}
	if p, err := strconv.Atoi(page); err != nil || p < 1 {
		page = "1"
	}
	v := url.Values{"state": {state}, "page": {page}}
	if state == "" {
		v.Del("state")
	}
	return "/admin/jobs/" + url.PathEscape(queue) + "?" + v.Encode()
}
