package review

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/jobq"
)

// Payload is the recompute-review-aggregates job data: the salon, plus the
// outbox metadata (event id, trace, mode).
type Payload struct {
	SalonID  int64 `json:"salonId"`
	ReviewID int64 `json:"reviewId,omitempty"`
	outbox.Meta
}

// ParsePayload decodes and validates a recompute-review-aggregates payload.
func ParsePayload(data []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(data, &p); err != nil {
		return Payload{}, fmt.Errorf("%s payload: %w", JobRecompute, err)
	}
	if p.SalonID <= 0 {
		return Payload{}, fmt.Errorf("%s payload: salonId %d must be positive", JobRecompute, p.SalonID)
	}
	switch p.Mode {
	case "", rollout.Async, rollout.Shadow, rollout.Sync:
	default:
		return Payload{}, fmt.Errorf("%s payload: %w", JobRecompute, rollout.ErrInvalidMode)
	}
	return p, nil
}

// Register adds the review job handlers to reg.
func (s *Service) Register(reg *queues.Registry) {
	reg.Handle(queues.QueueAnalytics, JobRecompute, s.handleRecompute)
}

func (s *Service) handleRecompute(ctx context.Context, job *jobq.Job) (any, error) {
	p, err := ParsePayload(job.Data)
	if err != nil {
		return nil, jobq.Unrecoverable(err)
	}
	if p.Shadow() {
		match, err := s.CompareShadow(ctx, p.SalonID, "job", job.ID, "event", p.EventID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"salonId": p.SalonID, "match": match}, nil
	}
	a, err := s.Recompute(ctx, p.SalonID, "agg-"+job.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, jobq.Unrecoverable(err) // the salon was deleted
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "review aggregates recomputed", "salon", p.SalonID, "count", a.Count, "avg", a.Avg,
		"job", job.ID, "event", p.EventID)
	return a, nil
}

// CompareShadow is the shadow run: it recomputes the salon's aggregate
// into a side result, without writing, and compares it with the row the
// synchronous path wrote; the result is counted and, on a mismatch,
// logged with ids.
func (s *Service) CompareShadow(ctx context.Context, salonID int64, ids ...any) (bool, error) {
	if s.cfg.Shadow == nil {
		return false, errors.New("shadow run without a recorder")
	}
	return s.cfg.Shadow.Compare(ctx, Module, fmt.Sprintf("salon %d", salonID), append([]any{"salon", salonID}, ids...),
		func(ctx context.Context) (any, any, bool, error) {
			tx, err := s.st.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: s.st.Dialect() == store.Postgres})
			if err != nil {
				return nil, nil, false, fmt.Errorf("shadow salon %d: %w", salonID, err)
			}
			defer tx.Rollback()
			side, err := s.computeAggregate(ctx, tx, salonID)
			if err != nil {
				return nil, nil, false, err
			}
			var live Aggregate
			live.SalonID = salonID
			err = tx.QueryRowContext(ctx, s.st.Rebind(`SELECT rating_sum, rating_count, rating_avg, bayesian_score
				FROM salons WHERE id = ?`), salonID).Scan(&live.Sum, &live.Count, &live.Avg, &live.Bayesian)
			if err != nil {
				return nil, nil, false, fmt.Errorf("shadow salon %d: %w", salonID, err)
			}
			return live, side, live.Equal(side), nil
		})
}
