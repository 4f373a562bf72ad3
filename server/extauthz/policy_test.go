package extauthz

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testPolicy = `
token_header: X-Token
default:
  audience: web
  claims: [sub, role]
  strip_token: true
routes:
  - name: orders
    path_prefix: /orders
    audience: orders
    apps: [app_a, app_b]
  - path_prefix: /orders/admin/
    apps: [app_a]
    headers: {subject: x-user, claims: ""}
  - host: Shop.Example.com
    path_prefix: /
    audience: shop
    strip_token: false
  - host: shop.example.com:8443
    path_prefix: /orders
    audience: shop-tls
  - host: "*"
    path_prefix: /public
    apps: []
    claims: []
`

func TestParsePolicyRoutes(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	if p.TokenHeader() != "x-token" {
		t.Errorf("token header = %q, want it lower-cased", p.TokenHeader())
	}
	tests := []struct {
		host, path string
		want       string // route name
	}{
		{"api.example.com", "/", "default"},
		{"", "", "default"},
		{"api.example.com", "/orders", "orders"},
		{"api.example.com", "/orders/42?x=1", "orders"},
		{"api.example.com", "/orders?x=/admin/", "orders"},
		{"api.example.com", "/ordersx", "default"},
		{"api.example.com", "/orders/admin", "orders"}, // "/orders/admin/" needs the slash
		{"api.example.com", "/orders/admin/", "routes[1]"},
		{"api.example.com", "/orders/admin/users", "routes[1]"},
		{"shop.example.com", "/orders/1", "routes[2]"},      // exact host beats "*" routes
		{"SHOP.example.com:80", "/orders/1", "routes[2]"},   // port ignored by a host without port
		{"shop.example.com:8443", "/orders/1", "routes[3]"}, // host:port first
		{"shop.example.com:8443", "/cart", "routes[2]"},     // then host
		{"other.example.com", "/public/x", "routes[4]"},
		{"[::1]:8080", "/public", "routes[4]"},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			t.Parallel()
			if got := p.match(tc.host, tc.path).name; got != tc.want {
				t.Errorf("match(%q, %q) = %s, want %s", tc.host, tc.path, got, tc.want)
			}
		})
	}
}

func TestParsePolicyInheritance(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	byName := func(name string) *route {
		for _, rs := range append([][]*route{p.wild, {p.def}}, mapsValues(p.byHost)...) {
			for _, r := range rs {
				if r.name == name {
					return r
				}
			}
		}
		t.Fatalf("no route %s", name)
		return nil
	}
	claimNames := func(r *route) []string {
		var out []string
		for _, c := range r.claims {
			out = append(out, c.name)
		}
		return out
	}
	tests := []struct {
		route, audience string
		apps, claims    []string
		subject, claimH string
		remove          []string
	}{
		{"default", "web", nil, []string{"sub", "role"}, DefaultSubjectHeader, DefaultClaimsHeader, []string{"x-token"}},
		{"orders", "orders", []string{"app_a", "app_b"}, []string{"sub", "role"}, DefaultSubjectHeader, DefaultClaimsHeader, []string{"x-token"}},
		{"routes[1]", "web", []string{"app_a"}, []string{"sub", "role"}, "x-user", "", []string{"x-token"}},
		{"routes[2]", "shop", nil, []string{"sub", "role"}, DefaultSubjectHeader, DefaultClaimsHeader, nil},
		{"routes[4]", "web", nil, nil, DefaultSubjectHeader, DefaultClaimsHeader, []string{"x-token", DefaultClaimsHeader}},
	}
	for _, tc := range tests {
		t.Run(tc.route, func(t *testing.T) {
			t.Parallel()
			r := byName(tc.route)
			if r.audience != tc.audience || !slices.Equal(r.apps, tc.apps) || !slices.Equal(claimNames(r), tc.claims) ||
				r.subjectHeader != tc.subject || r.appIDHeader != DefaultAppIDHeader || r.claimsHeader != tc.claimH ||
				!slices.Equal(r.remove, tc.remove) {
				t.Errorf("route %s = {aud %q apps %q claims %q subject %q claims header %q remove %q}, want {%q %q %q %q %q %q}",
					tc.route, r.audience, r.apps, claimNames(r), r.subjectHeader, r.claimsHeader, r.remove,
					tc.audience, tc.apps, tc.claims, tc.subject, tc.claimH, tc.remove)
			}
		})
	}
}

