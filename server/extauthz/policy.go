package extauthz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Defaults of a policy; a server without a policy file uses them all.
const (
	// DefaultTokenHeader is the request header that carries "Bearer <token>".
	DefaultTokenHeader = "authorization"
	// DefaultSubjectHeader receives the token's sub for the upstream.
	DefaultSubjectHeader = "x-tokend-subject"
	// DefaultAppIDHeader receives the token's aid for the upstream.
	DefaultAppIDHeader = "x-tokend-app-id"
	// DefaultClaimsHeader receives the selected claims for the upstream, as
	// base64url (unpadded) compact JSON.
	DefaultClaimsHeader = "x-tokend-claims"
)

// maxPolicySize bounds the policy file LoadPolicy reads.
const maxPolicySize = 1 << 20

// ErrInvalidPolicy is what every policy field error unwraps to.
var ErrInvalidPolicy = errors.New("extauthz: invalid policy")

// PolicyError is a bad field of a policy file, named by its path in the
// file ("routes[2].path_prefix").
type PolicyError struct {
	Field string
	Msg   string
}

func (e *PolicyError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalidPolicy.
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

// fieldErrors are all the bad fields of a policy, on one line.
type fieldErrors []error

func (e fieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the *PolicyError of each field.
func (e fieldErrors) Unwrap() []error { return e }

// policyFile is a policy as written (YAML, or JSON which YAML reads too).
// Pointers tell a field left out (inherit) from a field set empty.
type policyFile struct {
	TokenHeader *string     `yaml:"token_header"`
	Default     *routeFile  `yaml:"default"`
	Routes      []routeFile `yaml:"routes"`
}

type routeFile struct {
	Name       string       `yaml:"name"`
	Host       *string      `yaml:"host"`
	PathPrefix *string      `yaml:"path_prefix"`
	Audience   *string      `yaml:"audience"`
	Apps       *[]string    `yaml:"apps"`
	Headers    *headersFile `yaml:"headers"`
	Claims     *[]string    `yaml:"claims"`
	StripToken *bool        `yaml:"strip_token"`
}

type headersFile struct {
	Subject *string `yaml:"subject"`
	AppID   *string `yaml:"app_id"`
	Claims  *string `yaml:"claims"`
}

// Policy is a compiled policy: which header carries the token, and the
// route table that decides, from a request's host and path, what a token
// must satisfy and which headers go to the upstream. It is immutable and
// safe for concurrent use; matching allocates nothing.
type Policy struct {
	tokenHeader string
	def         *route
	// byHost holds the routes of exact hosts ("api.example.com" or
	// "api.example.com:8443"), wild the routes of host "*"; each list is
	// sorted longest path prefix first.
	byHost map[string][]*route
	wild   []*route
}

// route is one compiled route.
type route struct {
	name     string
	host     string // "*" or a lower-case host[:port]
	prefix   string
	audience string   // "" means any
	apps     []string // empty means any
	// Upstream header names; "" sends none.
	subjectHeader, appIDHeader, claimsHeader string
	claims                                   []claimField
	// remove is the headers_to_remove of every allowed request: the token
	// header when stripped, and the claims header when no claim is
	// selected (so that a client cannot forge it).
	remove []string
}

// DefaultPolicy returns the policy of a server without a policy file: the
// token in "authorization", no audience or app restriction, subject and
// app id headers, no claims header, token header kept.
func DefaultPolicy() *Policy {
	p, err := compile(policyFile{})
	if err != nil {
		panic("extauthz: the built-in default policy does not compile: " + err.Error())
	}
	return p
}

// LoadPolicy reads and compiles the policy file at path. Its errors name
// the file and, for a bad field, the field (routes[1].audience).
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPolicySize)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy compiles a policy document (YAML or JSON). Unknown fields
// are refused, so that a typo cannot silently loosen a policy.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the policy is empty", ErrInvalidPolicy)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var pf policyFile
	if err := dec.Decode(&pf); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// "line 2: field audiance not found in type extauthz.routeFile"
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				if before, _, ok := strings.Cut(m, " not found in type "); ok {
					m = before + " is not a policy field"
				}
				msgs[i] = m
			}
			return nil, fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the policy must be a single document", ErrInvalidPolicy)
	}
	return compile(pf)
}

