package refresh

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every refresh token, so that leaked ones are easy to
// recognise by secret scanners.
const Prefix = "tkr_"

// secretBytes is the entropy of a refresh token: 256 bits.
const secretBytes = 32

// tokenLen is the length of a refresh token: the prefix and 32 bytes in
// unpadded base64url.
var tokenLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// newToken returns a new refresh token and its stored hash.
func newToken() (raw, hash string) {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails: it crashes the program if the system's generator is broken
	raw = Prefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, hashToken(raw)
}

// wellFormed reports whether raw can be a refresh token tokend made, so
// that garbage is refused without a store lookup.
func wellFormed(raw string) bool {
	if len(raw) != tokenLen || !strings.HasPrefix(raw, Prefix) {
		return false
	}
	// The decoder skips line breaks: a token of the right length with
	// some decodes to fewer bytes.
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw[len(Prefix):])
	return err == nil && len(b) == secretBytes
}

// hashToken is the stored form of a refresh token: hex SHA-256. The token
// has 256 random bits, so an unsalted fast hash is enough.
func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// newID returns a random identifier with a prefix (family ids).
func newID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sealed replays: version byte, 12-byte nonce, AES-256-GCM ciphertext.
const replayVersion = 1

var errReplayOpen = errors.New("refresh: replay does not open")

// replayAEAD is the AES-256-GCM cipher of the replay of the refresh token
// raw. Its key is derived with HKDF-SHA256 from raw itself, which tokend
// does not keep: a dump of the store cannot open the replays.
func replayAEAD(raw string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(raw), []byte("tokend refresh replay"), "tokend/v1 replay key", 32)
	if err != nil {
		return nil, fmt.Errorf("refresh: derive replay key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("refresh: replay cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealReplay encrypts plaintext for the refresh token raw; the token's hash
// is the additional data, so a replay copied to another record does not
// open.
func sealReplay(raw, hash string, plaintext []byte) ([]byte, error) {
	aead, err := replayAEAD(raw)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = replayVersion
	_, _ = rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, []byte(hash)), nil
}

// openReplay decrypts a replay sealed by sealReplay for raw.
func openReplay(raw, hash string, sealed []byte) ([]byte, error) {
	aead, err := replayAEAD(raw)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != replayVersion {
		return nil, errReplayOpen
	}
	nonce, ct := sealed[1:1+aead.NonceSize()], sealed[1+aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, []byte(hash))
	if err != nil {
		return nil, errReplayOpen
	}
	return pt, nil
}
