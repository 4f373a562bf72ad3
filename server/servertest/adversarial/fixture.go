package adversarial

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

// FixtureFile and CorpusFile are the files of the corpus directory.
const (
	FixtureFile = "fixture.json"
	CorpusFile  = "corpus.json"
)

// Fixture is the world the corpus is judged in.
type Fixture struct {
	Comment string `json:"comment"`
	// Now is the validation time: the server clock of the tests.
	Now  time.Time    `json:"now"`
	Apps []FixtureApp `json:"apps"`
	// Keys are TEST-ONLY key pairs, published in the repository. Keys with
	// Trusted false belong to the attacker: they are not seeded.
	Keys []FixtureKey `json:"keys"`
	// Revoked are token ids (jti) on the denylist.
	Revoked []FixtureRevocation `json:"revoked"`
}

// FixtureApp is an app of the fixture.
type FixtureApp struct {
	ID      string `json:"app_id"`
	Enabled bool   `json:"enabled"`
	// MaxTokenTTLSeconds is the app's longest token lifetime.
	MaxTokenTTLSeconds int64 `json:"max_token_ttl_seconds"`
}

// MaxTokenTTL is the app's longest token lifetime.
func (a FixtureApp) MaxTokenTTL() time.Duration {
	return time.Duration(a.MaxTokenTTLSeconds) * time.Second
}

// FixtureKey is a key pair of the fixture.
type FixtureKey struct {
	ID      string `json:"kid"`
	AppID   string `json:"app_id,omitempty"`
	Alg     string `json:"alg"`
	Trusted bool   `json:"trusted"`
	// JWK is the private key (TEST-ONLY).
	JWK jose.JSONWebKey `json:"jwk"`
}

// Signer is the private key.
func (k FixtureKey) Signer() crypto.Signer {
	s, _ := k.JWK.Key.(crypto.Signer)
	return s
}

// FixtureRevocation is a revoked access token id.
type FixtureRevocation struct {
	AppID   string `json:"app_id"`
	TokenID string `json:"token_id"`
}

// Key returns the fixture key with that id.
func (f *Fixture) Key(kid string) (FixtureKey, bool) {
	for _, k := range f.Keys {
		if k.ID == kid {
			return k, true
		}
	}
	return FixtureKey{}, false
}

// App returns the fixture app with that id.
func (f *Fixture) App(id string) (FixtureApp, bool) {
	for _, a := range f.Apps {
		if a.ID == id {
			return a, true
		}
	}
	return FixtureApp{}, false
}

// check verifies that the fixture is coherent: every trusted key belongs
// to an app, is a private key of its algorithm's type.
func (f *Fixture) check() error {
	if f.Now.IsZero() {
		return errors.New("adversarial: fixture has no now")
	}
	for _, k := range f.Keys {
		if k.Signer() == nil || k.JWK.IsPublic() {
			return fmt.Errorf("adversarial: fixture key %q is not a private key", k.ID)
		}
		if k.Trusted {
			if _, ok := f.App(k.AppID); !ok {
				return fmt.Errorf("adversarial: fixture key %q: no app %q", k.ID, k.AppID)
			}
		}
	}
	return nil
}

// LoadFixture reads dir/fixture.json.
func LoadFixture(dir string) (*Fixture, error) {
	b, err := os.ReadFile(filepath.Join(dir, FixtureFile))
	if err != nil {
		return nil, fmt.Errorf("adversarial: %w", err)
	}
	var f Fixture
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("adversarial: %s: %w", FixtureFile, err)
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Dir finds testdata/adversarial of the repository: it walks up from the
// working directory to the directory holding go.mod.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("adversarial: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "testdata", "adversarial"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("adversarial: no go.mod above %s", wd)
		}
	}
}

// KeySource is the fixture as the token rules see it: its apps and its
// trusted keys, independent of any store or server.
func (f *Fixture) KeySource() token.KeySource { return fixtureSource{f} }

// Denylist is the fixture's revoked token ids.
func (f *Fixture) Denylist() token.Denylist { return fixtureSource{f} }

type fixtureSource struct{ f *Fixture }

func (s fixtureSource) App(appID string) (token.AppPolicy, bool) {
	a, ok := s.f.App(appID)
	if !ok {
		return token.AppPolicy{}, false
	}
	return token.AppPolicy{ID: a.ID, Enabled: a.Enabled, MaxTokenTTL: a.MaxTokenTTL()}, true
}

func (s fixtureSource) Key(kid string) (token.VerifyKey, bool) {
	k, ok := s.f.Key(kid)
	if !ok || !k.Trusted {
		return token.VerifyKey{}, false
	}
	return verifyKey(k), true
}

func (s fixtureSource) AppKeys(appID string) []token.VerifyKey {
	var out []token.VerifyKey
	for _, k := range s.f.Keys {
		if k.Trusted && k.AppID == appID {
			out = append(out, verifyKey(k))
		}
	}
	return out
}

func (s fixtureSource) Revoked(appID, tokenID, _ string, _ time.Time) bool {
	for _, r := range s.f.Revoked {
		if r.AppID == appID && r.TokenID == tokenID && tokenID != "" {
			return true
		}
	}
	return false
}

func verifyKey(k FixtureKey) token.VerifyKey {
	return token.VerifyKey{ID: k.ID, AppID: k.AppID, Algorithm: jose.SignatureAlgorithm(k.Alg), Public: k.Signer().Public()}
}
