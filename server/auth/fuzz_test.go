package auth_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/tokend/tokend/server/auth"
)

// fuzzAPIKey is the only API key of the fuzzed directory. It is fixed, not
// generated: fuzzing workers run the setup again and must know the same key.
const fuzzAPIKey = "tkd_fuzz0fuzz1fuzz2fuzz3fuzz4fuzz5fuzz6fuzz7fu"

// authenticate runs the Directory's gRPC authentication on a call whose
// authorization metadata holds values.
func authenticate(d *auth.Directory, values []string) (auth.Caller, error) {
	md := metadata.MD{}
	for _, v := range values {
		md.Append("authorization", v)
	}
	ctx, err := d.AuthFunc(metadata.NewIncomingContext(context.Background(), md))
	if err != nil {
		return auth.Caller{}, err
	}
	c, _ := auth.CallerFrom(ctx)
	return c, nil
}

// FuzzAuthorization: any authorization metadata authenticates only when it
// is exactly one "Bearer <the key>" (scheme in any case, spaces around the
// key trimmed); everything else is CREDENTIALS_MISSING or _INVALID, and the
// error's text never depends on the presented key.
func FuzzAuthorization(f *testing.F) {
	e := newEnv(f)
	if err := e.svc.Bootstrap(f.Context(), fuzzAPIKey); err != nil {
		f.Fatal(err)
	}
	for _, v := range []string{"Bearer " + fuzzAPIKey, "bearer  " + fuzzAPIKey + " ", "BEARER " + fuzzAPIKey, "Basic " + fuzzAPIKey,
		"Bearer", "Bearer ", fuzzAPIKey, "Bearer " + fuzzAPIKey[:len(fuzzAPIKey)-1], "Bearer\t" + fuzzAPIKey, "Bearer " + fuzzAPIKey + "\x00"} {
		f.Add(v, "", false)
	}
	f.Add("Bearer "+fuzzAPIKey, "Bearer "+fuzzAPIKey, true)
	f.Fuzz(func(t *testing.T, first, second string, two bool) {
		values := []string{first}
		if two {
			values = append(values, second)
		}
		c, err := authenticate(e.dir, values)
		scheme, key, _ := strings.Cut(first, " ")
		key = strings.TrimSpace(key)
		want := !two && strings.EqualFold(scheme, "bearer") && key == fuzzAPIKey
		if err == nil {
			if !want || c.ID != auth.BootstrapAdminID || c.Credential != auth.CredentialAPIKey {
				t.Fatalf("authorization %q authenticated as %+v", values, c)
			}
			return
		}
		if want {
			t.Fatalf("authorization %q: %v, want the admin", values, err)
		}
		if !errors.Is(err, auth.ErrCredentialsInvalid) && !errors.Is(err, auth.ErrCredentialsMissing) {
			t.Fatalf("authorization %q: %v is neither CREDENTIALS_INVALID nor _MISSING", values, err)
		}
		// The same metadata with every byte of the key replaced: the error
		// must read the same, so no part of a key can reach a log line.
		masked := make([]string, len(values))
		for i, v := range values {
			s, k, ok := strings.Cut(v, " ")
			masked[i] = v
			if ok && strings.TrimSpace(k) != "" {
				masked[i] = s + " " + strings.Map(func(r rune) rune {
					if r == ' ' || r == '\t' {
						return r
					}
					return 'x'
				}, k)
			}
		}
		if _, err2 := authenticate(e.dir, masked); err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("authorization %q: error %q, but %q with the key masked", values, err, err2)
		}
	})
}

// clearKey finds an API key written where its hash belongs, the mistake an
// operator can make in a callers file.
var clearKey = regexp.MustCompile(`api_key_sha256"?\s*:\s*"?(tkd_[A-Za-z0-9_-]{8,})`)

// FuzzCallersFile: any callers file parses into callers that hold
// together, or is refused with an error that does not echo an API key
// written in place of its hash.
func FuzzCallersFile(f *testing.F) {
	for _, doc := range []string{
		"callers:\n  - name: shop\n    roles: [issuer]\n    app_ids: [app_x]\n    mtls_identity: spiffe://example.org/ns/shop/sa/api\n" +
			"  - name: gw\n    roles: [validator]\n    api_key_sha256: 6f611d2c61997c08cc7527fb489499e0abb71acc4ab39bba79f939cf971a993b\n",
		`{"callers":[{"name":"a","roles":["admin"],"mtls_identity":"Host.Example.COM"}]}`,
		"callers:\n  - name: x\n    roles: tkd_0123456789abcdefghij\n    mtls_identity: a.b\n",
		"callers:\n  - name: x\n    roles: [admin]\n    api_key_sha256: tkd_0123456789abcdefghij0123456789abcdefghij\n",
		"callers: [{name: x, roles: [admin], mtls_identity: \"spiffe://[::1]/x\"}]\n",
		"", "{", "callers: !!binary AAAA\n", "callers:\n  - &a {name: x}\n  - *a\n",
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		cf, err := auth.ParseCallersFile(doc)
		if err != nil {
			for _, m := range clearKey.FindAllStringSubmatch(string(doc), -1) {
				if k := m[1]; strings.Contains(err.Error(), k[:12]) {
					t.Fatalf("ParseCallersFile(%q): error %q echoes the API key %q", doc, err, k)
				}
			}
			return
		}
		var names []string
		for _, c := range cf.Callers {
			if c.Name == "" || slices.Contains(names, c.Name) || len(c.Roles) == 0 || auth.ValidRoles(c.Roles) != "" {
				t.Fatalf("ParseCallersFile(%q) accepted %+v", doc, c)
			}
			names = append(names, c.Name)
			if id, err := auth.NormalizeIdentity(c.MTLSIdentity); err != nil || id != c.MTLSIdentity {
				t.Fatalf("ParseCallersFile(%q): identity %q is not normal (%q, %v)", doc, c.MTLSIdentity, id, err)
			}
			if c.MTLSIdentity == "" && len(c.APIKeySHA256) != 64 {
				t.Fatalf("ParseCallersFile(%q): caller %q has no credential", doc, c.Name)
			}
		}
	})
}
