package jobqredis

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	type want struct {
		kind       string // single, sentinel, cluster
		addrs      []string
		master     string
		db         int
		user, pass string
		sentUser   string
		sentPass   string
		tls        bool
		dial       time.Duration
		pool       int
	}
	cases := []struct {
		url  string
		want *want // nil: error
		err  string
	}{
		{url: "redis://127.0.0.1:6379/0", want: &want{kind: "single", addrs: []string{"127.0.0.1:6379"}}},
		{url: "redis://:s3cret@h:7000/2?dial_timeout=3", want: &want{kind: "single", addrs: []string{"h:7000"}, db: 2, pass: "s3cret", dial: 3 * time.Second}},
		{url: "rediss://u:p@h/1", want: &want{kind: "single", addrs: []string{"h:6379"}, db: 1, user: "u", pass: "p", tls: true}},
		{url: "unix:///tmp/redis.sock?db=3", want: &want{kind: "single", addrs: []string{"/tmp/redis.sock"}, db: 3}},
		{url: "redis://h/0?bogus=1", err: "unexpected option"},

		{url: "redis-sentinel://s1:26379,s2:26380,s3/mymaster", want: &want{kind: "sentinel",
			addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, master: "mymaster"}},
		{url: "redis+sentinel://s1/mymaster/4", want: &want{kind: "sentinel", addrs: []string{"s1:26379"}, master: "mymaster", db: 4}},
		{url: "redis-sentinel://s1/mymaster?db=5&pool_size=7", want: &want{kind: "sentinel", addrs: []string{"s1:26379"}, master: "mymaster", db: 5, pool: 7}},
		{url: "redis-sentinel://app:p%40ss@s1,s2/m?sentinel_username=su&sentinel_password=sp%26x", want: &want{kind: "sentinel",
			addrs: []string{"s1:26379", "s2:26379"}, master: "m", user: "app", pass: "p@ss", sentUser: "su", sentPass: "sp&x"}},
		{url: "rediss-sentinel://[::1]:26379,[fe80::1]/m", want: &want{kind: "sentinel", addrs: []string{"[::1]:26379", "[fe80::1]:26379"}, master: "m", tls: true}},
		{url: "REDIS-SENTINEL://s/m%20x", want: &want{kind: "sentinel", addrs: []string{"s:26379"}, master: "m x"}},
		{url: "redis-sentinel://s1:26379", err: "master name"},
		{url: "redis-sentinel://s1/m/1?db=2", err: "database given twice"},
		{url: "redis-sentinel://s1/m/x", err: "invalid database"},
		{url: "redis-sentinel://s1/m/1/2", err: "/master or /master/db"},
		{url: "redis-sentinel://s1/m?master_name=other", err: "set by the url"},
		{url: "redis-sentinel://s1/m?password=x", err: "set by the url"},
		{url: "redis-sentinel://s1/m?nope=1", err: "unexpected option"},
		{url: "redis-sentinel://s1,,s2/m", err: "empty host"},
		{url: "redis-sentinel://s1:0/m", err: "port"},
		{url: "redis-sentinel://s1:99999/m", err: "port"},
		{url: "redis-sentinel://s1:abc/m", err: "port"},
		{url: "redis-sentinel://[::1/m", err: "missing ]"},
		{url: "redis-sentinel://[nothost]:1/m", err: "IPv6"},

		{url: "redis-cluster://n1:7000,n2:7001,n3", want: &want{kind: "cluster", addrs: []string{"n1:7000", "n2:7001", "n3:6379"}}},
		{url: "redis+cluster://u:p@n1:7000/?dial_timeout=2s&read_timeout=1", want: &want{kind: "cluster", addrs: []string{"n1:7000"},
			user: "u", pass: "p", dial: 2 * time.Second}},
		{url: "rediss-cluster://n1:7000/0", want: &want{kind: "cluster", addrs: []string{"n1:7000"}, tls: true}},
		{url: "redis-cluster://n1/1", err: "database 0"},
		{url: "redis-cluster://n1?db=1", err: "database 0"},
		{url: "redis-cluster://n1?addr=n2:1", err: "host part"},
		{url: "redis-cluster://n1?frob=1", err: "unexpected option"},

		{url: "127.0.0.1:6379", err: "no scheme"},
		{url: "http://h", err: "unsupported url scheme"},
		{url: "redis-sentinel://s/m#frag", err: "fragment"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			o, err := ParseURL(tc.url)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			var kind, user, pass, sentUser, sentPass, master string
			var db, pool int
			var tls bool
			var dial time.Duration
			switch {
			case o.Single != nil:
				s := o.Single
				kind, user, pass, db, tls, dial, pool = "single", s.Username, s.Password, s.DB, s.TLSConfig != nil, s.DialTimeout, s.PoolSize
			case o.Failover != nil:
				f := o.Failover
				kind, user, pass, db, tls, dial, pool = "sentinel", f.Username, f.Password, f.DB, f.TLSConfig != nil, f.DialTimeout, f.PoolSize
				master, sentUser, sentPass = f.MasterName, f.SentinelUsername, f.SentinelPassword
			case o.Cluster != nil:
				c := o.Cluster
				kind, user, pass, tls, dial, pool = "cluster", c.Username, c.Password, c.TLSConfig != nil, c.DialTimeout, c.PoolSize
			}
			if n := btoi(o.Single != nil) + btoi(o.Failover != nil) + btoi(o.Cluster != nil); n != 1 {
				t.Fatalf("%d option sets", n)
			}
			if kind != w.kind || !slices.Equal(o.Addrs(), w.addrs) || master != w.master || db != w.db ||
				user != w.user || pass != w.pass || sentUser != w.sentUser || sentPass != w.sentPass ||
				tls != w.tls || dial != w.dial || pool != w.pool {
				t.Fatalf("got kind=%s addrs=%v master=%q db=%d user=%q pass=%q sent=%q/%q tls=%v dial=%s pool=%d\nwant %+v",
					kind, o.Addrs(), master, db, user, pass, sentUser, sentPass, tls, dial, pool, *w)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzParseURL: ParseURL never panics; a URL it accepts yields exactly one
// option set with at least one address, every sentinel or cluster address
// is a valid host:port, and no error message repeats the password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379/0", "rediss://u:p@h/1", "unix:///tmp/r.sock",
		"redis-sentinel://s1:26379,s2/mymaster/1?dial_timeout=1s",
		"redis-sentinel://a:b@[::1]/m?sentinel_password=x",
		"redis-cluster://n1:7000,n2:7001/", "rediss+cluster://u:p@n/?pool_size=3",
		"redis-sentinel://s/m/1?db=2", "redis-cluster://,/", "redis-sentinel://@/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseURL(s)
		if err != nil {
			if o != nil {
				t.Fatal("options with an error")
			}
			if i := strings.Index(s, "://"); i >= 0 {
				rest := s[i+3:]
				if at := strings.LastIndexByte(rest, '@'); at > 0 {
					if _, p, ok := strings.Cut(rest[:at], ":"); ok && len(p) >= 8 && !strings.ContainsAny(p, "/?#,[]") &&
						strings.Contains(err.Error(), p) {
						t.Fatalf("error %q repeats the password", err)
					}
				}
			}
			return
		}
		if n := btoi(o.Single != nil) + btoi(o.Failover != nil) + btoi(o.Cluster != nil); n != 1 {
			t.Fatalf("%d option sets", n)
		}
		addrs := o.Addrs()
		if len(addrs) == 0 {
			t.Fatal("no address")
		}
		if o.Single == nil {
			for _, a := range addrs {
				if _, err := hostPort(a, "1"); err != nil {
					t.Fatalf("address %q: %v", a, err)
				}
			}
		}
		if o.Failover != nil && o.Failover.MasterName == "" {
			t.Fatal("sentinel without master name")
		}
	})
}
