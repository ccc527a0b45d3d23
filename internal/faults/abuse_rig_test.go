package faults

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

const abuseAdminToken = "faults-admin-token-0123456789"

// abuseRig is Atlas's whole HTTP chain (app.New with the demo data) on a
// loopback server, with a plain user's and an admin user's session.
type abuseRig struct {
	t         testing.TB
	url       string
	app       *app.App
	st        *store.Store
	uid       int64
	userToken string
	salon     string   // a salon slug that exists
	spare     []string // more salon slugs, for cases that change or review one
	clients   int      // requests sent; each gets its own client address
	client    string   // when set, the client address of every request
	city      string
	post      string
}

// newAbuseRig starts the app on databaseURL ("" = SQLite in the data dir).
func newAbuseRig(t testing.TB, databaseURL string) *abuseRig {
	t.Helper()
	return newAbuseRigWith(t, databaseURL, nil)
}

// newAbuseRigWith is newAbuseRig with tune applied to the configuration.
func newAbuseRigWith(t testing.TB, databaseURL string, tune func(*app.Config)) *abuseRig {
	t.Helper()
	cfg := app.Config{DataDir: storetest.TempDataDir(t), DatabaseURL: databaseURL, HTTP: true, Demo: true,
		AdminToken: abuseAdminToken}
	// The loopback test client is a trusted proxy, so each request can
	// name its own client address (X-Forwarded-For).
	cfg.OTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if tune != nil {
		tune(&cfg)
	}
	a := apptest.Start(t, cfg, nil, false)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	r := &abuseRig{t: t, url: srv.URL, app: a, st: a.Store()}
	ctx := context.Background()
	db := r.st.DB()
	r.uid = r.addUser(t, "+989120000017")
	r.userToken = r.newSession(t)
	for q, dst := range map[string]*string{
		"SELECT slug FROM salons ORDER BY id LIMIT 1": &r.salon,
		"SELECT slug FROM cities ORDER BY id LIMIT 1": &r.city,
		"SELECT slug FROM posts ORDER BY id LIMIT 1":  &r.post,
	} {
		if err := db.QueryRowContext(ctx, q).Scan(dst); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT slug FROM salons ORDER BY id LIMIT 1000 OFFSET 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		r.spare = append(r.spare, s)
	}
	return r
}

// nextSalon returns a salon slug no other case has used.
func (r *abuseRig) nextSalon(t testing.TB) string {
	t.Helper()
	if len(r.spare) == 0 {
		t.Fatal("out of spare salons")
	}
	s := r.spare[0]
	r.spare = r.spare[1:]
	return s
}

// do sends one request; auth is "", "wrong", "user" or "admin".
func (r *abuseRig) do(t testing.TB, method, path, ctype string, body []byte, who string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %q: %v", method, path, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	r.clients++
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", r.clients%250+1))
	if r.client != "" {
		req.Header.Set("X-Forwarded-For", r.client)
	}
	switch who {
	case "wrong":
		// a fresh client address each time: the table checks statuses,
		// not the failed-auth limit (TestTokenGuessing does)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", len(abuseAdminToken)))
	case "user":
		req.Header.Set("Authorization", "Bearer "+r.userToken)
	case "admin":
		req.Header.Set("Authorization", "Bearer "+abuseAdminToken)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %q: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// servedPatterns reads every route pattern Atlas registers: each string
// literal passed as the first argument of a mux.Handle call in
// internal/httpapi's non-test files.
func servedPatterns(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join("..", "httpapi")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Handle" {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				p, err := strconv.Unquote(lit.Value)
				if err == nil {
					out = append(out, p)
				}
			}
			return true
		})
	}
	return out
}

// addUser stores a plain user with phone and returns its id.
func (r *abuseRig) addUser(t testing.TB, phone string) int64 {
	t.Helper()
	ctx, db := context.Background(), r.st.DB()
	if _, err := db.ExecContext(ctx, r.st.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, 'user', ?)`),
		phone, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.QueryRowContext(ctx, r.st.Rebind(`SELECT id FROM users WHERE phone = ?`), phone).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// newSession starts another session for the rig's user.
func (r *abuseRig) newSession(t testing.TB) string {
	t.Helper()
	return r.sessionFor(t, r.uid)
}

// sessionFor starts a session for user uid and returns its token.
func (r *abuseRig) sessionFor(t testing.TB, uid int64) string {
	t.Helper()
	tok, _, err := auth.NewSessions(r.st, time.Hour, nil).Create(context.Background(), nil, uid)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// paused reports whether queue is paused.
func (r *abuseRig) paused(t testing.TB, queue string) bool {
	t.Helper()
	p, err := r.app.Queues().Queue(queue).IsPaused(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