// compile checks every field and builds the route table; it reports every
// bad field at once.
func compile(pf policyFile) (*Policy, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &PolicyError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	p := &Policy{tokenHeader: DefaultTokenHeader, byHost: map[string][]*route{}}
	if pf.TokenHeader != nil {
		p.tokenHeader = strings.ToLower(*pf.TokenHeader)
		if msg := checkHeaderName(p.tokenHeader); msg != "" {
			bad("token_header", "%s", msg)
		}
	}

	// The built-in defaults, overridden by the default route, overridden
	// by each route.
	base := &route{
		name: "default", host: "*", prefix: "/",
		subjectHeader: DefaultSubjectHeader, appIDHeader: DefaultAppIDHeader, claimsHeader: DefaultClaimsHeader,
	}
	stripDefault := false
	if d := pf.Default; d != nil {
		if d.Host != nil {
			bad("default.host", "not allowed: the default route serves every host")
		}
		if d.PathPrefix != nil {
			bad("default.path_prefix", "not allowed: the default route serves every path")
		}
		if d.Name != "" {
			bad("default.name", "not allowed: the default route is named \"default\"")
		}
		stripDefault = fillRoute(base, *d, "default", p.tokenHeader, false, bad)
	} else {
		fillRoute(base, routeFile{}, "default", p.tokenHeader, false, bad)
	}
	p.def = base

	seen := map[[2]string]string{}
	for i, rf := range pf.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		r := &route{
			name: field, host: "*", prefix: "/", audience: base.audience, apps: base.apps,
			subjectHeader: base.subjectHeader, appIDHeader: base.appIDHeader, claimsHeader: base.claimsHeader,
			claims: base.claims,
		}
		if rf.Name != "" {
			r.name = rf.Name
		}
		if rf.Host != nil {
			r.host = strings.ToLower(*rf.Host)
			if msg := checkHost(r.host); msg != "" {
				bad(field+".host", "%s", msg)
			}
		}
		if rf.PathPrefix != nil {
			r.prefix = *rf.PathPrefix
			if msg := checkPathPrefix(r.prefix); msg != "" {
				bad(field+".path_prefix", "%s", msg)
			}
		}
		if rf.Host == nil && rf.PathPrefix == nil {
			bad(field, "set host, path_prefix or both (the default route serves the rest)")
		}
		fillRoute(r, rf, field, p.tokenHeader, stripDefault, bad)
		key := [2]string{r.host, r.prefix}
		if prev, dup := seen[key]; dup {
			bad(field, "same host %q and path_prefix %q as %s", r.host, r.prefix, prev)
		}
		seen[key] = field
		if r.host == "*" {
			p.wild = append(p.wild, r)
		} else {
			p.byHost[r.host] = append(p.byHost[r.host], r)
		}
	}
	if len(errs) > 0 {
		return nil, fieldErrors(errs)
	}
	longestFirst := func(a, b *route) int { return len(b.prefix) - len(a.prefix) }
	slices.SortStableFunc(p.wild, longestFirst)
	for _, rs := range p.byHost {
		slices.SortStableFunc(rs, longestFirst)
	}
	return p, nil
}

// fillRoute applies the fields of rf that are set to r and computes its
// headers_to_remove. It returns the route's strip_token (inherited from
// strip when unset).
func fillRoute(r *route, rf routeFile, field, tokenHeader string, strip bool, bad func(field, format string, args ...any)) bool {
	if rf.Audience != nil {
		r.audience = *rf.Audience
	}
	if rf.Apps != nil {
		r.apps = nil
		for i, id := range *rf.Apps {
			switch {
			case id == "":
				bad(fmt.Sprintf("%s.apps[%d]", field, i), "empty app id")
			case slices.Contains(r.apps, id):
				bad(fmt.Sprintf("%s.apps[%d]", field, i), "app %q is listed twice", id)
			default:
				r.apps = append(r.apps, id)
			}
		}
	}
	if h := rf.Headers; h != nil {
		for _, o := range []struct {
			name string
			from *string
			to   *string
		}{
			{"subject", h.Subject, &r.subjectHeader},
			{"app_id", h.AppID, &r.appIDHeader},
			{"claims", h.Claims, &r.claimsHeader},
		} {
			if o.from == nil {
				continue
			}
			*o.to = strings.ToLower(*o.from)
			if *o.to == "" {
				continue // this header is not sent
			}
			if msg := checkHeaderName(*o.to); msg != "" {
				bad(field+".headers."+o.name, "%s", msg)
			}
		}
	}
	outs := []string{r.subjectHeader, r.appIDHeader, r.claimsHeader}
	for i, name := range outs {
		switch {
		case name == "":
		case name == tokenHeader:
			bad(field+".headers", "header %q is the token header", name)
		case slices.Contains(outs[:i], name):
			bad(field+".headers", "header %q is used twice", name)
		}
	}
	if rf.Claims != nil {
		r.claims = nil
		for i, name := range *rf.Claims {
			switch {
			case name == "":
				bad(fmt.Sprintf("%s.claims[%d]", field, i), "empty claim name")
			case slices.ContainsFunc(r.claims, func(c claimField) bool { return c.name == name }):
				bad(fmt.Sprintf("%s.claims[%d]", field, i), "claim %q is listed twice", name)
			default:
				r.claims = append(r.claims, newClaimField(name))
			}
		}
	}
	if rf.StripToken != nil {
		strip = *rf.StripToken
	}
	r.remove = nil
	if strip {
		r.remove = append(r.remove, tokenHeader)
	}
	if r.claimsHeader != "" && len(r.claims) == 0 {
		r.remove = append(r.remove, r.claimsHeader)
	}
	return strip
}

