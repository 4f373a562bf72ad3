package token

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// b64 decodes JWS segments: base64url without padding and with zero
// trailing bits (strict), so that every segment has exactly one accepted
// spelling. Line breaks, which encoding/base64 would skip, are refused
// earlier by splitCompact.
var b64 = base64.RawURLEncoding.Strict()

// maxNumericDate is 9999-12-31T23:59:59Z, the latest NumericDate accepted.
const maxNumericDate = 253402300799

// splitCompact checks that raw has the shape of a compact JWS: three
// segments of base64url characters, header and payload not empty. It returns the segments, or
// a detail saying what is wrong.
func splitCompact(raw string) (header, payload, signature, detail string) {
	if raw == "" {
		return "", "", "", "token is empty"
	}
	if first := strings.TrimLeft(raw, " \t\r\n"); first != "" && first[0] == '{' {
		return "", "", "", "token is a JWS JSON serialization; only the compact serialization is accepted"
	}
	switch dots := strings.Count(raw, "."); dots {
	case 2:
	case 4:
		return "", "", "", "token has 5 parts (a JWE); an access token is a signed JWT of 3 parts"
	default:
		return "", "", "", fmt.Sprintf("token has %d parts; a compact JWS has 3", dots+1)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c != '.' && !isBase64URL(c) {
			return "", "", "", fmt.Sprintf("token has a character outside base64url at offset %d", i)
		}
	}
	header, rest, _ := strings.Cut(raw, ".")
	payload, signature, _ = strings.Cut(rest, ".")
	switch {
	case header == "":
		return "", "", "", "token header is empty"
	case payload == "":
		return "", "", "", "token payload is empty"
	}
	// An empty signature passes here, so that alg none is answered as such;
	// it never verifies.
	for _, seg := range [...]struct{ name, s string }{{"header", header}, {"payload", payload}, {"signature", signature}} {
		if !canonicalBase64(seg.s) {
			return "", "", "", "token " + seg.name + " is not canonical base64url without padding"
		}
	}
	return header, payload, signature, ""
}

// canonicalBase64 reports whether seg, made of base64url characters, has
// a length that base64 without padding allows and zero unused bits in its
// last character: then it is the only spelling of its bytes (go-jose
// decodes leniently, and a second spelling of a signature must not pass).
func canonicalBase64(seg string) bool {
	if seg == "" {
		return true
	}
	last := base64URLValue(seg[len(seg)-1])
	switch len(seg) % 4 {
	case 0:
		return true
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return false
}

func base64URLValue(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	}
	return 63
}

// clip shortens a value taken from a token for a Detail, so that an
// attacker cannot make Details (and the logs that hold them) kilobytes long.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// decodeJSONObject decodes a base64url segment that must hold a UTF-8 JSON
// object, and returns the JSON text. what names the segment in details.
func decodeJSONObject(seg, what string) (string, string) {
	buf, err := b64.DecodeString(seg)
	if err != nil {
		return "", what + " is not base64url without padding"
	}
	if !utf8.Valid(buf) || !json.Valid(buf) {
		return "", what + " is not UTF-8 JSON"
	}
	s := string(buf)
	if i := skipSpace(s, 0); i >= len(s) || s[i] != '{' {
		return "", what + " is not a JSON object"
	}
	if deeperThan(s, maxJSONDepth) {
		return "", fmt.Sprintf("%s nests objects and arrays deeper than %d levels", what, maxJSONDepth)
	}
	return s, ""
}

// maxJSONDepth bounds the nesting of objects and arrays in a header or a
// payload, the outer object included. The claims of a valid token reach
// every caller of ValidateToken as a google.protobuf.Struct, and protobuf
// runtimes refuse deeply nested messages (Python's at 100 message levels,
// about 32 levels of JSON objects): a token signed with deeper claims
// would be valid in Go and unreadable elsewhere.
const maxJSONDepth = 16

// deeperThan reports whether the valid JSON text s nests objects and
// arrays deeper than limit.
func deeperThan(s string, limit int) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = skipString(s, i) - 1
		case '{', '[':
			if depth++; depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// joseHeader is the part of a JOSE header that validation looks at.
type joseHeader struct {
	alg    jose.SignatureAlgorithm // raw value of alg, not yet judged
	hasAlg bool
	kid    string
	hasKid bool
	typ    string
	hasTyp bool
	cty    string
	hasCty bool
	// refused is the first present header that is never accepted (jku,
	// jwk, x5u, x5c, crit, b64).
	refused string
}

