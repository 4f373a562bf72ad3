package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/servertest"
)

func writeKEKFile(t *testing.T) (string, *keys.KEK) {
	t.Helper()
	raw := make([]byte, keys.KEKSize)
	_, _ = rand.Read(raw)
	path := filepath.Join(t.TempDir(), "kek.b64")
	text := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := keys.ParseKEK(text)
	if err != nil {
		t.Fatal(err)
	}
	return path, k
}

func TestRewrapKEK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// kekFile is whether the server runs with TOKEND_KEK_FILE rather
		// than the data dir's generated kek file.
		kekFile bool
	}{{"generated KEK in the data dir", false}, {"KEK file", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			oldFile, _ := writeKEKFile(t)
			withOld := func(c *server.Config) {
				if tc.kekFile {
					c.KEKFile = oldFile
				}
			}
			h := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithConfig(withOld))
			var tokens []*tokendv1.IssueTokenResponse
			for _, alg := range []string{"ES256", "PS256"} {
				created := createApp(t, h.Admin, alg)
				if _, err := h.Admin.RotateAppKey(t.Context(), &tokendv1.RotateAppKeyRequest{AppId: created.GetApp().GetAppId()}); err != nil {
					t.Fatal(err)
				}
				tokens = append(tokens, issue(t, h.Admin, created.GetApp().GetAppId(), 15*time.Minute))
			}
			h.Stop()
			oldText, err := os.ReadFile(filepath.Join(dir, "kek"))
			if tc.kekFile {
				oldText, err = os.ReadFile(oldFile)
			}
			if err != nil {
				t.Fatal(err)
			}

			newFile, newKEK := writeKEKFile(t)
			cfg := h.Config
			rep, err := server.RewrapKEK(t.Context(), cfg, newKEK)
			if err != nil {
				t.Fatalf("RewrapKEK: %v", err)
			}
			if rep.Rewrapped != 4 || rep.Apps != 2 || rep.NewKEKID != newKEK.ID() || rep.OldKEKID == rep.NewKEKID {
				t.Errorf("report: %+v, want 4 keys of 2 apps", rep)
			}
			if _, err := server.RewrapKEK(t.Context(), cfg, newKEK); !tc.kekFile && !errors.Is(err, keys.ErrSameKEK) {
				// The data dir's file now holds the new KEK: a second
				// run finds old == new.
				t.Errorf("second run: %v, want ErrSameKEK", err)
			}

			withNew := func(c *server.Config) {
				if tc.kekFile {
					c.KEKFile = newFile
				}
			}
			if !tc.kekFile && rep.KEKFile != filepath.Join(dir, "kek") {
				t.Errorf("report names KEK file %q, want the data dir's", rep.KEKFile)
			}
			if tc.kekFile && rep.KEKFile != "" {
				t.Errorf("report names KEK file %q; the operator's file must not be touched", rep.KEKFile)
			}
			h2 := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithConfig(withNew))
			for _, tok := range tokens {
				if got := validate(t, h2.Admin, tok.GetAccessToken()); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
					t.Errorf("token issued before the rewrap: %v, want valid", got)
				}
			}
			h2.Stop()

			old := h.Config
			old.KEK, old.KEKFile = strings.TrimSpace(string(oldText)), ""
			old.GRPCListen, old.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
			if _, err := newServer(t, old); err == nil || !strings.Contains(err.Error(), "KEK") {
				t.Errorf("start with the old KEK after the rewrap: %v, want a KEK error", err)
			}
		})
	}
}

func TestRewrapKEKRefusals(t *testing.T) {
	t.Parallel()
	_, k := writeKEKFile(t)
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	if _, err := server.RewrapKEK(t.Context(), cfg, k); err == nil {
		t.Error("rewrap of a data dir without a store succeeded")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "tokend.db")); !os.IsNotExist(err) {
		t.Errorf("rewrap created a store in an empty data dir: %v", err)
	}
}