// checkHeaderName returns why name is not a usable header name, or "".
func checkHeaderName(name string) string {
	if name == "" {
		return "empty header name"
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Sprintf("%q is not an HTTP header name", name)
		}
	}
	switch name {
	case "host", "content-length", "transfer-encoding", "connection", "te", "upgrade":
		return fmt.Sprintf("header %q may not be used", name)
	}
	return ""
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// checkHost returns why host is not a route host, or "".
func checkHost(host string) string {
	switch {
	case host == "*":
		return ""
	case host == "":
		return `empty host (use "*" for every host)`
	case strings.Contains(host, "*"):
		return fmt.Sprintf(`%q: only an exact host or "*" is supported`, host)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:[]", c) >= 0) {
			return fmt.Sprintf("%q is not a host or host:port", host)
		}
	}
	return ""
}

// checkPathPrefix returns why prefix is not a path prefix, or "".
func checkPathPrefix(prefix string) string {
	switch {
	case !strings.HasPrefix(prefix, "/"):
		return fmt.Sprintf("%q must start with \"/\"", prefix)
	case strings.ContainsAny(prefix, "?#"):
		return fmt.Sprintf("%q must be a path, without query or fragment", prefix)
	}
	for i := 0; i < len(prefix); i++ {
		if prefix[i] <= ' ' || prefix[i] == 0x7f {
			return fmt.Sprintf("%q has a space or control character", prefix)
		}
	}
	return ""
}

// TokenHeader is the request header that carries the bearer token.
func (p *Policy) TokenHeader() string { return p.tokenHeader }

// match returns the route of a request: exact host:port routes, then exact
// host routes (port ignored), then "*" routes, the longest matching path
// prefix within each; the default route when none matches.
func (p *Policy) match(host, path string) *route {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if len(p.byHost) > 0 && host != "" {
		host = strings.ToLower(host)
		if r := matchPath(p.byHost[host], path); r != nil {
			return r
		}
		if h, ok := withoutPort(host); ok {
			if r := matchPath(p.byHost[h], path); r != nil {
				return r
			}
		}
	}
	if r := matchPath(p.wild, path); r != nil {
		return r
	}
	return p.def
}

// matchPath returns the first route (longest prefix first) whose prefix
// covers path, or nil.
func matchPath(routes []*route, path string) *route {
	for _, r := range routes {
		if prefixCovers(r.prefix, path) {
			return r
		}
	}
	return nil
}

// prefixCovers reports whether a path prefix covers path, by whole path
// segments: "/api" covers "/api", "/api/" and "/api/x", not "/apix"; a
// prefix ending in "/" covers everything below it.
func prefixCovers(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// withoutPort returns host without its ":port", and whether it had one.
func withoutPort(host string) (string, bool) {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.LastIndexByte(host, ']') > i {
		return host, false
	}
	if host[0] != '[' && strings.IndexByte(host[:i], ':') >= 0 {
		return host, false // a bare IPv6 address, no port
	}
	return host[:i], true
}

// newClaimField precomputes the JSON key of a selected claim.
func newClaimField(name string) claimField {
	key, _ := json.Marshal(name) // a string always encodes
	return claimField{name: name, key: string(key) + ":"}
}
