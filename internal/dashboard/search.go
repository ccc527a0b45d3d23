package dashboard

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/sevra/atlas/jobq"
)

// filter selects jobs of one state by name and by a search text.
type filter struct {
	State jobq.State
	// Name keeps jobs with exactly this name ("" any).
	Name string
	// Text keeps jobs whose id, name or data contains it, ignoring case
	// ("" any); a job whose id is exactly Text is found even beyond the
	// scan.
	Text string
}

// active reports whether the filter narrows the state's list.
func (f filter) active() bool { return f.Name != "" || f.Text != "" }

// values encodes the filter for links and forms.
func (f filter) values() url.Values {
	v := url.Values{"state": {string(f.State)}}
	if f.Name != "" {
		v.Set("name", f.Name)
	}
	if f.Text != "" {
		v.Set("q", f.Text)
	}
	return v
}

func (f filter) match(j *jobq.Job) bool {
	if f.Name != "" && j.Name != f.Name {
		return false
	}
	if f.Text == "" {
		return true
	}
	t := strings.ToLower(f.Text)
	return strings.Contains(strings.ToLower(j.ID), t) || strings.Contains(strings.ToLower(j.Name), t) ||
		strings.Contains(strings.ToLower(string(j.Data)), t)
}

// searchResult is the outcome of a bounded search.
type searchResult struct {
	Jobs []*jobq.Job
	// Scanned is how many jobs were read; Truncated reports that the state
	// holds more than the scan read.
	Scanned   int
	Truncated bool
}

// scanPage is how many jobs one read of a search takes.
const scanPage = 200

// search scans up to SearchLimit of the newest jobs of f.State and keeps
// those f matches, newest first. A job whose id equals f.Text is looked up
// directly, so an id is found however old.
func (s *Server) search(ctx context.Context, q *jobq.Queue, f filter) (searchResult, error) {
	var res searchResult
	seen := map[string]bool{}
	if f.Text != "" {
		j, err := q.GetJob(ctx, f.Text)
		switch {
		case err == nil:
			st, err := j.State(ctx)
			if err != nil {
				return res, err
			}
			if st == f.State && f.match(j) {
				res.Jobs = append(res.Jobs, j)
				seen[j.ID] = true
			}
		case !errors.Is(err, jobq.ErrJobNotFound):
			return res, err
		}
	}
	limit := s.cfg.SearchLimit
	for start := 0; start < limit; start += scanPage {
		end := min(start+scanPage, limit) - 1
		jobs, err := q.GetJobs(ctx, []jobq.State{f.State}, start, end, false)
		if err != nil {
			return res, err
		}
		res.Scanned += len(jobs)
		for _, j := range jobs {
			if !seen[j.ID] && f.match(j) {
				res.Jobs = append(res.Jobs, j)
				seen[j.ID] = true
			}
		}
		if len(jobs) < end-start+1 {
			return res, nil
		}
	}
	counts, err := q.GetJobCounts(ctx, f.State)
	if err != nil {
		return res, err
	}
	res.Truncated = counts[f.State] > int64(res.Scanned)
	return res, nil
}
