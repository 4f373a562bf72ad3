package adversarial

import (
	"testing"
	"time"

	"github.com/tokend/tokend/server/token"
)

// TestCorpusValidator: token.Validator, with the fixture as its key source
// and denylist and nothing of the server, gives every row its answer.
func TestCorpusValidator(t *testing.T) {
	t.Parallel()
	f, c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	v := token.NewValidator(f.KeySource(), token.WithClock(func() time.Time { return f.Now }), token.WithDenylist(f.Denylist()))
	for _, r := range c.Rows {
		t.Run(r.Name, func(t *testing.T) {
			if got := Judge(v, r); !Agree(got, r.Want) {
				t.Errorf("token.Validator: %s, want %s", got, r.Want)
			}
		})
	}
}

// TestCorpusCoversClasses keeps the table honest: every attack class of
// the hardening issue has rows, and so does every answer.
func TestCorpusCoversClasses(t *testing.T) {
	t.Parallel()
	_, c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	classes, answers := map[string]int{}, map[string]int{}
	for _, r := range c.Rows {
		classes[r.Class]++
		answers[r.Want.String()]++
	}
	for _, class := range []string{
		"baseline", "alg-none", "hmac-public-key", "embedded-key", "kid-injection", "psychic-signature",
		"curve-mismatch", "huge-header", "many-dots", "deep-nesting", "duplicate-keys", "not-utf8",
		"jwe", "nested-jwt", "time-claims", "crit", "substitution",
	} {
		if classes[class] == 0 {
			t.Errorf("no row of class %q", class)
		}
	}
	for _, want := range []string{
		"valid", "invalid MALFORMED", "invalid UNSUPPORTED_ALGORITHM", "invalid UNKNOWN_KEY",
		"invalid BAD_SIGNATURE", "invalid EXPIRED", "invalid NOT_YET_VALID", "invalid LIFETIME_TOO_LONG",
		"invalid MISSING_CLAIM", "invalid AUDIENCE_MISMATCH", "invalid UNKNOWN_APP", "invalid APP_MISMATCH",
		"invalid APP_DISABLED", "invalid REVOKED",
		"error INVALID_ARGUMENT/TOKEN_NOT_UTF8", "error INVALID_ARGUMENT/TOKEN_TOO_LARGE", "error INVALID_ARGUMENT/TOKEN_EMPTY",
	} {
		if answers[want] == 0 {
			t.Errorf("no row answered %s", want)
		}
	}
}
