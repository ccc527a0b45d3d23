package otp

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/phone"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/jobq"
)

// Payload is the send-otp job data: the challenge id only (never the code
// or the number), plus the outbox metadata.
type Payload struct {
	ChallengeID string `json:"challengeId"`
	outbox.Meta
}

// ParsePayload decodes and validates a send-otp payload.
func ParsePayload(data []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(data, &p); err != nil {
		return Payload{}, fmt.Errorf("%s payload: %w", JobSend, err)
	}
	if !validChallengeID(p.ChallengeID) {
		return Payload{}, fmt.Errorf("%s payload: challengeId %.40q is not 32 hex digits", JobSend, p.ChallengeID)
	}
	return p, nil
}

// Register adds the send-otp handler to reg, on queue notifications.
func (s *Service) Register(reg *queues.Registry) {
	reg.Handle(queues.QueueNotifications, JobSend, s.handleSend)
}

// challengeRow is what sending needs of a challenge.
type challengeRow struct {
	id, phone  string
	hash, box  []byte
	expires    time.Time
	consumed   bool
	sent       bool
	lastError  string
	attempts   int
	createdAgo time.Duration
}

func (s *Service) load(ctx context.Context, id string) (challengeRow, error) {
	r := challengeRow{id: id}
	var consumed, sent sql.NullTime
	var lastErr sql.NullString
	err := s.st.DB().QueryRowContext(ctx, s.st.Rebind(`SELECT phone, code_hash, code_box, expires_at, consumed_at, sent_at, last_error
		FROM otp_challenges WHERE id = ?`), id).Scan(&r.phone, &r.hash, &r.box, &r.expires, &consumed, &sent, &lastErr)
	if err != nil {
		return r, err
	}
	r.consumed, r.sent, r.lastError = consumed.Valid, sent.Valid, lastErr.String
	return r, nil
}

// ambiguousMark starts last_error after an ambiguous send, so the next
// attempt asks the provider (when it can say) before sending again.
const ambiguousMark = "ambiguous: "

// handleSend is the send-otp job. It sends the challenge's code once:
// nothing for a used or expired challenge or one already sent; a retry
// after a failure before the provider accepted the message resends the
// same code. Permanent failures fail the job at once; an ambiguous
// failure (the provider may have sent it) is reconciled through the
// provider's status lookup where it has one, and otherwise not resent.
// A shadow job dry-runs: it checks what it would send against the stored
// hash and records the comparison, and sends nothing.
func (s *Service) handleSend(ctx context.Context, job *jobq.Job) (any, error) {
	p, err := ParsePayload(job.Data)
	if err != nil {
		return nil, jobq.Unrecoverable(err)
	}
	r, err := s.load(ctx, p.ChallengeID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobq.Unrecoverable(fmt.Errorf("challenge %s not found", p.ChallengeID))
	}
	if err != nil {
		return nil, err
	}
	if p.Shadow() {
		return s.dryRun(ctx, job.ID, r)
	}
	switch {
	case r.sent:
		return map[string]string{"result": "already sent"}, nil
	case r.consumed:
		return map[string]string{"result": "skipped: challenge already used"}, nil
	case !s.cfg.Now().Before(r.expires):
		return map[string]string{"result": "skipped: challenge expired"}, nil
	}
	if len(r.lastError) >= len(ambiguousMark) && r.lastError[:len(ambiguousMark)] == ambiguousMark {
		if done, res, err := s.reconcile(ctx, r); done {
			return res, err
		}
	}
	code := ""
	if !s.owns {
		if code, err = s.keys.open(r.id, r.box); err != nil {
			return nil, jobq.Unrecoverable(err)
		}
	}
	err = s.deliver(ctx, r, code)
	switch {
	case err == nil:
		return map[string]string{"result": "sent", "provider": s.cfg.Provider.Name()}, nil
	case sms.IsPermanent(err):
		return nil, jobq.Unrecoverable(err)
	case sms.IsAmbiguous(err):
		if _, ok := s.cfg.Provider.(sms.Reconciler); ok {
			return nil, err // the next attempt asks the provider first
		}
		return nil, jobq.Unrecoverable(fmt.Errorf("not resent: %w", err))
	default:
		return nil, err
	}
}

