package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// tokenTTL is the lifetime of every benchmark token: longer than any run.
const tokenTTL = 6 * time.Hour

// world is what setup created on a tokend.
type world struct {
	appID, keyID  string
	priv          *ecdsa.PrivateKey // the app's downloaded private key
	validatorKey  string            // API key of a validator caller
	issuerKey     string            // API key of an issuer caller
	repeatedToken string            // issued by tokend
	issuer        *client.Client
}

// setup creates an ES256 app, a validator and an issuer caller, and one
// token issued by tokend.
func setup(ctx context.Context, addr, adminKey string) (*world, error) {
	admin, err := client.New(addr, client.WithAPIKey(adminKey))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	app, err := admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "bench", Algorithm: "ES256"})
	if err != nil {
		return nil, fmt.Errorf("create app: %w", err)
	}
	w := &world{appID: app.GetApp().GetAppId(), keyID: app.GetKey().GetKeyId()}
	if w.priv, err = parseECKey(app.GetPrivateKeyPem()); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name, role string
		key        *string
	}{{"bench-validator", "validator", &w.validatorKey}, {"bench-issuer", "issuer", &w.issuerKey}} {
		resp, err := admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: c.name, Roles: []string{c.role}})
		if err != nil {
			return nil, fmt.Errorf("create caller %s: %w", c.name, err)
		}
		*c.key = resp.GetApiKey()
	}
	if w.issuer, err = client.New(addr, client.WithAPIKey(w.issuerKey)); err != nil {
		return nil, err
	}
	tok, err := w.issuer.IssueToken(ctx, &tokendv1.IssueTokenRequest{
		AppId: w.appID, Subject: "user-repeated", Ttl: durationpb.New(tokenTTL), Audience: []string{"orders"},
	})
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	w.repeatedToken = tok.GetAccessToken()
	return w, nil
}

func parseECKey(pemText string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("private key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is a %T, want ECDSA", k)
	}
	return ec, nil
}

var b64 = base64.RawURLEncoding

// backendToken signs a token the way an app's backend does with the
// downloaded private key (DESIGN.md: iat nbf exp sub aid, kid in the
// header), with a jti so that every token differs.
func (w *world) backendToken(kid, sub string, now time.Time) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": kid, "typ": "JWT"})
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	payload, _ := json.Marshal(map[string]any{
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(tokenTTL).Unix(),
		"sub": sub, "aid": w.appID, "jti": b64.EncodeToString(jti[:]),
	})
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, w.priv, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

// parallel calls f(i) for i in [0, n) on every core and returns the first
// error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// writeMessages writes msgs as count-delimited binary messages, the format
// of ghz --binary -B: ghz sends them round-robin, one per call.
func writeMessages[M proto.Message](path string, msgs []M) error {
	var buf []byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			return err
		}
		buf = protowire.AppendVarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	return os.WriteFile(path, buf, 0o600)
}

// firstSeenFile writes n distinct valid tokens signed with the app's key.
func (w *world) firstSeenFile(path string, n int) error {
	now := time.Now()
	reqs := make([]*tokendv1.ValidateTokenRequest, n)
	err := parallel(n, func(i int) error {
		tok, err := w.backendToken(w.keyID, fmt.Sprintf("user-%d", i), now)
		reqs[i] = &tokendv1.ValidateTokenRequest{Token: tok}
		return err
	})
	if err != nil {
		return err
	}
	return writeMessages(path, reqs)
}

// invalidFile writes n tokens, a third each: a valid token with a bit of
// its signature flipped (BAD_SIGNATURE), a token of an unknown kid
// (UNKNOWN_KEY), and garbage that is not a JWT (MALFORMED).
func (w *world) invalidFile(path string, n int) error {
	now := time.Now()
	reqs := make([]*tokendv1.ValidateTokenRequest, n)
	err := parallel(n, func(i int) error {
		var tok string
		switch i % 3 {
		case 0:
			good, err := w.backendToken(w.keyID, fmt.Sprintf("user-%d", i), now)
			if err != nil {
				return err
			}
			tok = flipSignature(good)
		case 1:
			var err error
			if tok, err = w.backendToken(fmt.Sprintf("k_unknown%06d", i), fmt.Sprintf("user-%d", i), now); err != nil {
				return err
			}
		default:
			var junk [48]byte
			_, _ = rand.Read(junk[:])
			tok = "garbage-" + b64.EncodeToString(junk[:])
		}
		reqs[i] = &tokendv1.ValidateTokenRequest{Token: tok}
		return nil
	})
	if err != nil {
		return err
	}
	return writeMessages(path, reqs)
}

// flipSignature changes one bit of a compact JWS's signature, keeping it
// canonical base64url.
func flipSignature(tok string) string {
	i := len(tok) - 1
	for tok[i] != '.' {
		i--
	}
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil || len(sig) == 0 {
		return tok + "x"
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + b64.EncodeToString(sig)
}

// extAuthzRequest is an Envoy CheckRequest for an HTTP request carrying
// tok, as a sidecar sends it.
func extAuthzRequest(tok string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "bench", Method: "GET", Host: "api.example.com", Path: "/orders/42", Scheme: "https", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				":authority": "api.example.com", ":method": "GET", ":path": "/orders/42",
				"authorization": "Bearer " + tok, "user-agent": "bench", "accept": "*/*",
				"x-request-id": "4f3c2a1b-0000-4000-8000-000000000000",
			},
		}},
	}}
}

// refreshFile issues n refresh tokens through IssueToken (64 at a time)
// and writes them as RefreshTokenRequests: each RefreshToken call of the
// scenario presents a fresh one.
func (w *world) refreshFile(ctx context.Context, path string, n int) error {
	reqs := make([]*tokendv1.RefreshTokenRequest, n)
	var next atomic.Int64
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				resp, err := w.issuer.IssueToken(ctx, &tokendv1.IssueTokenRequest{
					AppId: w.appID, Subject: fmt.Sprintf("refresh-%d", i), IssueRefreshToken: true,
				})
				if err != nil {
					errs <- err
					return
				}
				reqs[i] = &tokendv1.RefreshTokenRequest{RefreshToken: resp.GetRefreshToken()}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("pre-issue refresh tokens: %w", err)
	}
	return writeMessages(path, reqs)
}
