package adversarial

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/tokend/tokend/server/token"
)

// Corpus is the table of hostile tokens.
type Corpus struct {
	Comment string `json:"comment"`
	// Generator is the command that rewrites the file.
	Generator string `json:"generator"`
	// Now is the fixture's validation time (the same as Fixture.Now).
	Now  time.Time `json:"now"`
	Rows []Row     `json:"rows"`
}

// Row is one hostile (or baseline) token and the answer it must get.
type Row struct {
	Name string `json:"name"`
	// Class groups rows by attack (alg-none, hmac-public-key, ...).
	Class string `json:"class"`
	// Refs name the RFC 8725 section or the CVE of the attack class.
	Refs []string `json:"refs,omitempty"`
	// Token is the token as sent; TokenBase64 (standard base64) replaces it
	// for tokens that are not UTF-8, which a JSON string cannot hold.
	Token       string `json:"token,omitempty"`
	TokenBase64 string `json:"token_base64,omitempty"`
	// AppID and Audience are the ValidateToken request's expectations.
	AppID    string `json:"app_id,omitempty"`
	Audience string `json:"audience,omitempty"`
	Want     Want   `json:"want"`
}

// Want is the answer: either a ValidateToken response (Valid, Reason) or
// an RPC error (Error).
type Want struct {
	Valid bool `json:"valid"`
	// Reason is the InvalidReason name without prefix ("MALFORMED") when
	// Valid is false and Error is nil.
	Reason string `json:"reason,omitempty"`
	// Subject and KeyID are checked on a valid answer.
	Subject string `json:"subject,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	// Error is set when the request itself is refused.
	Error *WantError `json:"error,omitempty"`
}

// WantError is an RPC error: the gRPC code name (INVALID_ARGUMENT) and the
// ErrorInfo reason.
type WantError struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// String describes the answer for test messages.
func (w Want) String() string {
	switch {
	case w.Error != nil:
		return fmt.Sprintf("error %s/%s", w.Error.Code, w.Error.Reason)
	case w.Valid:
		return "valid"
	}
	return "invalid " + w.Reason
}

// Agree reports whether an observed answer is the wanted one: the same
// error code and reason, or the same validity and reason, and on a valid
// answer the wanted subject and key id.
func Agree(got, want Want) bool {
	switch {
	case want.Error != nil || got.Error != nil:
		return want.Error != nil && got.Error != nil && *want.Error == *got.Error
	case want.Valid:
		return got.Valid && (want.Subject == "" || got.Subject == want.Subject) && (want.KeyID == "" || got.KeyID == want.KeyID)
	}
	return !got.Valid && got.Reason == want.Reason
}

// Bytes returns the token as sent.
func (r Row) Bytes() []byte {
	if r.TokenBase64 != "" {
		b, _ := base64.StdEncoding.DecodeString(r.TokenBase64)
		return b
	}
	return []byte(r.Token)
}

// String returns the token as a Go string (possibly not UTF-8).
func (r Row) String() string { return string(r.Bytes()) }

func (r Row) check() error {
	switch {
	case r.Name == "" || r.Class == "":
		return errors.New("row without name or class")
	case r.Token != "" && r.TokenBase64 != "":
		return fmt.Errorf("row %q: token and token_base64", r.Name)
	case r.TokenBase64 != "":
		b, err := base64.StdEncoding.DecodeString(r.TokenBase64)
		if err != nil || utf8.Valid(b) {
			return fmt.Errorf("row %q: token_base64 must hold a token that is not UTF-8", r.Name)
		}
	}
	w := r.Want
	switch {
	case w.Error != nil && (w.Valid || w.Reason != ""):
		return fmt.Errorf("row %q: want an error and an answer", r.Name)
	case w.Error != nil && (w.Error.Code == "" || w.Error.Reason == ""):
		return fmt.Errorf("row %q: error without code or reason", r.Name)
	case w.Error == nil && w.Valid == (w.Reason != ""):
		return fmt.Errorf("row %q: want valid, or a reason", r.Name)
	}
	return nil
}

// LoadCorpus reads dir/corpus.json.
func LoadCorpus(dir string) (*Corpus, error) {
	b, err := os.ReadFile(filepath.Join(dir, CorpusFile))
	if err != nil {
		return nil, fmt.Errorf("adversarial: %w", err)
	}
	var c Corpus
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("adversarial: %s: %w", CorpusFile, err)
	}
	seen := map[string]bool{}
	for _, r := range c.Rows {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("adversarial: %s: %w", CorpusFile, err)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("adversarial: %s: duplicate row %q", CorpusFile, r.Name)
		}
		seen[r.Name] = true
	}
	return &c, nil
}

// Load reads the fixture and the corpus of the repository and checks that
// they belong together.
func Load() (*Fixture, *Corpus, error) {
	dir, err := Dir()
	if err != nil {
		return nil, nil, err
	}
	f, err := LoadFixture(dir)
	if err != nil {
		return nil, nil, err
	}
	c, err := LoadCorpus(dir)
	if err != nil {
		return nil, nil, err
	}
	if !c.Now.Equal(f.Now) {
		return nil, nil, fmt.Errorf("adversarial: corpus now %s differs from the fixture's %s: regenerate the corpus", c.Now, f.Now)
	}
	return f, c, nil
}

// Judge is token.Validator's answer to a row in the shape of the table:
// a request error's reason (as the server maps it), or the validity and
// reason.
func Judge(v *token.Validator, r Row) Want {
	res, err := v.Validate(r.String(), token.Expect{AppID: r.AppID, Audience: r.Audience})
	if err != nil {
		return Want{Error: &WantError{Code: "INVALID_ARGUMENT", Reason: requestReason(err)}}
	}
	if res.Valid() {
		return Want{Valid: true, Subject: res.Claims.Subject, KeyID: res.KeyID}
	}
	return Want{Reason: res.Reason.String()}
}

func requestReason(err error) string {
	switch {
	case errors.Is(err, token.ErrTokenEmpty):
		return "TOKEN_EMPTY"
	case errors.Is(err, token.ErrTokenTooLarge):
		return "TOKEN_TOO_LARGE"
	case errors.Is(err, token.ErrTokenNotUTF8):
		return "TOKEN_NOT_UTF8"
	}
	return "UNEXPECTED: " + err.Error()
}
