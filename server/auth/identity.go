package auth

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxIdentityLen bounds an mTLS identity (a SPIFFE ID is at most 2048 bytes).
const maxIdentityLen = 2048

// CertIdentity returns the caller identity of a verified client
// certificate: its first URI SAN (for example a SPIFFE ID
// "spiffe://example.org/ns/x/sa/y"), or else its first DNS SAN. A
// certificate with neither has no identity (ErrCredentialsInvalid): the
// subject common name is deliberately not used.
func CertIdentity(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", fmt.Errorf("%w: no client certificate", ErrCredentialsInvalid)
	}
	if len(cert.URIs) > 0 {
		return cert.URIs[0].String(), nil
	}
	if len(cert.DNSNames) > 0 {
		return strings.ToLower(cert.DNSNames[0]), nil
	}
	return "", fmt.Errorf("%w: client certificate has no URI or DNS SAN", ErrCredentialsInvalid)
}

// NormalizeIdentity checks an mTLS identity given by an operator and
// returns its canonical form: a URI with a scheme (kept as written, after
// parsing) or a DNS name (lower-cased). Empty stays empty.
func NormalizeIdentity(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if len(id) > maxIdentityLen || !utf8.ValidString(id) || strings.ContainsAny(id, " \t\r\n") {
		return "", fmt.Errorf("want a URI SAN (such as spiffe://trust.domain/path) or a DNS name without spaces, at most %d bytes", maxIdentityLen)
	}
	if strings.Contains(id, "://") {
		u, err := url.Parse(id)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return "", fmt.Errorf("%q is not a URI with a scheme and a host", id)
		}
		return u.String(), nil
	}
	for label := range strings.SplitSeq(id, ".") {
		if label == "" || len(label) > 63 || !dnsLabel(label) {
			return "", fmt.Errorf("%q is neither a URI (scheme://host/...) nor a DNS name", id)
		}
	}
	return strings.ToLower(id), nil
}

func dnsLabel(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-' && i > 0 && i < len(s)-1:
		case r == '*' && len(s) == 1: // a wildcard label, as in a DNS SAN
		default:
			return false
		}
	}
	return true
}
