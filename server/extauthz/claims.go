package extauthz

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tokend/tokend/server/token"
)

// claimField is a claim selected for the claims header, with its JSON key
// (`"name":`) encoded once at compile time.
type claimField struct {
	name string
	key  string
}

// encodeClaims returns the selected claims of c as compact JSON in
// unpadded base64url, the encoding of JWT segments: a header value that
// carries any claim value (quotes, non-ASCII, newlines) safely. Claims in
// the order selected; a selected claim the token lacks is left out.
// Registered dates are NumericDates (integer seconds).
func encodeClaims(fields []claimField, c *token.Claims) string {
	var stack [512]byte
	buf := append(stack[:0], '{')
	n := 0
	for _, f := range fields {
		start := len(buf)
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, f.key...)
		var ok bool
		buf, ok = appendClaim(buf, f.name, c)
		if !ok {
			buf = buf[:start]
			continue
		}
		n++
	}
	buf = append(buf, '}')
	return base64.RawURLEncoding.EncodeToString(buf)
}

// appendClaim appends the JSON value of claim name, or reports false when
// the token has no such claim.
func appendClaim(buf []byte, name string, c *token.Claims) ([]byte, bool) {
	str := func(s string) ([]byte, bool) {
		if s == "" {
			return buf, false
		}
		return appendJSONString(buf, s), true
	}
	date := func(t time.Time) ([]byte, bool) {
		if t.IsZero() {
			return buf, false
		}
		return strconv.AppendInt(buf, t.Unix(), 10), true
	}
	switch name {
	case "iss":
		return str(c.Issuer)
	case "sub":
		return str(c.Subject)
	case "aid":
		return str(c.AppID)
	case "jti":
		return str(c.ID)
	case "iat":
		return date(c.IssuedAt)
	case "nbf":
		return date(c.NotBefore)
	case "exp":
		return date(c.ExpiresAt)
	case "aud":
		if len(c.Audience) == 0 {
			return buf, false
		}
		buf = append(buf, '[')
		for i, a := range c.Audience {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, a)
		}
		return append(buf, ']'), true
	}
	v, ok := c.Extra[name]
	if !ok {
		return buf, false
	}
	switch v := v.(type) {
	case string:
		return appendJSONString(buf, v), true
	case bool:
		return strconv.AppendBool(buf, v), true
	case nil:
		return append(buf, "null"...), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return buf, false // cannot happen for values decoded from JSON
	}
	return append(buf, b...), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping what RFC 8259
// requires plus U+2028 and U+2029; invalid UTF-8 becomes U+FFFD, as with
// encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// headerSafe reports whether s can travel verbatim as an HTTP header value
// through any proxy: visible ASCII and inner spaces only.
func headerSafe(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
