package jobqredis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ClientOptions is a parsed connection URL (see ParseURL). Exactly one
// field is set.
type ClientOptions struct {
	Single   *redis.Options         // redis://, rediss://, unix://
	Failover *redis.FailoverOptions // redis-sentinel://, rediss-sentinel://
	Cluster  *redis.ClusterOptions  // redis-cluster://, rediss-cluster://
}

// ParseURL parses a Redis connection URL. Three families are accepted:
//
// A single server, exactly as redis.ParseURL reads it:
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://...   (TLS)
//	unix://[[user]:password@]/path/to/redis.sock[?db=N&...]
//
// Redis Sentinel: a comma-separated list of sentinels (port 26379 when
// omitted), then the master name as the first path segment and an optional
// database number as the second (or ?db=N). The userinfo holds the
// credentials of the Redis servers (master and replicas); the sentinels'
// own credentials, if any, go in the sentinel_username and
// sentinel_password query options:
//
//	redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?option=value...]
//	rediss-sentinel://...   (TLS to sentinels and servers)
//
// Redis Cluster: a comma-separated list of seed nodes (port 6379 when
// omitted); the path must be empty or "/" (a cluster has only database 0):
//
//	redis-cluster://[[user]:password@]host[:port][,host[:port]...][/][?option=value...]
//	rediss-cluster://...   (TLS)
//
// "redis+sentinel", "rediss+sentinel", "redis+cluster" and "rediss+cluster"
// are accepted as aliases. IPv6 hosts are written in brackets
// ("[::1]:26379"). Every other query option is a go-redis option in snake
// case (dial_timeout=3s, pool_size=20, max_retries=5, ...), as documented
// by redis.ParseURL, redis.ParseFailoverURL and redis.ParseClusterURL;
// unknown options are an error.
func ParseURL(rawURL string) (*ClientOptions, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("jobqredis: url has no scheme")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("jobqredis: parse url: %w", withoutURL(err))
		}
		return &ClientOptions{Single: o}, nil
	case "redis-sentinel", "redis+sentinel":
		return parseSentinel("redis", rest)
	case "rediss-sentinel", "rediss+sentinel":
		return parseSentinel("rediss", rest)
	case "redis-cluster", "redis+cluster":
		return parseCluster("redis", rest)
	case "rediss-cluster", "rediss+cluster":
		return parseCluster("rediss", rest)
	}
	return nil, fmt.Errorf("jobqredis: unsupported url scheme %q (want redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster)", scheme)
}

// multiHostURL is the part of a sentinel or cluster URL after the scheme.
type multiHostURL struct {
	user  *url.Userinfo
	hosts []string // host:port
	path  []string // non-empty path segments
	query url.Values
}

// splitMultiHost splits "[userinfo@]h1[:p1][,h2[:p2]...][/path][?query]".
func splitMultiHost(rest string, defPort string) (*multiHostURL, error) {
	var m multiHostURL
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return nil, errors.New("jobqredis: url fragment not allowed")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("jobqredis: url query: %w", err)
	}
	m.query = q
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		// parse the userinfo with net/url, which unescapes it
		u, err := url.Parse("redis://" + authority[:i+1] + "h")
		if err != nil {
			return nil, errors.New("jobqredis: url userinfo is invalid")
		}
		m.user, authority = u.User, authority[i+1:]
	}
	for h := range strings.SplitSeq(authority, ",") {
		hp, err := hostPort(h, defPort)
		if err != nil {
			return nil, err
		}
		m.hosts = append(m.hosts, hp)
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		s, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Errorf("jobqredis: url path: %w", err)
		}
		m.path = append(m.path, s)
	}
	return &m, nil
}

// hostPort validates one "host[:port]" and adds defPort when the port is
// missing.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", errors.New("jobqredis: url has an empty host")
	}
	host, port := h, defPort
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("jobqredis: url host %q: missing ]", h)
		}
		host = h[1:end]
		switch tail := h[end+1:]; {
		case tail == "":
		case strings.HasPrefix(tail, ":"):
			port = tail[1:]
		default:
			return "", fmt.Errorf("jobqredis: url host %q is invalid", h)
		}
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("jobqredis: url host %q: bad IPv6 address", h)
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
	}
	if host == "" || strings.ContainsAny(host, " /?#@[]:%\t\r\n") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("jobqredis: url host %q is invalid", h)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", fmt.Errorf("jobqredis: url port in %q is invalid", h)
	}
	return net.JoinHostPort(host, port), nil
}