// parseHeader decodes and judges the protected header: MALFORMED for a
// header that is not a JSON object, has duplicate or mistyped members,
// carries key-importing or critical members, or declares a nested JWT;
// UNSUPPORTED_ALGORITHM for none, HMAC and anything off the allow-list.
func parseHeader(seg string) (joseHeader, Reason, string) {
	var h joseHeader
	text, detail := decodeJSONObject(seg, "header")
	if detail != "" {
		return h, ReasonMalformed, detail
	}
	var seen dupSet
	it := newObjectIter(text)
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		if seen.add(key) {
			return h, ReasonMalformed, fmt.Sprintf("header has a duplicate %q", clip(key))
		}
		switch key {
		case "alg":
			s, ok := jsonString(val)
			if !ok {
				return h, ReasonMalformed, "header alg is a JSON " + jsonKind(val) + ", not a string"
			}
			h.alg, h.hasAlg = jose.SignatureAlgorithm(s), true
		case "kid":
			s, ok := jsonString(val)
			if !ok {
				return h, ReasonMalformed, "header kid is a JSON " + jsonKind(val) + ", not a string"
			}
			if s == "" {
				return h, ReasonMalformed, "header kid is empty"
			}
			h.kid, h.hasKid = s, true
		case "typ":
			s, ok := jsonString(val)
			if !ok {
				return h, ReasonMalformed, "header typ is a JSON " + jsonKind(val) + ", not a string"
			}
			h.typ, h.hasTyp = s, true
		case "cty":
			s, ok := jsonString(val)
			if !ok {
				return h, ReasonMalformed, "header cty is a JSON " + jsonKind(val) + ", not a string"
			}
			h.cty, h.hasCty = s, true
		case "jku", "jwk", "x5u", "x5c", "crit", "b64":
			if h.refused == "" {
				h.refused = key
			}
		}
	}
	if !h.hasAlg {
		return h, ReasonMalformed, "header has no alg"
	}
	if reason, detail := judgeAlgorithm(h.alg); reason != ReasonNone {
		return h, reason, detail
	}
	switch h.refused {
	case "":
	case "crit":
		return h, ReasonMalformed, "header crit is refused: no critical extension is supported"
	case "b64":
		return h, ReasonMalformed, "header b64 is refused: the payload must be base64url encoded"
	default:
		return h, ReasonMalformed, fmt.Sprintf("header %s is refused: keys are never taken from the token", h.refused)
	}
	if h.hasCty && isMediaType(h.cty, "jwt") {
		return h, ReasonMalformed, "header cty JWT (a nested JWT) is not accepted"
	}
	if h.hasTyp && !isMediaType(h.typ, "jwt") && !isMediaType(h.typ, "at+jwt") {
		return h, ReasonMalformed, fmt.Sprintf("header typ %q is not JWT or at+jwt", clip(h.typ))
	}
	return h, ReasonNone, ""
}

// judgeAlgorithm refuses none, every HMAC algorithm and anything off the
// allow-list. The allow-list is fixed here rather than read from the
// exported Algorithms variable, so that no caller can widen it.
func judgeAlgorithm(alg jose.SignatureAlgorithm) (Reason, string) {
	switch alg {
	case jose.ES256, jose.EdDSA, jose.RS256, jose.PS256:
		return ReasonNone, ""
	}
	s := clip(string(alg))
	switch {
	case strings.EqualFold(s, "none"):
		return ReasonUnsupportedAlgorithm, fmt.Sprintf("alg %q is never accepted", s)
	case len(s) >= 2 && strings.EqualFold(s[:2], "HS"):
		return ReasonUnsupportedAlgorithm, fmt.Sprintf("HMAC algorithm %q is never accepted", s)
	}
	return ReasonUnsupportedAlgorithm, fmt.Sprintf("algorithm %q is not allowed (allowed: ES256, EdDSA, RS256, PS256)", s)
}

// isMediaType reports whether v names the media type application/<sub>,
// with or without the "application/" prefix (RFC 7515 section 4.1.9),
// ignoring case.
func isMediaType(v, sub string) bool {
	const prefix = "application/"
	if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		v = v[len(prefix):]
	}
	return strings.EqualFold(v, sub)
}