// reconcile asks a Reconciler whether an ambiguous send went out. done
// reports that the job is settled (sent, or the lookup itself must be
// retried); otherwise the caller sends again.
func (s *Service) reconcile(ctx context.Context, r challengeRow) (bool, any, error) {
	rec, ok := s.cfg.Provider.(sms.Reconciler)
	if !ok {
		return false, nil, nil
	}
	code := ""
	if !s.owns {
		var err error
		if code, err = s.keys.open(r.id, r.box); err != nil {
			return true, nil, jobq.Unrecoverable(err)
		}
	}
	sent, err := rec.Lookup(ctx, sms.Message{To: r.phone, Code: code, Text: s.text(code), Ref: r.id})
	if err != nil {
		return true, nil, fmt.Errorf("reconcile an ambiguous send: %w", err)
	}
	if !sent {
		return false, nil, nil
	}
	s.markSent(ctx, r.id, sms.Receipt{Provider: s.cfg.Provider.Name()})
	s.m.sends.WithLabelValues("reconciled").Inc()
	return true, map[string]string{"result": "sent (reconciled)", "provider": s.cfg.Provider.Name()}, nil
}

// deliver sends code for challenge r and records the outcome on its row.
func (s *Service) deliver(ctx context.Context, r challengeRow, code string) error {
	rc, err := s.cfg.Provider.Send(ctx, sms.Message{To: r.phone, Code: code, Text: s.text(code), Ref: r.id})
	if err != nil {
		kind := sms.KindOf(err)
		s.m.sends.WithLabelValues(kind.String()).Inc()
		msg := err.Error()
		if kind == sms.Ambiguous {
			msg = ambiguousMark + msg
		}
		s.recordError(context.WithoutCancel(ctx), r.id, msg)
		s.log.WarnContext(ctx, "otp: send failed", "challenge", r.id, "to", phone.Mask(r.phone), "kind", kind, "err", err)
		return err
	}
	s.markSent(context.WithoutCancel(ctx), r.id, rc)
	s.m.sends.WithLabelValues("sent").Inc()
	s.log.InfoContext(ctx, "otp: code sent", "challenge", r.id, "to", phone.Mask(r.phone), "provider", rc.Provider)
	return nil
}

// text is the SMS body for providers that send free text.
func (s *Service) text(code string) string {
	if code == "" {
		return ""
	}
	return fmt.Sprintf("Atlas login code: %s (valid %d minutes). کد ورود اطلس", code, int(s.cfg.TTL/time.Minute))
}

func (s *Service) markSent(ctx context.Context, id string, rc sms.Receipt) {
	_, err := s.st.DB().ExecContext(ctx, s.st.Rebind(`UPDATE otp_challenges SET sent_at = ?, provider = ?, message_id = ?, last_error = NULL
		WHERE id = ?`), s.cfg.Now().UTC(), rc.Provider, rc.MessageID, id)
	if err != nil {
		s.log.ErrorContext(ctx, "otp: record sent", "challenge", id, "err", err)
	}
}

func (s *Service) recordError(ctx context.Context, id, msg string) {
	if len(msg) > 500 {
		msg = msg[:500]
	}
	if _, err := s.st.DB().ExecContext(ctx, s.st.Rebind(`UPDATE otp_challenges SET last_error = ? WHERE id = ?`), msg, id); err != nil {
		s.log.ErrorContext(ctx, "otp: record send error", "challenge", id, "err", err)
	}
}

// dryRun is the shadow side: the request already sent the code; the
// worker opens what it would send and checks it against the stored hash,
// without sending.
func (s *Service) dryRun(ctx context.Context, jobID string, r challengeRow) (any, error) {
	if s.cfg.Shadow == nil {
		return map[string]string{"result": "shadow: no recorder"}, nil
	}
	match, err := s.cfg.Shadow.Compare(ctx, Module, "challenge "+r.id, []any{"job", jobID},
		func(ctx context.Context) (any, any, bool, error) {
			if s.owns {
				return "provider-owned", "provider-owned", r.hash == nil, nil
			}
			code, err := s.keys.open(r.id, r.box)
			if err != nil {
				return "sealed code", "unreadable", false, nil
			}
			ok := s.keys.matches(r.id, code, r.hash)
			// Never the code itself: the comparison is logged and shown.
			return "stored hash", map[bool]string{true: "matches", false: "differs"}[ok], ok, nil
		})
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": "shadow", "match": match}, nil
}
