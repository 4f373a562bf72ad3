package refresh

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// noApps knows no app: a refresh token that passes the store lookup still
// ends as ErrInvalid.
type noApps struct{}

func (noApps) StoredApp(string) (storage.App, bool) { return storage.App{}, false }

// noIssuer must never be reached by a token that was not issued.
type noIssuer struct{}

func (noIssuer) Issue(token.IssueRequest) (token.Issued, error) {
	return token.Issued{}, errors.New("fuzz: the issuer was reached")
}

// canonicalRefreshToken is the reference for wellFormed: the prefix, then
// 32 bytes whose unpadded base64url spelling is exactly the rest.
func canonicalRefreshToken(raw string) bool {
	rest, ok := strings.CutPrefix(raw, Prefix)
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil && len(b) == secretBytes && base64.RawURLEncoding.EncodeToString(b) == rest
}

// FuzzRefreshToken: for any presented refresh token, wellFormed accepts
// exactly the canonical spelling of a tokend refresh token, and
// Service.Refresh on a real store answers ErrInvalid to anything tokend
// did not issue, without echoing the token in its error.
func FuzzRefreshToken(f *testing.F) {
	st := openStore(f)
	svc := New(st, noApps{}, noIssuer{}, NewDenylist())
	known, hash := newToken()
	if err := st.CreateRefreshToken(context.Background(), storage.RefreshToken{
		Hash: hash, FamilyID: newID("f_"), AppID: "app_gone", Subject: "alice",
		CreatedAt: t0, ExpiresAt: t0.Add(fallbackIdleTTL), FamilyExpiresAt: t0.Add(fallbackFamilyTTL),
	}); err != nil {
		f.Fatal(err)
	}
	f.Add(known)
	f.Add(known[:len(known)-1] + "B") // non-canonical last character
	f.Add("tkd_" + known[len(Prefix):])
	f.Add(strings.ToUpper(known))
	f.Add(Prefix + strings.Repeat("A", 43))
	f.Add(Prefix + strings.Repeat("/", 43))
	f.Add("")
	f.Add("\xff" + known[1:])
	f.Fuzz(func(t *testing.T, raw string) {
		if got, want := wellFormed(raw), canonicalRefreshToken(raw); got != want {
			t.Fatalf("wellFormed(%q) = %v, want %v", raw, got, want)
		}
		_, err := svc.Refresh(context.Background(), RefreshRequest{Token: raw, IdempotencyKey: raw})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Refresh(%q) = %v, want ErrInvalid", raw, err)
		}
		if len(raw) >= 8 && strings.Contains(err.Error(), raw) {
			t.Fatalf("Refresh(%q): the error %q holds the token", raw, err)
		}
	})
}

// FuzzOpenReplay: a sealed replay opens only with the refresh token it was
// sealed for and its record's hash, whatever bytes a dump (or an attacker
// writing to the store) puts in its place; nothing panics.
func FuzzOpenReplay(f *testing.F) {
	// Fixed, not newToken(): fuzzing workers run this setup again, and the
	// seeds must mean the same there.
	raw := Prefix + "bOgM1yHEZM7xTg4a1H3kWqYbyNkq3Jv0vNi8dJ0A2uY"
	hash := hashToken(raw)
	plain := []byte(`{"rt":"tkr_next","at":"eyJ..."}`)
	sealed, err := sealReplay(raw, hash, plain)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, hash, sealed)
	f.Add(hash, hash, sealed)
	f.Add(raw, hash, sealed[:len(sealed)-1])
	f.Add(raw, hash, []byte{replayVersion})
	f.Fuzz(func(t *testing.T, tok, h string, b []byte) {
		got, err := openReplay(tok, h, b)
		if err != nil {
			return
		}
		if tok != raw || h != hash || !bytes.Equal(got, plain) {
			t.Fatalf("openReplay(%q, %q, %x) opened to %q", tok, h, b, got)
		}
	})
}
