package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/storage"
)

const (
	hashA = "4b0c2ec2ab29e1a0bcbd7fc4a6d0b0a2d07a86c5cd7eb0de3e2e5d3bd3b3e7a1"
	hashB = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func TestParseCallersFile(t *testing.T) {
	t.Parallel()
	yamlFile := `
callers:
  - name: billing
    roles: [issuer]
    app_ids: [app_a, app_b]
    mtls_identity: spiffe://example.org/ns/billing/sa/api
  - name: gateway
    roles: [validator]
    api_key_sha256: ` + strings.ToUpper(hashA) + `
`
	jsonFile := `{"callers": [
	{"name": "billing", "roles": ["issuer"], "app_ids": ["app_a", "app_b"], "mtls_identity": "spiffe://example.org/ns/billing/sa/api"},
	{"name": "gateway", "roles": ["validator"], "api_key_sha256": "` + hashA + `"}
]}`
	for name, text := range map[string]string{"yaml": yamlFile, "json": jsonFile} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cf, err := auth.ParseCallersFile([]byte(text))
			if err != nil {
				t.Fatalf("ParseCallersFile: %v", err)
			}
			if len(cf.Callers) != 2 || cf.Callers[0].Name != "billing" || len(cf.Callers[0].AppIDs) != 2 ||
				cf.Callers[1].APIKeySHA256 != hashA || cf.Callers[0].MTLSIdentity != "spiffe://example.org/ns/billing/sa/api" {
				t.Errorf("parsed %+v", cf)
			}
		})
	}
	bad := map[string]string{
		"unknown field":      "callers:\n  - name: a\n    roles: [issuer]\n    api_key: tkd_secret\n",
		"unknown JSON field": `{"callers": [{"name": "a", "roles": ["issuer"], "api_key": "tkd_x"}]}`,
		"no role":            "callers:\n  - name: a\n    api_key_sha256: " + hashA + "\n",
		"unknown role":       "callers:\n  - name: a\n    roles: [root]\n    api_key_sha256: " + hashA + "\n",
		"no credential":      "callers:\n  - name: a\n    roles: [issuer]\n",
		"hash not hex":       "callers:\n  - name: a\n    roles: [issuer]\n    api_key_sha256: tkd_plainkey\n",
		"hash too short":     "callers:\n  - name: a\n    roles: [issuer]\n    api_key_sha256: abcd\n",
		"duplicate name":     "callers:\n  - {name: a, roles: [issuer], api_key_sha256: " + hashA + "}\n  - {name: a, roles: [issuer], api_key_sha256: " + hashB + "}\n",
		"duplicate hash":     "callers:\n  - {name: a, roles: [issuer], api_key_sha256: " + hashA + "}\n  - {name: b, roles: [issuer], api_key_sha256: " + hashA + "}\n",
		"duplicate identity": "callers:\n  - {name: a, roles: [issuer], mtls_identity: x.example.org}\n  - {name: b, roles: [issuer], mtls_identity: X.example.org}\n",
		"bad identity":       "callers:\n  - {name: a, roles: [issuer], mtls_identity: 'not valid'}\n",
		"empty name":         "callers:\n  - {roles: [issuer], api_key_sha256: " + hashA + "}\n",
		"empty app id":       "callers:\n  - {name: a, roles: [issuer], app_ids: [''], api_key_sha256: " + hashA + "}\n",
		"not a callers file": "- just\n- a list\n",
	}
	for name, text := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if cf, err := auth.ParseCallersFile([]byte(text)); err == nil {
				t.Errorf("ParseCallersFile accepted %q: %+v", text, cf)
			}
		})
	}
}

func TestSyncFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	apiCaller, apiKey, err := e.svc.Create(ctx, auth.Spec{Name: "made-by-api", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	keyA, hA, _ := auth.NewAPIKey()
	keyB, hB, _ := auth.NewAPIKey()
	path := filepath.Join(t.TempDir(), "callers.yaml")
	write := func(text string) auth.CallersFile {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cf, err := auth.ReadCallersFile(path)
		if err != nil {
			t.Fatalf("ReadCallersFile: %v", err)
		}
		return cf
	}

	// First sync: two callers.
	cf := write("callers:\n" +
		"  - {name: billing, roles: [issuer], app_ids: [app_a], mtls_identity: 'spiffe://example.org/billing', api_key_sha256: " + hA + "}\n" +
		"  - {name: gateway, roles: [validator], api_key_sha256: " + hB + "}\n")
	if err := e.svc.SyncFile(ctx, cf); err != nil {
		t.Fatalf("SyncFile: %v", err)
	}
	billing, err := e.dir.Authenticate(keyA)
	if err != nil || billing.ID != auth.FileCallerIDPrefix+"billing" || billing.AppIDs[0] != "app_a" {
		t.Fatalf("file caller by key: %+v, %v", billing, err)
	}
	if c, err := e.dir.AuthenticateIdentity("spiffe://example.org/billing"); err != nil || c.ID != billing.ID {
		t.Errorf("file caller by identity: %+v, %v", c, err)
	}
	if _, err := e.dir.Authenticate(keyB); err != nil {
		t.Errorf("gateway key: %v", err)
	}

	// Second sync: billing loses its key and changes roles, gateway is gone.
	cf = write("callers:\n  - {name: billing, roles: [issuer, validator], mtls_identity: 'spiffe://example.org/billing'}\n")
	if err := e.svc.SyncFile(ctx, cf); err != nil {
		t.Fatalf("SyncFile: %v", err)
	}
	if _, err := e.dir.Authenticate(keyA); !errors.Is(err, auth.ErrCredentialsInvalid) {
		t.Errorf("key removed from the file still works: %v", err)
	}
	if _, err := e.dir.Authenticate(keyB); !errors.Is(err, auth.ErrCredentialsInvalid) {
		t.Errorf("caller removed from the file still works: %v", err)
	}
	if c, err := e.dir.AuthenticateIdentity("spiffe://example.org/billing"); err != nil || len(c.Roles) != 2 {
		t.Errorf("updated file caller: %+v, %v", c, err)
	}
	if _, err := e.store.GetCaller(ctx, auth.FileCallerIDPrefix+"gateway"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("removed file caller is still stored: %v", err)
	}

	// Callers made through the API are left alone.
	if c, err := e.dir.Authenticate(apiKey); err != nil || c.ID != apiCaller.ID {
		t.Errorf("API caller after syncs: %+v, %v", c, err)
	}

	// A name taken by an API caller is refused.
	cf = write("callers:\n  - {name: made-by-api, roles: [issuer], api_key_sha256: " + hA + "}\n")
	if err := e.svc.SyncFile(ctx, cf); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("SyncFile with a clashing name: %v, want ErrAlreadyExists", err)
	}
}

func TestReadCallersFileErrors(t *testing.T) {
	t.Parallel()
	if _, err := auth.ReadCallersFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
