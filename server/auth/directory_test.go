package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlite"
)

// callCtx is the server context of a call with an optional verified
// client certificate (its SANs: URIs, or "dns:NAME") and optional
// authorization values.
func callCtx(t *testing.T, certSANs []string, authz ...string) context.Context {
	t.Helper()
	ctx := t.Context()
	if certSANs != nil {
		var uris, dns []string
		for _, s := range certSANs {
			if name, ok := strings.CutPrefix(s, "dns:"); ok {
				dns = append(dns, name)
			} else {
				uris = append(uris, s)
			}
		}
		ctx = peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: tlsState(leafCert(t, uris, dns))}})
	}
	if len(authz) > 0 {
		md := metadata.MD{}
		for _, v := range authz {
			md.Append("authorization", v)
		}
		ctx = metadata.NewIncomingContext(ctx, md)
	}
	return ctx
}

func TestDirectoryAuthFunc(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	spiffe := "spiffe://example.org/ns/billing/sa/api"
	billing, billingKey, err := e.svc.Create(ctx, auth.Spec{Name: "billing", Roles: []string{"issuer"}, AppIDs: []string{"app_a"}, MTLSIdentity: spiffe})
	if err != nil {
		t.Fatal(err)
	}
	sidecar, sidecarKey, err := e.svc.Create(ctx, auth.Spec{Name: "sidecar", Roles: []string{"validator"}, MTLSIdentity: "Sidecar.Example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if sidecar.MTLSIdentity != "sidecar.example.org" {
		t.Errorf("stored DNS identity %q, want it lower-cased", sidecar.MTLSIdentity)
	}
	tests := []struct {
		name     string
		ctx      context.Context
		wantID   string
		wantCred string
		wantErr  error
	}{
		{"api key", callCtx(t, nil, "Bearer "+billingKey), billing.ID, auth.CredentialAPIKey, nil},
		{"scheme is case-insensitive", callCtx(t, nil, "bearer "+billingKey), billing.ID, auth.CredentialAPIKey, nil},
		{"URI SAN", callCtx(t, []string{spiffe}), billing.ID, auth.CredentialMTLS, nil},
		{"DNS SAN", callCtx(t, []string{"dns:sidecar.example.org"}), sidecar.ID, auth.CredentialMTLS, nil},
		{"cert and key of the same caller", callCtx(t, []string{spiffe}, "Bearer "+billingKey), billing.ID, auth.CredentialMTLS, nil},
		{"nothing", callCtx(t, nil), "", "", auth.ErrCredentialsMissing},
		{"unknown key", callCtx(t, nil, "Bearer tkd_unknown"), "", "", auth.ErrCredentialsInvalid},
		{"not bearer", callCtx(t, nil, "Basic "+billingKey), "", "", auth.ErrCredentialsInvalid},
		{"empty bearer", callCtx(t, nil, "Bearer "), "", "", auth.ErrCredentialsInvalid},
		{"two authorization values", callCtx(t, nil, "Bearer "+billingKey, "Bearer "+billingKey), "", "", auth.ErrCredentialsInvalid},
		{"cert of no caller", callCtx(t, []string{"spiffe://example.org/ns/x/sa/unknown"}), "", "", auth.ErrCredentialsInvalid},
		{"cert of no caller with a good key", callCtx(t, []string{"spiffe://example.org/ns/x/sa/unknown"}, "Bearer "+billingKey), "", "", auth.ErrCredentialsInvalid},
		{"cert and key of different callers", callCtx(t, []string{spiffe}, "Bearer "+sidecarKey), "", "", auth.ErrCredentialsInvalid},
		{"cert and a bad key", callCtx(t, []string{spiffe}, "Bearer tkd_unknown"), "", "", auth.ErrCredentialsInvalid},
		{"cert without SAN", callCtx(t, []string{}), "", "", auth.ErrCredentialsInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.dir.AuthFunc(tt.ctx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("AuthFunc: %v, want %v", err, tt.wantErr)
			}
			c, ok := auth.CallerFrom(got)
			if tt.wantErr != nil {
				if ok {
					t.Errorf("a refused call carries caller %+v", c)
				}
				return
			}
			if !ok || c.ID != tt.wantID || c.Credential != tt.wantCred {
				t.Errorf("caller %+v (ok=%v), want id %s via %s", c, ok, tt.wantID, tt.wantCred)
			}
		})
	}
}

// A certificate the TLS layer did not verify (no client CA) is ignored: it
// neither authenticates nor blocks an API key.
func TestDirectoryIgnoresUnverifiedCert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, key, err := e.svc.Create(t.Context(), auth.Spec{Name: "svc", Roles: []string{"validator"}, MTLSIdentity: "spiffe://example.org/svc"})
	if err != nil {
		t.Fatal(err)
	}
	cert := leafCert(t, []string{"spiffe://example.org/svc"}, nil)
	unverified := peer.NewContext(t.Context(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tlsStateUnverified(cert)}})
	if _, err := e.dir.AuthFunc(unverified); !errors.Is(err, auth.ErrCredentialsMissing) {
		t.Errorf("unverified cert alone: %v, want ErrCredentialsMissing", err)
	}
	withKey := metadata.NewIncomingContext(unverified, metadata.Pairs("authorization", "Bearer "+key))
	got, err := e.dir.AuthFunc(withKey)
	if gc, _ := auth.CallerFrom(got); err != nil || gc.ID != c.ID || gc.Credential != auth.CredentialAPIKey {
		t.Errorf("unverified cert with a key: %+v, %v; want %s by API key", gc, err, c.ID)
	}
}

func TestDeleteTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c, key, err := e.svc.Create(ctx, auth.Spec{Name: "svc", Roles: []string{"issuer"}, MTLSIdentity: "spiffe://example.org/svc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.Authenticate(key); err != nil {
		t.Fatalf("before delete: %v", err)
	}
	if err := e.svc.Delete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.Authenticate(key); !errors.Is(err, auth.ErrCredentialsInvalid) {
		t.Errorf("API key after delete: %v, want ErrCredentialsInvalid", err)
	}
	if _, err := e.dir.AuthenticateIdentity("spiffe://example.org/svc"); !errors.Is(err, auth.ErrCredentialsInvalid) {
		t.Errorf("mTLS identity after delete: %v, want ErrCredentialsInvalid", err)
	}
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		grace time.Duration
	}{
		{"default grace", auth.DefaultKeyGrace},
		{"short grace", time.Minute},
		{"no grace", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := t.Context()
			c, oldKey, err := e.svc.Create(ctx, auth.Spec{Name: "svc", Roles: []string{"issuer"}})
			if err != nil {
				t.Fatal(err)
			}
			start := e.clock.Now()
			newKey, expires, err := e.svc.RotateKey(ctx, c.ID, tt.grace)
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			if newKey == oldKey || !expires.Equal(start.Add(tt.grace)) {
				t.Errorf("RotateKey = new key equal to old: %v, expires %s, want %s", newKey == oldKey, expires, start.Add(tt.grace))
			}
			if tt.grace > 0 {
				e.clock.Advance(tt.grace - time.Second)
				if _, err := e.dir.Authenticate(oldKey); err != nil {
					t.Errorf("old key within the grace: %v", err)
				}
				e.clock.Advance(time.Second)
			}
			if _, err := e.dir.Authenticate(oldKey); !errors.Is(err, auth.ErrCredentialsInvalid) {
				t.Errorf("old key after the grace: %v, want ErrCredentialsInvalid", err)
			}
			if got, err := e.dir.Authenticate(newKey); err != nil || got.ID != c.ID {
				t.Errorf("new key: %+v, %v", got, err)
			}
			// A second rotation does not extend the first key's expiry.
			e.clock.Advance(time.Hour)
			if _, _, err := e.svc.RotateKey(ctx, c.ID, auth.MaxKeyGrace); err != nil {
				t.Fatal(err)
			}
			if _, err := e.dir.Authenticate(oldKey); !errors.Is(err, auth.ErrCredentialsInvalid) {
				t.Errorf("old key after a second rotation: %v, want ErrCredentialsInvalid", err)
			}
		})
	}
}

func TestRotateKeyRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c, _, err := e.svc.Create(ctx, auth.Spec{Name: "svc", Roles: []string{"issuer"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		id    string
		grace time.Duration
		want  error
	}{
		{"no id", "", time.Hour, auth.ErrInvalid},
		{"negative grace", c.ID, -time.Second, auth.ErrInvalid},
		{"grace too long", c.ID, auth.MaxKeyGrace + time.Second, auth.ErrInvalid},
		{"unknown caller", "c_nope", time.Hour, storage.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := e.svc.RotateKey(ctx, tt.id, tt.grace); !errors.Is(err, tt.want) {
				t.Errorf("RotateKey: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCreateRefusesBadIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, err := e.svc.Create(t.Context(), auth.Spec{Name: "svc", Roles: []string{"issuer"}, MTLSIdentity: "not an identity"})
	var fe *auth.FieldError
	if !errors.As(err, &fe) || fe.Field != "mtls_identity" {
		t.Errorf("Create with a bad identity: %v, want a FieldError on mtls_identity", err)
	}
}

func BenchmarkAuthFunc(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	dir := auth.NewDirectory(st, time.Now)
	svc := auth.NewService(st, dir, time.Now)
	_, key, err := svc.Create(b.Context(), auth.Spec{Name: "svc", Roles: []string{"validator"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(b.Context(), metadata.Pairs("authorization", "Bearer "+key))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := dir.AuthFunc(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Run picks up changes made behind the Directory's back (by another
// replica sharing the store).
func TestDirectoryRunReloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		e.dir.Run(ctx, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	defer func() { cancel(); <-done }()

	key, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	c := storage.Caller{ID: "c_other_replica", Name: "other", Roles: []string{"validator"}, CreatedAt: e.clock.Now()}
	if err := e.store.CreateCaller(t.Context(), c, storage.APIKey{Hash: hash, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, err := e.dir.Authenticate(key); err == nil && got.ID == c.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Directory never saw the caller created behind its back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.store.DeleteCaller(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := e.dir.Authenticate(key); errors.Is(err, auth.ErrCredentialsInvalid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Directory never saw the caller deleted behind its back")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
