package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/servertest"
)

// secretForms returns every form in which a private key could leak into a
// file: its PEM text and PEM body lines, its PKCS#8 DER (raw and base64),
// and its raw secret numbers (EC scalar, Ed25519 seed, RSA primes and
// exponents), raw and base64url as a private JWK would hold them.
func secretForms(t *testing.T, pemText string) map[string][]byte {
	t.Helper()
	priv := parsePKCS8(t, pemText)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"PEM text":              []byte(pemText),
		"PKCS#8 DER":            der,
		"PKCS#8 DER, base64":    []byte(base64.StdEncoding.EncodeToString(der)),
		"PKCS#8 DER, base64url": []byte(base64.RawURLEncoding.EncodeToString(der)),
	}
	for i, line := range strings.Split(strings.TrimSpace(pemText), "\n") {
		if !strings.HasPrefix(line, "-----") {
			forms[fmt.Sprintf("PEM body line %d", i)] = []byte(line)
		}
	}
	numbers := map[string][]byte{}
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		numbers["EC scalar"] = d
	case ed25519.PrivateKey:
		numbers["Ed25519 seed"] = k.Seed()
	case *rsa.PrivateKey:
		numbers["RSA p"] = k.Primes[0].Bytes()
		numbers["RSA q"] = k.Primes[1].Bytes()
		numbers["RSA d"] = k.D.Bytes()
		numbers["RSA dp"] = k.Precomputed.Dp.Bytes()
		numbers["RSA dq"] = k.Precomputed.Dq.Bytes()
	default:
		t.Fatalf("unexpected key type %T", priv)
	}
	for name, n := range numbers {
		forms[name] = n
		forms[name+", base64url"] = []byte(base64.RawURLEncoding.EncodeToString(n))
		forms[name+", base64"] = []byte(base64.StdEncoding.EncodeToString(n))
		forms[name+", decimal"] = []byte(new(big.Int).SetBytes(n).String())
	}
	return forms
}

// storeFiles reads the SQLite files of a data dir (database, WAL, shared
// memory), those that exist.
func storeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{"tokend.db", "tokend.db-wal", "tokend.db-shm"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	if _, ok := out["tokend.db"]; !ok {
		t.Fatalf("no tokend.db in %s", dir)
	}
	return out
}

// A dump of the database files alone reveals no private key: every form of
// every private key tokend made (first keys, rotated keys next, active and
// verify-only, of every algorithm) is absent from the raw SQLite files,
// while the public keys are there.
func TestNoPrivateKeyMaterialAtRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := servertest.Start(t, servertest.WithDataDir(dir))
	ctx := t.Context()
	type made struct{ kid, pem string }
	var all []made
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		created := createApp(t, h.Admin, alg)
		appID := created.GetApp().GetAppId()
		all = append(all, made{created.GetKey().GetKeyId(), created.GetPrivateKeyPem()})
		// One rotation at once (the first key turns verify-only), one
		// pending (a next key).
		for _, delay := range []*durationpb.Duration{durationpb.New(0), nil} {
			rot, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: delay})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, made{rot.GetKey().GetKeyId(), rot.GetPrivateKeyPem()})
		}
		issue(t, h.Admin, appID, 15*time.Minute)
	}
	kekText, err := os.ReadFile(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.ParseKEK(string(kekText)); err != nil {
		t.Fatal(err)
	}
	kekRaw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(kekText)))
	if err != nil {
		t.Fatal(err)
	}

	scan := func(when string) {
		files := storeFiles(t, dir)
		var everything []byte
		for _, b := range files {
			everything = append(everything, b...)
		}
		for _, m := range all {
			if !bytes.Contains(everything, []byte(m.kid)) {
				t.Errorf("%s: the store files lack key %s: the scan does not see the stored keys", when, m.kid)
			}
			for form, secret := range secretForms(t, m.pem) {
				for name, b := range files {
					if bytes.Contains(b, secret) {
						t.Errorf("%s: %s holds the %s of key %s", when, name, form, m.kid)
					}
				}
			}
		}
		for name, b := range files {
			if bytes.Contains(b, bytes.TrimSpace(kekText)) || bytes.Contains(b, kekRaw) {
				t.Errorf("%s: %s holds the KEK", when, name)
			}
		}
	}
	scan("while serving")
	h.Stop()
	scan("after shutdown")
}