// Bits of claimSet.present.
const (
	hasIss uint16 = 1 << iota
	hasSub
	hasAid
	hasAud
	hasIat
	hasNbf
	hasExp
	hasJti
)

// claimSet is the decoded, not yet trusted, payload of a token.
type claimSet struct {
	present            uint16
	iss, sub, aid, jti string
	aud                []string
	iat, nbf, exp      time.Time
	// text is the payload JSON; extra claims are decoded from it on demand.
	text   string
	nExtra int
}

func (c *claimSet) has(bit uint16) bool { return c.present&bit != 0 }

// parseClaims decodes the payload: a JSON object without duplicate
// members whose registered claims have their JSON types (strings, a string
// or array of strings for aud, NumericDates within years 1970 to 9999). A
// non-empty detail means MALFORMED.
func parseClaims(seg string) (claimSet, string) {
	var c claimSet
	text, detail := decodeJSONObject(seg, "payload")
	if detail != "" {
		return c, detail
	}
	c.text = text
	var seen dupSet
	it := newObjectIter(text)
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		if seen.add(key) {
			return c, fmt.Sprintf("payload has a duplicate claim %q", clip(key))
		}
		var bit uint16
		var target *string
		var date *time.Time
		switch key {
		case "iss":
			bit, target = hasIss, &c.iss
		case "sub":
			bit, target = hasSub, &c.sub
		case "aid":
			bit, target = hasAid, &c.aid
		case "jti":
			bit, target = hasJti, &c.jti
		case "iat":
			bit, date = hasIat, &c.iat
		case "nbf":
			bit, date = hasNbf, &c.nbf
		case "exp":
			bit, date = hasExp, &c.exp
		case "aud":
			aud, ok := jsonAudience(val)
			if !ok {
				return c, "claim aud is not a string or an array of strings"
			}
			c.aud = aud
			c.present |= hasAud
			continue
		default:
			c.nExtra++
			continue
		}
		c.present |= bit
		if target != nil {
			s, ok := jsonString(val)
			if !ok {
				return c, fmt.Sprintf("claim %s is a JSON %s, not a string", key, jsonKind(val))
			}
			*target = s
			continue
		}
		t, detail := numericDate(val)
		if detail != "" {
			return c, fmt.Sprintf("claim %s %s", key, detail)
		}
		*date = t
	}
	return c, ""
}

// claims returns the claims for a Result, decoding the extra claims.
func (c *claimSet) claims() Claims {
	cl := Claims{
		Issuer:    c.iss,
		Subject:   c.sub,
		AppID:     c.aid,
		Audience:  c.aud,
		IssuedAt:  c.iat,
		NotBefore: c.nbf,
		ExpiresAt: c.exp,
		ID:        c.jti,
	}
	if c.nExtra == 0 {
		return cl
	}
	cl.Extra = make(map[string]any, c.nExtra)
	it := newObjectIter(c.text)
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		if IsRegisteredClaim(key) {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(val), &v); err == nil {
			cl.Extra[key] = v
		}
	}
	return cl
}

