package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// KEKSize is the size of a key-encryption key in bytes.
const KEKSize = 32

// ErrSealedKey: a sealed private key cannot be opened with this KEK (wrong
// KEK, tampered data, or sealed for another key id or app).
var ErrSealedKey = errors.New("keys: sealed private key cannot be opened")

// Header names bound into the protected (authenticated) JWE header.
const (
	hdrKEK   jose.HeaderKey = "tokend-kek" // id of the KEK that sealed it
	hdrApp   jose.HeaderKey = "tokend-aid"
	hdrKeyID jose.HeaderKey = "tokend-kid"
)

// KEK is a key-encryption key: it seals private keys at rest with JWE
// (dir + A256GCM), binding the app id and key id as authenticated data.
type KEK struct {
	key []byte
	id  string
}

// NewKEK wraps 32 raw bytes.
func NewKEK(raw []byte) (*KEK, error) {
	if len(raw) != KEKSize {
		return nil, fmt.Errorf("keys: KEK must be %d bytes, got %d", KEKSize, len(raw))
	}
	sum := sha256.Sum256(raw)
	return &KEK{key: append([]byte(nil), raw...), id: base64.RawURLEncoding.EncodeToString(sum[:6])}, nil
}

// ParseKEK decodes a KEK written in base64 (standard or URL alphabet, with
// or without padding; surrounding whitespace ignored).
func ParseKEK(s string) (*KEK, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			return NewKEK(raw)
		}
	}
	return nil, errors.New("keys: KEK is not base64")
}

// LoadKEKFile reads a KEK from a file holding its base64 form.
func LoadKEKFile(path string) (*KEK, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: read KEK file: %w", err)
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("keys: KEK file %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateKEKFile reads the KEK at path, or generates one there (mode
// 0600) when the file does not exist. It reports whether it created it.
func LoadOrCreateKEKFile(path string) (*KEK, bool, error) {
	k, err := LoadKEKFile(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	raw := make([]byte, KEKSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, fmt.Errorf("keys: generate KEK: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("keys: create KEK dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			k, err := LoadKEKFile(path)
			return k, false, err
		}
		return nil, false, fmt.Errorf("keys: create KEK file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return nil, false, fmt.Errorf("keys: write KEK file: %w", err)
	}
	k, err = NewKEK(raw)
	return k, true, err
}

// ID is a short fingerprint of the KEK (not secret), written into every
// sealed key so that a wrong KEK is recognised.
func (k *KEK) ID() string { return k.id }

// Seal encrypts a private key for the given app and key id.
func (k *KEK) Seal(appID, keyID string, priv crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("keys: seal: %w", err)
	}
	opts := (&jose.EncrypterOptions{}).
		WithHeader(hdrKEK, k.id).WithHeader(hdrApp, appID).WithHeader(hdrKeyID, keyID)
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: k.key}, opts)
	if err != nil {
		return "", fmt.Errorf("keys: seal: %w", err)
	}
	obj, err := enc.Encrypt(der)
	if err != nil {
		return "", fmt.Errorf("keys: seal: %w", err)
	}
	return obj.CompactSerialize()
}

// Open decrypts a private key sealed by Seal for the same app and key id.
func (k *KEK) Open(appID, keyID, sealed string) (crypto.Signer, error) {
	obj, err := jose.ParseEncryptedCompact(sealed, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: %v", ErrSealedKey, keyID, err)
	}
	h := obj.Header.ExtraHeaders
	if h[hdrKEK] != k.id {
		return nil, fmt.Errorf("%w: key %s was sealed with KEK %v, this KEK is %s", ErrSealedKey, keyID, h[hdrKEK], k.id)
	}
	if h[hdrApp] != appID || h[hdrKeyID] != keyID {
		return nil, fmt.Errorf("%w: key %s is bound to another key id or app", ErrSealedKey, keyID)
	}
	der, err := obj.Decrypt(k.key)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: %v", ErrSealedKey, keyID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: %v", ErrSealedKey, keyID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key %s: not a signing key", ErrSealedKey, keyID)
	}
	return signer, nil
}

// ReplaceKEKFile writes k to path (base64, mode 0600), replacing the file
// atomically: a crash leaves either the old KEK or the new one, whole.
func ReplaceKEKFile(path string, k *KEK) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return fmt.Errorf("keys: write KEK file: %w", err)
	}
	tmp := f.Name()
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k.key) + "\n")
	if err := errors.Join(werr, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("keys: write KEK file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("keys: write KEK file: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
