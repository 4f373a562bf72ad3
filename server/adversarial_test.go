package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
	"github.com/tokend/tokend/server/servertest/adversarial"
	"github.com/tokend/tokend/server/token"
)

// startAdversarial runs a real server on a data dir seeded with the
// adversarial fixture, its clock at the fixture's now.
func startAdversarial(t *testing.T, f *adversarial.Fixture) *servertest.Harness {
	t.Helper()
	dir := t.TempDir()
	if err := adversarial.SeedDataDir(t.Context(), dir, f); err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, servertest.WithDataDir(dir), servertest.WithClock(func() time.Time { return f.Now }))
}

// TestAdversarialCorpus: every row of testdata/adversarial/corpus.json gets
// its answer from the real server (ValidateToken through the Go client and
// the whole interceptor chain), from token.Validator on the fixture's keys
// alone, and from the Go client's Validator, local (fed by WatchKeys, with
// the fixture's clock) and remote; the TypeScript and Python clients run
// the same table in their own tests (make test-ts, make test-python).
func TestAdversarialCorpus(t *testing.T) {
	t.Parallel()
	f, c, err := adversarial.Load()
	if err != nil {
		t.Fatal(err)
	}
	h := startAdversarial(t, f)
	now := func() time.Time { return f.Now }
	v := token.NewValidator(f.KeySource(), token.WithClock(now), token.WithDenylist(f.Denylist()))
	local := client.NewLocalValidator(h.Admin, client.WithKeyFeed(client.KeyFeedWatch), client.WithValidatorClock(now))
	t.Cleanup(func() { _ = local.Close() })
	if err := local.Wait(t.Context()); err != nil {
		t.Fatalf("local Validator: %v", err)
	}
	remote := client.NewRemoteValidator(h.Admin)
	for _, r := range c.Rows {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			if got := validateOnServer(t, h, r); !adversarial.Agree(got, r.Want) {
				t.Errorf("server ValidateToken: %s, want %s", got, r.Want)
			}
			if got := adversarial.Judge(v, r); !adversarial.Agree(got, r.Want) {
				t.Errorf("token.Validator: %s, want %s", got, r.Want)
			}
			for name, cv := range map[string]*client.Validator{"local": local, "remote": remote} {
				if name == "local" || utf8.ValidString(r.String()) {
					if got := validateWithClient(t, cv, r); !adversarial.Agree(got, r.Want) {
						t.Errorf("client.Validator (%s): %s, want %s", name, got, r.Want)
					}
				}
			}
		})
	}
}

// validateWithClient asks a Go client Validator. A remote one cannot send
// a token that is not UTF-8 (the caller skips those rows); a local one
// judges it in-process.
func validateWithClient(t *testing.T, v *client.Validator, r adversarial.Row) adversarial.Want {
	t.Helper()
	res, err := v.Validate(t.Context(), r.String(), client.Expect{AppID: r.AppID, Audience: r.Audience})
	if err != nil {
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("client.Validator: %v", err)
		}
		return adversarial.Want{Error: &adversarial.WantError{Code: codeName(e.Code), Reason: e.Reason}}
	}
	if res.Valid() {
		return adversarial.Want{Valid: true, Subject: res.Claims.Subject, KeyID: res.KeyID}
	}
	return adversarial.Want{Reason: res.Reason.String()}
}

// validateOnServer asks the server. A token that is not UTF-8 cannot be
// put in a generated request (proto3 strings are UTF-8), so its request is
// encoded by hand, as a non-Go client could send it.
func validateOnServer(t *testing.T, h *servertest.Harness, r adversarial.Row) adversarial.Want {
	t.Helper()
	var (
		resp *tokendv1.ValidateTokenResponse
		err  error
	)
	if raw := r.String(); utf8.ValidString(raw) {
		resp, err = h.Admin.ValidateToken(t.Context(), &tokendv1.ValidateTokenRequest{Token: raw, AppId: r.AppID, Audience: r.Audience})
	} else {
		var req []byte
		for _, fld := range []struct {
			num protowire.Number
			v   string
		}{{1, raw}, {2, r.Audience}, {3, r.AppID}} {
			if fld.v != "" {
				req = protowire.AppendString(protowire.AppendTag(req, fld.num, protowire.BytesType), fld.v)
			}
		}
		resp = &tokendv1.ValidateTokenResponse{}
		err = h.Admin.Conn().Invoke(t.Context(), tokendv1.TokenService_ValidateToken_FullMethodName, req, resp, grpc.ForceCodecV2(wireCodec{}))
	}
	if err != nil {
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("ValidateToken: %v", err)
		}
		return adversarial.Want{Error: &adversarial.WantError{Code: codeName(e.Code), Reason: e.Reason}}
	}
	if resp.GetValid() {
		return adversarial.Want{Valid: true, Subject: resp.GetClaims().GetSubject(), KeyID: resp.GetKeyId()}
	}
	return adversarial.Want{Reason: strings.TrimPrefix(resp.GetReason().String(), "INVALID_REASON_")}
}

// codeName is the canonical name of a gRPC code: INVALID_ARGUMENT.
func codeName(c codes.Code) string {
	if c == codes.OK {
		return "OK"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
