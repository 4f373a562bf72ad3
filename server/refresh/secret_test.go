package refresh

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		raw, hash := newToken()
		if !strings.HasPrefix(raw, Prefix) || len(raw) != tokenLen || !wellFormed(raw) {
			t.Fatalf("newToken() = %q: want %s + 43 base64url characters", raw, Prefix)
		}
		if hash != hashToken(raw) || len(hash) != 64 || strings.Contains(hash, raw) {
			t.Fatalf("hash %q of %q is not its hex SHA-256", hash, raw)
		}
		if seen[raw] {
			t.Fatalf("newToken() repeated %q", raw)
		}
		seen[raw] = true
	}
}

func TestWellFormed(t *testing.T) {
	t.Parallel()
	raw, _ := newToken()
	for _, tc := range []struct {
		name string
		raw  string
		want bool
	}{
		{"made by newToken", raw, true},
		{"empty", "", false},
		{"no prefix", "xxx_" + raw[len(Prefix):], false},
		{"one character short", raw[:len(raw)-1], false},
		{"one character long", raw + "A", false},
		{"not base64url", raw[:len(raw)-1] + "+", false},
		// The last of 43 characters carries 4 bits and 2 zero bits; "B" sets one.
		{"non-canonical last character", raw[:len(raw)-1] + "B", false},
		{"an API key", "tkd_" + raw[len(Prefix):], false},
		// Found by FuzzRefreshToken: base64 decoding skips line breaks.
		{"line breaks in place of characters", raw[:10] + "\r\n" + raw[12:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wellFormed(tc.raw); got != tc.want {
				t.Errorf("wellFormed(%q) = %v, want %v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestReplaySeal(t *testing.T) {
	t.Parallel()
	raw, hash := newToken()
	other, otherHash := newToken()
	plain := []byte(`{"rt":"tkr_next-refresh-token","at":"eyJ..."}`)
	sealed, err := sealReplay(raw, hash, plain)
	if err != nil {
		t.Fatalf("sealReplay: %v", err)
	}
	if bytes.Contains(sealed, []byte("tkr_next")) || bytes.Contains(sealed, []byte(raw)) {
		t.Fatal("the sealed replay holds the plaintext or the token")
	}
	if got, err := openReplay(raw, hash, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("openReplay = %q, %v; want the plaintext", got, err)
	}
	again, _ := sealReplay(raw, hash, plain)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of the same answer are equal: the nonce is not random")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name, raw, hash string
		sealed          []byte
	}{
		// What a database dump holds: the hash and the sealed bytes, not
		// the token the key derives from.
		{"key from the hash instead of the token", hash, hash, sealed},
		{"another token", other, hash, sealed},
		{"another record (additional data)", raw, otherHash, sealed},
		{"tampered ciphertext", raw, hash, tampered},
		{"truncated", raw, hash, sealed[:10]},
		{"empty", raw, hash, nil},
		{"unknown version", raw, hash, append([]byte{9}, sealed[1:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := openReplay(tc.raw, tc.hash, tc.sealed); err == nil {
				t.Errorf("openReplay = %q, want an error", got)
			}
		})
	}
}