// numericDate decodes a JSON number of seconds since the epoch, integer or
// not. A non-empty detail says why it is refused.
func numericDate(v string) (time.Time, string) {
	if v == "" || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return time.Time{}, "is a JSON " + jsonKind(v) + ", not a NumericDate"
	}
	if v[0] == '-' {
		return time.Time{}, "is negative"
	}
	integer := len(v) <= 12
	for i := 0; integer && i < len(v); i++ {
		integer = '0' <= v[i] && v[i] <= '9'
	}
	if integer {
		var n int64
		for i := 0; i < len(v); i++ {
			n = n*10 + int64(v[i]-'0')
		}
		if n > maxNumericDate {
			return time.Time{}, "is after the year 9999"
		}
		return time.Unix(n, 0).UTC(), ""
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > maxNumericDate {
		return time.Time{}, "is out of range"
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	if nsec >= 1e9 {
		sec, nsec = sec+1, 0
	}
	return time.Unix(int64(sec), int64(nsec)).UTC(), ""
}

// jsonAudience decodes aud: a string or an array of strings.
func jsonAudience(v string) ([]string, bool) {
	if s, ok := jsonString(v); ok {
		return []string{s}, true
	}
	if v == "" || v[0] != '[' {
		return nil, false
	}
	var out []string
	i := skipSpace(v, 1)
	for i < len(v) && v[i] != ']' {
		end := skipValue(v, i)
		s, ok := jsonString(v[i:end])
		if !ok {
			return nil, false
		}
		out = append(out, s)
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, true
}

// jsonString decodes a JSON string value; false when v is not a string.
func jsonString(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonKind names the JSON type of a valid JSON value, for details.
func jsonKind(v string) string {
	if v == "" {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// objectIter walks the members of a JSON object held in a string that
// json.Valid accepted, without allocating for keys and values that need no
// unescaping. Keys are returned unescaped, values as raw JSON text.
type objectIter struct {
	s string
	i int
}

// newObjectIter starts at the object's opening brace.
func newObjectIter(s string) objectIter {
	i := skipSpace(s, 0)
	if i < len(s) && s[i] == '{' {
		i++
	} else {
		i = len(s)
	}
	return objectIter{s: s, i: i}
}

func (it *objectIter) next() (key, val string, ok bool) {
	s := it.s
	i := skipSpace(s, it.i)
	if i < len(s) && s[i] == ',' {
		i = skipSpace(s, i+1)
	}
	if i >= len(s) || s[i] != '"' {
		it.i = len(s)
		return "", "", false
	}
	end := skipString(s, i)
	key, _ = jsonString(s[i:end])
	i = skipSpace(s, end)
	if i < len(s) && s[i] == ':' {
		i = skipSpace(s, i+1)
	}
	end = skipValue(s, i)
	val = s[i:end]
	it.i = end
	return key, val, true
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at s[i] ('"').
func skipString(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

// skipValue returns the index after the JSON value that starts at s[i].
func skipValue(s string, i int) int {
	if i >= len(s) {
		return len(s)
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j = skipString(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) {
		switch s[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
		j++
	}
	return j
}

// dupSet remembers the member names of one JSON object to find duplicates:
// a small inline array first, a map for objects with many members.
type dupSet struct {
	small [16]string
	n     int
	big   map[string]struct{}
}

// add records name and reports whether it was already there.
func (d *dupSet) add(name string) bool {
	if d.big != nil {
		if _, dup := d.big[name]; dup {
			return true
		}
		d.big[name] = struct{}{}
		return false
	}
	for _, s := range d.small[:d.n] {
		if s == name {
			return true
		}
	}
	if d.n < len(d.small) {
		d.small[d.n] = name
		d.n++
		return false
	}
	d.big = make(map[string]struct{}, 2*len(d.small))
	for _, s := range d.small {
		d.big[s] = struct{}{}
	}
	d.big[name] = struct{}{}
	return false
}

// Inspect decodes a compact JWS into its header and claims WITHOUT
// VERIFYING ANYTHING: not the signature, not the algorithm, not the key,
// not a single claim. It is for showing a token to a human ("tokend token
// inspect"); never base a decision on its output, use Validator.Validate.
//
// It refuses what cannot be shown faithfully: an empty or non-UTF-8 input
// (ErrTokenEmpty, ErrTokenNotUTF8) and anything that is not three base64url
// segments holding JSON objects without duplicate members (ErrMalformed).
// Numbers are json.Number, so NumericDates keep their exact text. Inspect
// applies no size limit; bound the input yourself if it is untrusted.
func Inspect(raw string) (header map[string]any, claims map[string]any, err error) {
	switch {
	case raw == "":
		return nil, nil, ErrTokenEmpty
	case !utf8.ValidString(raw):
		return nil, nil, ErrTokenNotUTF8
	}
	hSeg, pSeg, _, detail := splitCompact(raw)
	if detail != "" {
		return nil, nil, fmt.Errorf("%w: %s", ErrMalformed, detail)
	}
	if header, err = inspectObject(hSeg, "header"); err != nil {
		return nil, nil, err
	}
	if claims, err = inspectObject(pSeg, "payload"); err != nil {
		return nil, nil, err
	}
	return header, claims, nil
}

func inspectObject(seg, what string) (map[string]any, error) {
	text, detail := decodeJSONObject(seg, what)
	if detail != "" {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, detail)
	}
	var seen dupSet
	it := newObjectIter(text)
	for {
		key, _, ok := it.next()
		if !ok {
			break
		}
		if seen.add(key) {
			return nil, fmt.Errorf("%w: %s has a duplicate %q", ErrMalformed, what, key)
		}
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return m, nil
}
