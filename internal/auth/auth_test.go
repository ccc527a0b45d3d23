package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsAdminToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, configured, given string
		want                    bool
	}{
		{"right token", "s3cret-token", "s3cret-token", true},
		{"wrong token of the same length", "s3cret-token", "s3cret-tokeN", false},
		{"shorter", "s3cret-token", "s3cret", false},
		{"longer", "s3cret-token", "s3cret-token-and-more", false},
		{"prefix is not enough", "s3cret-token", "s3cret-toke", false},
		{"empty given", "s3cret-token", "", false},
		{"nothing configured: empty given", "", "", false},
		{"nothing configured: any given", "", "anything", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := New(Config{AdminToken: tc.configured})
			if got := a.IsAdminToken(tc.given); got != tc.want {
				t.Fatalf("IsAdminToken(%q) with %q configured = %v, want %v", tc.given, tc.configured, got, tc.want)
			}
			if a.AdminEnabled() != (tc.configured != "") {
				t.Fatalf("AdminEnabled() = %v with %q configured", a.AdminEnabled(), tc.configured)
			}
		})
	}
}

func TestAuthenticatorKeepsNoToken(t *testing.T) {
	t.Parallel()
	const tok = "s3cret-admin-token"
	a := New(Config{AdminToken: tok})
	if s := fmt.Sprintf("%+v %s", *a, a.adminDigest[:]); strings.Contains(s, tok) {
		t.Fatal("the Authenticator holds the token itself")
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"Bearer  abc ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"", "", false},
		{"abc", "", false},
		{"Basic YWJjOmRlZg==", "", false},
		{"bearer abc", "", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		got, ok := BearerToken(r)
		if got != tc.want || ok != tc.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

// sessions is a fake SessionLookup: token "user-7" is user 7, "admin-8"
// the admin user 8, "broken" fails; others are unknown.
type sessions struct{}

var errBroken = errors.New("database is down")

func (sessions) LookupSession(_ context.Context, token string) (Identity, error) {
	switch token {
	case "user-7":
		return Identity{UserID: 7, Kind: KindAdmin}, nil // Kind is overridden
	case "admin-8":
		return Identity{UserID: 8, Admin: true}, nil
	case "broken":
		return Identity{}, errBroken
	}
	return Identity{}, fmt.Errorf("session %q: %w", token, ErrUnauthenticated)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	with := New(Config{AdminToken: "tok", Sessions: sessions{}})
	without := New(Config{AdminToken: "tok"})
	noAdmin := New(Config{Sessions: sessions{}})
	tests := []struct {
		name   string
		a      *Authenticator
		header string
		want   Identity
		err    error
	}{
		{"admin token", with, "Bearer tok", Identity{Kind: KindAdmin, Admin: true}, nil},
		{"admin token, no lookup", without, "Bearer tok", Identity{Kind: KindAdmin, Admin: true}, nil},
		{"user session", with, "Bearer user-7", Identity{Kind: KindUser, UserID: 7}, nil},
		{"admin's session", with, "Bearer admin-8", Identity{Kind: KindUser, UserID: 8, Admin: true}, nil},
		{"unknown session", with, "Bearer nope", Identity{}, ErrUnauthenticated},
		{"session without lookup", without, "Bearer user-7", Identity{}, ErrUnauthenticated},
		{"lookup fails", with, "Bearer broken", Identity{}, errBroken},
		{"no header", with, "", Identity{}, ErrUnauthenticated},
		{"empty bearer", with, "Bearer ", Identity{}, ErrUnauthenticated},
		{"admin off, sessions on", noAdmin, "Bearer user-7", Identity{Kind: KindUser, UserID: 7}, nil},
		{"admin off: empty token", noAdmin, "Bearer ", Identity{}, ErrUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := tc.a.Authenticate(r)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || got != tc.want {
				t.Fatalf("Authenticate = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
			if errors.Is(err, errBroken) && errors.Is(err, ErrUnauthenticated) {
				t.Fatal("a lookup failure reads as unauthenticated")
			}
		})
	}
}

func TestFromContextEmpty(t *testing.T) {
	t.Parallel()
	if id, ok := FromContext(context.Background()); ok || id != (Identity{}) {
		t.Fatalf("FromContext(empty) = %+v, %v", id, ok)
	}
	want := Identity{Kind: KindUser, UserID: 3}
	if id, ok := FromContext(NewContext(context.Background(), want)); !ok || id != want {
		t.Fatalf("FromContext(NewContext) = %+v, %v", id, ok)
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "Bearer ", "bearer x", "", "Bearer \t x \n"} {
		f.Add(s)
	}
	a := New(Config{AdminToken: "tok"})
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{header}
		tok, ok := BearerToken(r)
		if ok && tok == "" {
			t.Fatalf("BearerToken(%q) accepted an empty token", header)
		}
		if id, err := a.Authenticate(r); err == nil && (id.Kind != KindAdmin || tok != "tok") {
			t.Fatalf("Authenticate(%q) = %+v", header, id)
		}
	})
}
