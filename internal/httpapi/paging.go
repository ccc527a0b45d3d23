package httpapi

import (
	"fmt"
	"net/url"
	"strconv"
)

// Paging limits.
const (
	DefaultPerPage = 20
	MaxPerPage     = 100
	maxPage        = 100_000
)

// page is a parsed ?page=&per_page= pair.
type page struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
}

// parsePage reads page (from 1) and per_page (1..MaxPerPage) from q,
// defaulting to 1 and DefaultPerPage.
func parsePage(q url.Values) (page, error) {
	p := page{Page: 1, PerPage: DefaultPerPage}
	var err error
	if p.Page, err = intParam(q, "page", 1, 1, maxPage); err != nil {
		return page{}, err
	}
	if p.PerPage, err = intParam(q, "per_page", DefaultPerPage, 1, MaxPerPage); err != nil {
		return page{}, err
	}
	return p, nil
}

// intParam parses q[name] as an integer in [lo, hi], or returns def when
// the parameter is absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	raw, ok := q[name]
	if !ok || len(raw) == 0 {
		return def, nil
	}
	if len(raw) > 1 {
		return 0, badRequest("invalid_"+name, fmt.Sprintf("%s given more than once", name))
	}
	n, err := strconv.Atoi(raw[0])
	if err != nil || n < lo || n > hi {
		return 0, badRequest("invalid_"+name, fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi))
	}
	return n, nil
}

// listBody is the JSON envelope of a paged list.
type listBody[T any] struct {
	Items []T `json:"items"`
	page
	Total int64 `json:"total"`
}
