package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.7, ::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string
		trusted    bool
		want       string
	}{
		{"no proxies configured", "10.1.2.3:5000", []string{"1.2.3.4"}, false, "10.1.2.3"},
		{"untrusted peer ignores the header", "203.0.113.9:5000", []string{"1.2.3.4"}, true, "203.0.113.9"},
		{"trusted peer: the client it names", "10.1.2.3:5000", []string{"198.51.100.7"}, true, "198.51.100.7"},
		{"spoofed left part is skipped", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.7"}, true, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:5000", []string{"198.51.100.7, 192.168.1.7", "10.9.9.9"}, true, "198.51.100.7"},
		{"all hops trusted", "10.1.2.3:5000", []string{"10.2.2.2"}, true, "10.1.2.3"},
		{"no header", "10.1.2.3:5000", nil, true, "10.1.2.3"},
		{"malformed hop", "10.1.2.3:5000", []string{"198.51.100.7, nonsense"}, true, "10.1.2.3"},
		{"ipv6 peer", "[::1]:5000", []string{"2001:db8::5"}, true, "2001:db8::5"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/api/v1/auth/otp/request", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		list := trusted
		if !tc.trusted {
			list = nil
		}
		if got := clientIP(r, list); got != tc.want {
			t.Errorf("%s: clientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix was accepted")
	}
	if _, err := ParseTrustedProxies("proxy.local"); err == nil {
		t.Error("a host name was accepted")
	}
}
