package keys_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

func jwksKIDs(t *testing.T, r *replica, appID string, now time.Time) []string {
	t.Helper()
	b, ok := r.reg.JWKS(appID, now)
	if !ok {
		t.Fatalf("JWKS of %s: unknown app", appID)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.KeyID)
	}
	return ids
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		if m[x]--; m[x] < 0 {
			return false
		}
	}
	return true
}

func TestRotatePublishesBeforeSigningAndRetiresAfterOverlap(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	app, first := r.createApp(t, "app-1", jose.ES256, 0)

	rot, err := r.mgr.Rotate(t.Context(), app, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	next := rot.Key
	if next.Effective != storage.KeyNext || !next.ActivatesAt.Equal(t0.Add(jwksMaxAge)) || next.Algorithm != "ES256" {
		t.Fatalf("new key: %s activating %s (%s); want next at %s, ES256", next.Effective, next.ActivatesAt, next.Algorithm, t0.Add(jwksMaxAge))
	}
	if rot.Immediate || rot.Warning != "" || !strings.Contains(rot.PrivateKeyPEM, "PRIVATE KEY") {
		t.Errorf("default rotation: immediate=%v warning=%q, private key returned=%v", rot.Immediate, rot.Warning, rot.PrivateKeyPEM != "")
	}
	retire := t0.Add(jwksMaxAge + app.MaxTokenTTL + leeway)
	if got := r.stored(t, app.ID)[first.ID].VerifyUntil; !got.Equal(retire) {
		t.Errorf("old key verifies until %s, want activation + max TTL + leeway = %s", got, retire)
	}
	steps := []struct {
		at     time.Time
		signer string
		jwks   []string
	}{
		{t0, first.ID, []string{first.ID, next.ID}},
		{t0.Add(jwksMaxAge - time.Second), first.ID, []string{first.ID, next.ID}},
		{t0.Add(jwksMaxAge), next.ID, []string{first.ID, next.ID}},
		{retire.Add(-time.Second), next.ID, []string{first.ID, next.ID}},
		{retire, next.ID, []string{next.ID}},
	}
	for _, s := range steps {
		if got := r.signer(app.ID, s.at); got != s.signer {
			t.Errorf("at %s: signer %s, want %s", s.at, got, s.signer)
		}
		if got := jwksKIDs(t, r, app.ID, s.at); !sameSet(got, s.jwks) {
			t.Errorf("at %s: JWKS %v, want %v", s.at, got, s.jwks)
		}
	}
}

func TestRotateAlgorithmAndWarnings(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	app, _ := r.createApp(t, "app-1", jose.ES256, 0)
	tests := []struct {
		name      string
		alg       string
		delay     *time.Duration
		wantAlg   string
		immediate bool
		warning   bool
	}{
		{"to RS256 at once", "RS256", ptr(time.Duration(0)), "RS256", true, true},
		{"keeps the signing algorithm", "", ptr(10 * time.Minute), "RS256", false, false},
		{"to PS256 sooner than the max-age", "PS256", ptr(time.Minute), "PS256", false, true},
		{"to EdDSA", "EdDSA", nil, "EdDSA", false, false},
	}
	for _, tt := range tests { // in order: each rotation follows the last
		rot, err := r.mgr.Rotate(t.Context(), app, tt.alg, tt.delay)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if rot.Key.Algorithm != tt.wantAlg || rot.Immediate != tt.immediate || (rot.Warning != "") != tt.warning {
			t.Errorf("%s: alg %s immediate %v warning %q; want %s, %v, warning %v",
				tt.name, rot.Key.Algorithm, rot.Immediate, rot.Warning, tt.wantAlg, tt.immediate, tt.warning)
		}
	}
	if _, err := r.mgr.Rotate(t.Context(), app, "HS256", nil); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
		t.Errorf("rotate to HS256: %v, want ErrUnsupportedAlgorithm", err)
	}
}