// takeQuery removes and returns a query option.
func takeQuery(q url.Values, name string) string {
	v := q.Get(name)
	delete(q, name)
	return v
}

func parseSentinel(scheme, rest string) (*ClientOptions, error) {
	m, err := splitMultiHost(rest, "26379")
	if err != nil {
		return nil, err
	}
	if len(m.path) == 0 {
		return nil, errors.New("jobqredis: sentinel url needs the master name as its path (redis-sentinel://host:26379/mymaster)")
	}
	if len(m.path) > 2 {
		return nil, errors.New("jobqredis: sentinel url path must be /master or /master/db")
	}
	master := m.path[0]
	for _, k := range []string{"master_name", "addr", "username", "password"} {
		if m.query.Has(k) {
			return nil, fmt.Errorf("jobqredis: sentinel url: option %q is set by the url itself", k)
		}
	}
	db := takeQuery(m.query, "db")
	if len(m.path) == 2 {
		if db != "" {
			return nil, errors.New("jobqredis: sentinel url: database given twice (path and ?db=)")
		}
		db = m.path[1]
	}
	if db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return nil, fmt.Errorf("jobqredis: sentinel url: invalid database %q", db)
		}
	}
	sentUser, sentPass := takeQuery(m.query, "sentinel_username"), takeQuery(m.query, "sentinel_password")
	// re-express it in the form redis.ParseFailoverURL reads, so its
	// option parsing (and unknown-option check) applies unchanged
	q := m.query
	q.Set("master_name", master)
	for _, h := range m.hosts[1:] {
		q.Add("addr", h)
	}
	if m.user != nil {
		q.Set("username", m.user.Username())
		if p, ok := m.user.Password(); ok {
			q.Set("password", p)
		}
	}
	u := url.URL{Scheme: scheme, Host: m.hosts[0], RawQuery: q.Encode()}
	if sentUser != "" || sentPass != "" {
		u.User = url.UserPassword(sentUser, sentPass)
	}
	if db != "" {
		u.Path = "/" + db
	}
	o, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("jobqredis: parse sentinel url: %w", withoutURL(err))
	}
	return &ClientOptions{Failover: o}, nil
}

func parseCluster(scheme, rest string) (*ClientOptions, error) {
	m, err := splitMultiHost(rest, "6379")
	if err != nil {
		return nil, err
	}
	if len(m.path) > 1 || len(m.path) == 1 && m.path[0] != "0" {
		return nil, errors.New("jobqredis: cluster url: a cluster has only database 0; the path must be empty")
	}
	if m.query.Has("addr") {
		return nil, errors.New(`jobqredis: cluster url: list nodes in the host part, not with "addr"`)
	}
	if db := m.query.Get("db"); db != "" && db != "0" {
		return nil, errors.New("jobqredis: cluster url: a cluster has only database 0")
	}
	delete(m.query, "db")
	q := m.query
	for _, h := range m.hosts[1:] {
		q.Add("addr", h)
	}
	u := url.URL{Scheme: scheme, User: m.user, Host: m.hosts[0], RawQuery: q.Encode()}
	o, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("jobqredis: parse cluster url: %w", withoutURL(err))
	}
	return &ClientOptions{Cluster: o}, nil
}

// withoutURL drops the URL (and so any password in it) from a net/url
// parse error.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// NewClient builds the client the options describe.
func (o *ClientOptions) NewClient() redis.UniversalClient {
	switch {
	case o.Failover != nil:
		return redis.NewFailoverClient(o.Failover)
	case o.Cluster != nil:
		return redis.NewClusterClient(o.Cluster)
	default:
		return redis.NewClient(o.Single)
	}
}

// Addrs lists the addresses the options name (sentinels for Sentinel, seed
// nodes for Cluster), for messages; it never includes credentials.
func (o *ClientOptions) Addrs() []string {
	switch {
	case o.Failover != nil:
		return o.Failover.SentinelAddrs
	case o.Cluster != nil:
		return o.Cluster.Addrs
	default:
		return []string{o.Single.Addr}
	}
}
