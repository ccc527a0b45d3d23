package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/phone"
)

// OTPService runs OTP login; *otp.Service implements it.
type OTPService interface {
	Request(ctx context.Context, rawPhone, clientIP string) (otp.Challenge, error)
	Verify(ctx context.Context, challengeID, code, clientIP string) (otp.Login, error)
}

// SessionRevoker ends user sessions; *auth.Sessions implements it.
type SessionRevoker interface {
	Revoke(ctx context.Context, token string) error
}

// maxAuthBody bounds the small JSON bodies of the auth routes.
const maxAuthBody = 4 << 10

// requestOTP is POST /api/v1/auth/otp/request {phone}: 202
// {challenge_id, expires_in}, whether or not the number belongs to a
// user; 400 for a number that is not a mobile Atlas serves; 429 with
// Retry-After when a rate limit refuses.
func requestOTP(log *slog.Logger, svc OTPService, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Phone string `json:"phone"`
		}
		if err := decodeJSON(w, r, maxAuthBody, &in); err != nil {
			writeError(w, r, log, err)
			return
		}
		c, err := svc.Request(r.Context(), in.Phone, clientIP(r, trusted))
		if err != nil {
			writeOTPError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"challenge_id": c.ID, "expires_in": int(c.ExpiresIn / time.Second)})
	})
}

// verifyOTP is POST /api/v1/auth/otp/verify {challenge_id, code}: 200
// {token, expires_at, user_id}; 401 for a wrong, expired, used or unknown
// challenge; 429 after too many attempts or requests.
func verifyOTP(log *slog.Logger, svc OTPService, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ChallengeID string `json:"challenge_id"`
			Code        string `json:"code"`
		}
		if err := decodeJSON(w, r, maxAuthBody, &in); err != nil {
			writeError(w, r, log, err)
			return
		}
		l, err := svc.Verify(r.Context(), in.ChallengeID, in.Code, clientIP(r, trusted))
		if err != nil {
			writeOTPError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"token": l.Token, "token_type": "Bearer",
			"expires_at": l.ExpiresAt.UTC().Format(time.RFC3339), "user_id": l.UserID})
	})
}

// logout is POST /api/v1/auth/logout: revokes the session of the Bearer
// token (204); the admin token is not a session (400).
func logout(log *slog.Logger, rev SessionRevoker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			writeError(w, r, log, ErrUnauthorized)
			return
		}
		if id.Kind != auth.KindUser {
			writeError(w, r, log, badRequest("not_a_session", "the admin token is not a session; nothing to log out"))
			return
		}
		token, _ := auth.BearerToken(r)
		if err := rev.Revoke(r.Context(), token); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// splitMediaType returns the media type of a Content-Type value.
func splitMediaType(ct string) (string, string, bool) {
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' {
			return trimLower(ct[:i]), ct[i+1:], true
		}
	}
	return trimLower(ct), "", false
}

func trimLower(s string) string {
	b := []byte(s)
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return string(bytes.ToLower(b))
}

// writeOTPError maps the OTP module's errors: phone → 400 with its code,
// rate limits → 429 with Retry-After, a bad code → 401.
func writeOTPError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var pe *phone.Error
	var le *otp.LimitedError
	switch {
	case errors.As(err, &pe):
		writeError(w, r, log, badRequest(pe.Code, "phone "+pe.Reason))
	case errors.As(err, &le):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(le.RetryAfter.Seconds()))))
		writeError(w, r, log, &statusError{status: http.StatusTooManyRequests, code: "rate_limited",
			msg: "too many requests; retry after the time in Retry-After"})
	case errors.Is(err, otp.ErrTooManyAttempts):
		writeError(w, r, log, &statusError{status: http.StatusTooManyRequests, code: "too_many_attempts", msg: err.Error()})
	case errors.Is(err, otp.ErrInvalidCode):
		writeError(w, r, log, &statusError{status: http.StatusUnauthorized, code: "invalid_code", msg: err.Error()})
	default:
		writeError(w, r, log, err)
	}
}

// statusError is an error with its own status, code and public message.
type statusError struct {
	status    int
	code, msg string
}

func (e *statusError) Error() string { return e.msg }

// clientIP is the address the rate limits count a request under: the TCP
// peer, or, when the peer is a trusted proxy, the right-most address in
// X-Forwarded-For that is not itself a trusted proxy (the left part of
// that header is written by the client and proves nothing).
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer.String() // a malformed hop: do not trust what is left of it
		}
		if !isTrusted(a.Unmap(), trusted) {
			return a.Unmap().String()
		}
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// prefixes ("10.0.0.0/8, 192.168.1.7").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