// A key never signs a token that would outlive its verification window:
// while a rotation is pending, the old key's window is fixed, and a longer
// max TTL set meanwhile cannot stretch it.
func TestIssuerNeverOutlivesTheKeyWindow(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	app, first := r.createApp(t, "app-1", jose.ES256, 0)
	if _, err := r.mgr.Rotate(t.Context(), app, "", nil); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(4 * time.Minute)
	issuer := token.NewIssuer(r.reg, "tokend", token.WithIssuerClock(func() time.Time { return at }))
	got, err := issuer.Issue(token.IssueRequest{AppID: app.ID, Subject: "s", TTL: app.MaxTokenTTL})
	if err != nil || got.KeyID != first.ID {
		t.Fatalf("issue within the window: %v, %v", got, err)
	}
	longer := app
	longer.MaxTokenTTL = 2 * time.Hour
	r.reg.PutApp(longer)
	if _, err := issuer.Issue(token.IssueRequest{AppID: app.ID, Subject: "s", TTL: 2 * time.Hour}); !errors.Is(err, token.ErrNoSigningKey) {
		t.Errorf("a token outliving the old key's window: %v, want ErrNoSigningKey", err)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	ctx := t.Context()
	app, first := r.createApp(t, "app-1", jose.ES256, 0)
	other, otherKey := r.createApp(t, "app-2", jose.ES256, 0)

	for name, kid := range map[string]string{"unknown key": "k_nope", "key of another app": otherKey.ID} {
		if _, err := r.mgr.Revoke(ctx, app, kid, ""); !errors.Is(err, keys.ErrKeyNotFound) {
			t.Errorf("%s: %v, want ErrKeyNotFound", name, err)
		}
	}

	// Revoking the signing key while a next key is published makes that
	// key sign at once.
	rot, err := r.mgr.Rotate(ctx, app, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Set(t0.Add(time.Minute))
	view, err := r.mgr.Revoke(ctx, app, first.ID, "leaked")
	if err != nil {
		t.Fatal(err)
	}
	if view.Effective != storage.KeyRetired || !view.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("revoked key view: %s revoked at %s", view.Effective, view.RevokedAt)
	}
	rec := r.stored(t, app.ID)[first.ID]
	if rec.State != storage.KeyRetired || rec.RevokedAt.IsZero() || rec.SealedPrivateKey != "" {
		t.Errorf("stored revoked key: state %s revoked %s sealed %v; want retired, revoked, erased", rec.State, rec.RevokedAt, rec.SealedPrivateKey != "")
	}
	if _, ok := r.reg.Key(first.ID); ok {
		t.Error("the registry still holds the revoked key")
	}
	if got := r.signer(app.ID, t0.Add(time.Minute)); got != rot.Key.ID {
		t.Errorf("signer after revoking the active key = %q, want the next key %s", got, rot.Key.ID)
	}
	if got := jwksKIDs(t, r, app.ID, t0.Add(time.Minute)); !sameSet(got, []string{rot.Key.ID}) {
		t.Errorf("JWKS after revocation = %v", got)
	}

	// Again: nothing changes.
	r.clock.Set(t0.Add(2 * time.Minute))
	again, err := r.mgr.Revoke(ctx, app, first.ID, "")
	if err != nil || !again.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("second revocation: %v revoked at %s, want the first time kept", err, again.RevokedAt)
	}

	// Revoking the only key leaves the app without a signing key.
	if _, err := r.mgr.Revoke(ctx, other, otherKey.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := r.signer(other.ID, t0.Add(2*time.Minute)); got != "" {
		t.Errorf("signer after revoking the only key = %q, want none", got)
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	ctx := t.Context()
	app, first := r.createApp(t, "app-1", jose.ES256, 0)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	view, err := r.mgr.Register(ctx, app.ID, jose.ES256, ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	if view.Effective != storage.KeyActive || view.SealedPrivateKey != "" {
		t.Errorf("registered key: %s, sealed %v", view.Effective, view.SealedPrivateKey != "")
	}
	if k, ok := r.reg.Key(view.ID); !ok || k.AppID != app.ID || k.Algorithm != jose.ES256 {
		t.Errorf("registry key %s: %+v, %v", view.ID, k, ok)
	}
	if got := r.signer(app.ID, t0); got != first.ID {
		t.Errorf("signer after registering = %q, want tokend's own key %s (a registered key never signs)", got, first.ID)
	}
	if _, err := r.mgr.Register(ctx, app.ID, jose.ES256, ec.Public()); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("registering the same key twice: %v, want ErrAlreadyExists", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, tc := range map[string]struct {
		alg jose.SignatureAlgorithm
		pub any
	}{
		"key type does not fit": {jose.RS256, ec.Public()},
		"RSA under 2048 bits":   {jose.RS256, small.Public()},
	} {
		if _, err := r.mgr.Register(ctx, app.ID, tc.alg, tc.pub); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("%s: %v, want ErrUnsupportedAlgorithm", name, err)
		}
	}
	if _, err := r.mgr.Register(ctx, "app_nope", jose.ES256, ec.Public()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown app: %v, want ErrNotFound", err)
	}

	// A rotation of tokend's key leaves the registered key open.
	if _, err := r.mgr.Rotate(ctx, app, "", ptr(time.Duration(0))); err != nil {
		t.Fatal(err)
	}
	rec := r.stored(t, app.ID)[view.ID]
	if !rec.VerifyUntil.IsZero() || rec.State != storage.KeyActive {
		t.Errorf("registered key after a rotation: %s until %s; want active, open", rec.State, rec.VerifyUntil)
	}
	if got := jwksKIDs(t, r, app.ID, t0.Add(48*time.Hour)); !strings.Contains(strings.Join(got, ","), view.ID) {
		t.Errorf("JWKS long after the rotation lacks the registered key: %v", got)
	}
}
