package otp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/phone"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/internal/store"
)

// MaxAttempts is how many verify attempts one challenge allows; after
// that it is dead.
const MaxAttempts = 5

// Errors of Verify. ErrInvalidCode covers a wrong code and an unknown,
// expired or used challenge alike, so an answer tells an attacker nothing
// about which.
var (
	ErrInvalidCode     = errors.New("invalid or expired code")
	ErrTooManyAttempts = errors.New("too many attempts for this challenge; request a new code")
)

// Outbox is what the service needs from the outbox; *outbox.Outbox
// implements it.
type Outbox interface {
	Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error
	Publish(ctx context.Context, events ...outbox.Event) ([]outbox.Published, error)
}

// Config configures a Service. Store, Outbox, Sessions, Provider and
// Secret are required.
type Config struct {
	Store    *store.Store
	Outbox   Outbox
	Sessions SessionCreator
	// Provider sends the codes (sms.Open). A provider that is an
	// sms.Verifier generates and checks its own codes.
	Provider sms.Provider
	// Secret keys the code hashes and the sealed codes (at least 32
	// bytes); every process of a deployment must share it.
	Secret []byte
	// TTL is a code's lifetime, 2 to 10 minutes; default 5m.
	TTL time.Duration
	// Countries are the calling codes allowed besides Iran (98).
	Countries []string
	// Limits are the rate limits (default DefaultLimits); Limiter counts
	// them (nil: no rate limits).
	Limits  Limits
	Limiter Limiter
	// Mode is the sms module's rollout mode: sync sends in the request,
	// shadow sends in the request and lets the worker dry-run, async
	// (default) sends in the worker only.
	Mode rollout.Mode
	// Shadow records shadow comparisons.
	Shadow rollout.Comparer
	// SendTimeout bounds an inline (sync, shadow) send; default 10s.
	SendTimeout time.Duration
	Logger      *slog.Logger
	Registry    prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// SessionCreator starts user sessions inside the verify transaction;
// *auth.Sessions implements it.
type SessionCreator interface {
	Create(ctx context.Context, q auth.Execer, userID int64) (string, time.Time, error)
}

// Service runs OTP login: code requests, verification and the send-otp
// job. It is safe for concurrent use.
type Service struct {
	cfg     Config
	st      *store.Store
	keys    keys
	limiter Limiter
	log     *slog.Logger
	m       *metrics
	owns    bool // the provider generates and checks the codes
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Outbox == nil || cfg.Sessions == nil || cfg.Provider == nil {
		return nil, errors.New("otp: Store, Outbox, Sessions and Provider are required")
	}
	k, err := deriveKeys(cfg.Secret)
	if err != nil {
		return nil, err
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.TTL < 2*time.Minute || cfg.TTL > 10*time.Minute {
		return nil, fmt.Errorf("otp: code lifetime %s must be from 2m to 10m", cfg.TTL)
	}
	if cfg.Limits.Phone == nil && cfg.Limits.IP == nil && cfg.Limits.Home == nil && cfg.Limits.Country == nil &&
		cfg.Limits.VerifyIP == nil {
		cfg.Limits = DefaultLimits()
	}
	if cfg.Mode == "" {
		cfg.Mode = rollout.DefaultMode
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	_, owns := cfg.Provider.(sms.Verifier)
	return &Service{cfg: cfg, st: cfg.Store, keys: k, limiter: cfg.Limiter, log: cfg.Logger, m: m, owns: owns}, nil
}

// Mode is the sms module's rollout mode.
func (s *Service) Mode() rollout.Mode { return s.cfg.Mode }

// Provider is the SMS provider's name.
func (s *Service) Provider() string { return s.cfg.Provider.Name() }

// Challenge is Request's answer.
type Challenge struct {
	ID        string        `json:"challenge_id"`
	ExpiresIn time.Duration `json:"-"`
}

// Request starts a login for raw (any common form of a phone number): it
// normalises the number, applies the rate limits, stores a challenge with
// a fresh code (only its hash and its sealed form) and its OTPRequested
// event in one transaction, and publishes the event; the send-otp job
// sends the code. Nothing here depends on whether the number belongs to a
// user. In sync and shadow modes the code is also sent here, in the
// request.
func (s *Service) Request(ctx context.Context, raw, clientIP string) (Challenge, error) {
	e164, err := phone.Normalize(raw, s.cfg.Countries)
	if err != nil {
		s.m.requests.WithLabelValues("invalid").Inc()
		return Challenge{}, err
	}
	if err := s.checkRequestLimits(ctx, e164, clientIP); err != nil {
		s.m.requests.WithLabelValues("limited").Inc()
		return Challenge{}, err
	}
	id, err := newChallengeID()
	if err != nil {
		return Challenge{}, err
	}
	var code string
	var hash, box []byte
	if !s.owns {
		if code, err = newCode(); err != nil {
			return Challenge{}, err
		}
		hash = s.keys.hash(id, code)
		if box, err = s.keys.seal(id, code); err != nil {
			return Challenge{}, err
		}
	}
	now := s.cfg.Now().UTC()
	ev, err := outbox.NewEvent(ctx, EventRequested, Payload{ChallengeID: id}, s.cfg.Mode)
	if err != nil {
		return Challenge{}, err
	}
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return Challenge{}, fmt.Errorf("otp request: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, s.st.Rebind(`INSERT INTO otp_challenges (id, phone, code_hash, code_box, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`), id, e164, hash, box, now, now.Add(s.cfg.TTL))
	if err != nil {
		return Challenge{}, fmt.Errorf("otp request: %w", err)
	}
	if err := s.cfg.Outbox.Add(ctx, tx, ev); err != nil {
		return Challenge{}, fmt.Errorf("otp request: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Challenge{}, fmt.Errorf("otp request: %w", err)
	}
	_, _ = s.cfg.Outbox.Publish(ctx, ev) // on failure the relay publishes it; logged there
	if s.cfg.Mode.Inline() {
		sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		err := s.deliver(sctx, challengeRow{id: id, phone: e164}, code)
		cancel()
		if err != nil {
			s.log.WarnContext(ctx, "otp: inline send failed", "challenge", id, "to", phone.Mask(e164), "err", err)
		}
	}
	s.m.requests.WithLabelValues("accepted").Inc()
	return Challenge{ID: id, ExpiresIn: s.cfg.TTL}, nil
}

// checkRequestLimits applies the per-address, per-number and per-country
// limits together: the request counts under all of them or none.
func (s *Service) checkRequestLimits(ctx context.Context, e164, clientIP string) error {
	cc := s.countryOf(e164)
	country := s.cfg.Limits.Country
	if cc == phone.Iran {
		country = s.cfg.Limits.Home
	}
	ipKey := ""
	if clientIP != "" {
		ipKey = "otp-ip:" + clientIP
	}
	return s.allow(ctx,
		ratelimit.Check{Key: ipKey, Rules: s.cfg.Limits.IP},
		ratelimit.Check{Key: "otp-phone:" + e164, Rules: s.cfg.Limits.Phone},
		ratelimit.Check{Key: "otp-cc:" + cc, Rules: country})
}

// countryOf returns the calling code of an E.164 number among Iran and
// the allowed countries (the longest that matches).
func (s *Service) countryOf(e164 string) string {
	best := phone.Iran
	if strings.HasPrefix(e164, "+"+phone.Iran) {
		return best
	}
	best = ""
	for _, cc := range s.cfg.Countries {
		if strings.HasPrefix(e164, "+"+cc) && len(cc) > len(best) {
			best = cc
		}
	}
	if best == "" {
		return "other"
	}
	return best
}

// Login is a successful verification.
type Login struct {
	Token     string
	ExpiresAt time.Time
	UserID    int64
}

// Verify checks code against challenge id. It counts the attempt first
// (at most MaxAttempts per challenge; the sixth is ErrTooManyAttempts and
// the challenge is dead), compares in constant time (or asks the provider
// when it owns the code), and on success consumes the challenge (single
// use), creates or loads the user of the number and starts a session.
func (s *Service) Verify(ctx context.Context, id, code, clientIP string) (Login, error) {
	if clientIP != "" {
		if err := s.allow(ctx, ratelimit.Check{Key: "otp-verify-ip:" + clientIP, Rules: s.cfg.Limits.VerifyIP}); err != nil {
			s.m.verifies.WithLabelValues("limited").Inc()
			return Login{}, err
		}
	}
	code = normaliseDigits(code)
	if !validChallengeID(id) || !validCode(code, s.owns) {
		s.m.verifies.WithLabelValues("invalid").Inc()
		return Login{}, ErrInvalidCode
	}
	now := s.cfg.Now().UTC()
	var (
		e164     string
		hash     []byte
		attempts int
		expires  time.Time
	)
	err := s.st.DB().QueryRowContext(ctx, s.st.Rebind(`UPDATE otp_challenges SET attempts = attempts + 1
		WHERE id = ? AND consumed_at IS NULL RETURNING phone, code_hash, attempts, expires_at`), id).
		Scan(&e164, &hash, &attempts, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		s.m.verifies.WithLabelValues("invalid").Inc()
		return Login{}, ErrInvalidCode
	}
	if err != nil {
		return Login{}, fmt.Errorf("otp verify: %w", err)
	}
	switch {
	case attempts > MaxAttempts:
		s.m.verifies.WithLabelValues("exhausted").Inc()
		return Login{}, ErrTooManyAttempts
	case !now.Before(expires):
		s.m.verifies.WithLabelValues("expired").Inc()
		return Login{}, ErrInvalidCode
	}
	ok, err := s.check(ctx, id, e164, code, hash)
	if err != nil {
		return Login{}, err
	}
	if !ok {
		s.m.verifies.WithLabelValues("wrong").Inc()
		return Login{}, ErrInvalidCode
	}
	login, err := s.consume(ctx, id, e164, now)
	if err != nil {
		return Login{}, err
	}
	s.m.verifies.WithLabelValues("ok").Inc()
	s.log.InfoContext(ctx, "otp login", "challenge", id, "user", login.UserID, "to", phone.Mask(e164))
	return login, nil
}

// check compares code with the stored hash, or asks the provider when it
// generates the codes.
func (s *Service) check(ctx context.Context, id, e164, code string, hash []byte) (bool, error) {
	if v, ok := s.cfg.Provider.(sms.Verifier); ok && hash == nil {
		ok, err := v.Check(ctx, e164, code)
		if err != nil {
			return false, fmt.Errorf("otp verify with %s: %w", s.cfg.Provider.Name(), err)
		}
		return ok, nil
	}
	return hash != nil && s.keys.matches(id, code, hash), nil
}

// consume marks the challenge used, creates or loads the user and starts a
// session, in one transaction; a challenge consumed concurrently is
// ErrInvalidCode.
func (s *Service) consume(ctx context.Context, id, e164 string, now time.Time) (Login, error) {
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return Login{}, fmt.Errorf("otp verify: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.st.Rebind(`UPDATE otp_challenges SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL`), now, id)
	if err != nil {
		return Login{}, fmt.Errorf("otp verify: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Login{}, ErrInvalidCode
	}
	if _, err := tx.ExecContext(ctx, s.st.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, 'user', ?)
		ON CONFLICT (phone) DO NOTHING`), e164, now); err != nil {
		return Login{}, fmt.Errorf("otp verify: user: %w", err)
	}
	var l Login
	if err := tx.QueryRowContext(ctx, s.st.Rebind("SELECT id FROM users WHERE phone = ?"), e164).Scan(&l.UserID); err != nil {
		return Login{}, fmt.Errorf("otp verify: user: %w", err)
	}
	if l.Token, l.ExpiresAt, err = s.cfg.Sessions.Create(ctx, tx, l.UserID); err != nil {
		return Login{}, err
	}
	if err := tx.Commit(); err != nil {
		return Login{}, fmt.Errorf("otp verify: %w", err)
	}
	return l, nil
}

// normaliseDigits turns Persian and Arabic-Indic digits into ASCII and
// drops spaces, so a code typed on a Persian keyboard works.
func normaliseDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '۰' && r <= '۹':
			b.WriteRune('0' + (r - '۰'))
		case r >= '٠' && r <= '٩':
			b.WriteRune('0' + (r - '٠'))
		case r == ' ' || r == '-':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// validCode accepts 6 digits, or 4 to 10 when the provider makes the
// codes (Twilio Verify's range).
func validCode(c string, providerOwned bool) bool {
	if len(c) != 6 && !(providerOwned && len(c) >= 4 && len(c) <= 10) {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}

func validChallengeID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