func mapsValues(m map[string][]*route) [][]*route {
	var out [][]*route
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	r := p.match("any.example.com", "/x")
	if p.TokenHeader() != "authorization" || r != p.def || r.audience != "" || len(r.apps) != 0 || len(r.claims) != 0 ||
		r.subjectHeader != "x-tokend-subject" || r.appIDHeader != "x-tokend-app-id" ||
		!slices.Equal(r.remove, []string{"x-tokend-claims"}) {
		t.Errorf("default policy route = %+v", r)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		fields    []string // every field the error must name
	}{
		{"empty", "  \n", []string{"empty"}},
		{"not yaml", "routes: [", []string{"yaml"}},
		{"unknown field", "default:\n  audiance: x\n", []string{"audiance"}},
		{"two documents", "default: {}\n---\ndefault: {}\n", []string{"single document"}},
		{"bad token header", "token_header: \"x token\"\n", []string{"token_header"}},
		{"empty token header", "token_header: \"\"\n", []string{"token_header"}},
		{"default host", "default: {host: a.example}\n", []string{"default.host"}},
		{"default prefix", "default: {path_prefix: /a}\n", []string{"default.path_prefix"}},
		{"route without match", "routes: [{audience: a}]\n", []string{"routes[0]:"}},
		{"partial wildcard", "routes: [{host: \"*.example.com\"}]\n", []string{"routes[0].host"}},
		{"empty host", "routes: [{host: \"\"}]\n", []string{"routes[0].host"}},
		{"host with path", "routes: [{host: a.example/x}]\n", []string{"routes[0].host"}},
		{"relative prefix", "routes: [{path_prefix: api}]\n", []string{"routes[0].path_prefix"}},
		{"prefix with query", "routes: [{path_prefix: \"/a?b\"}]\n", []string{"routes[0].path_prefix"}},
		{"duplicate route", "routes: [{path_prefix: /a}, {host: \"*\", path_prefix: /a}]\n", []string{"routes[1]", "routes[0]"}},
		{"empty app", "routes: [{path_prefix: /a, apps: [\"\"]}]\n", []string{"routes[0].apps[0]"}},
		{"duplicate app", "default: {apps: [a, a]}\n", []string{"default.apps[1]"}},
		{"bad header", "default: {headers: {subject: \"x:y\"}}\n", []string{"default.headers.subject"}},
		{"forbidden header", "routes: [{path_prefix: /a, headers: {app_id: Host}}]\n", []string{"routes[0].headers.app_id"}},
		{"header is token header", "default: {headers: {claims: Authorization}}\n", []string{"default.headers"}},
		{"header twice", "default: {headers: {subject: x-a, app_id: x-a}}\n", []string{"default.headers"}},
		{"empty claim", "default: {claims: [\"\"]}\n", []string{"default.claims[0]"}},
		{"duplicate claim", "routes: [{path_prefix: /a, claims: [sub, sub]}]\n", []string{"routes[0].claims[1]"}},
		{"several", "token_header: \"a b\"\nroutes: [{path_prefix: x}]\n", []string{"token_header", "routes[0].path_prefix"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParsePolicy([]byte(tc.doc))
			if err == nil {
				t.Fatalf("ParsePolicy = %+v, want an error", p)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v is not ErrInvalidPolicy", err)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %q", err, f)
				}
			}
		})
	}
}

func TestLoadPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("json", func(t *testing.T) {
		p, err := LoadPolicy(write("p.json", `{"token_header": "x-jwt", "routes": [{"path_prefix": "/a", "audience": "a"}]}`))
		if err != nil {
			t.Fatalf("LoadPolicy: %v", err)
		}
		if p.TokenHeader() != "x-jwt" || p.match("h", "/a/b").audience != "a" {
			t.Errorf("JSON policy not applied: %+v", p)
		}
	})
	t.Run("names the file", func(t *testing.T) {
		path := write("bad.yaml", "routes: [{path_prefix: a}]\n")
		_, err := LoadPolicy(path)
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadPolicy = %v, want ErrInvalidPolicy naming %s", err, path)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := LoadPolicy(filepath.Join(dir, "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadPolicy(missing) = %v, want ErrNotExist", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		path := write("big.yaml", "# "+strings.Repeat("x", maxPolicySize)+"\n")
		if _, err := LoadPolicy(path); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("LoadPolicy(big) = %v, want a size error", err)
		}
	})
}

func TestPrefixCovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix, path string
		want         bool
	}{
		{"/", "/", true},
		{"/", "/anything", true},
		{"/api", "/api", true},
		{"/api", "/api/", true},
		{"/api", "/api/v1", true},
		{"/api", "/apiv1", false},
		{"/api", "/ap", false},
		{"/api/", "/api", false},
		{"/api/", "/api/v1", true},
		{"/api", "/API", false},
	}
	for _, tc := range tests {
		if got := prefixCovers(tc.prefix, tc.path); got != tc.want {
			t.Errorf("prefixCovers(%q, %q) = %v, want %v", tc.prefix, tc.path, got, tc.want)
		}
	}
}

func TestWithoutPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		had      bool
	}{
		{"a.example", "a.example", false},
		{"a.example:80", "a.example", true},
		{"[::1]:8080", "[::1]", true},
		{"[::1]", "[::1]", false},
		{"::1", "::1", false},
	}
	for _, tc := range tests {
		if got, had := withoutPort(tc.in); got != tc.want || had != tc.had {
			t.Errorf("withoutPort(%q) = %q, %v; want %q, %v", tc.in, got, had, tc.want, tc.had)
		}
	}
}
