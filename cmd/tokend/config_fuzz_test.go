package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tokend/tokend/server/storage/postgres"
)

// secretInDoc finds the values of secret settings in a config file: the
// admin key, the KEK, and the password of a store URL.
var secretInDoc = regexp.MustCompile(`(?m)^[ \t]*(?:admin_key|kek)[ \t]*:[ \t]*["']?([^"'\s#]{8,})|://[^:/@\s]*:([^@/\s]{6,})@`)

// FuzzConfigFile: any config file loads into settings that pass
// validation and survive "tokend config print" (the printed file loads to
// the same settings), or is refused with errors that repeat no secret it
// holds (admin key, KEK, store password).
func FuzzConfigFile(f *testing.F) {
	var printed strings.Builder
	if err := printConfig(&printed, defaultServeOptions()); err != nil {
		f.Fatal(err)
	}
	for _, doc := range []string{
		printed.String(),
		"listen: 127.0.0.1:7443\nhttp_listen: \"\"\nissuer: x\nleeway: 45s\nrate_limit_admin: 5/s,burst=7\n",
		"admin_key: tkd_config-fuzz-admin-key-0123\nkek: c2VjcmV0LWtlay1ieXRlcy0wMTIzNDU2Nzg5MDEyMzQ1\n",
		"kek: not-base64-but-long-enough\n",
		"store: postgres://tokend:hunter2-fuzz@db.internal:5432/tokend?sslmode=disable\n",
		"store: mysql://root:hunter2-fuzz@db/x\n",
		"leeway: -1s\nmax_token_size: 1\njwks_max_age: 1h\n",
		"listen: [a, b]\n", "- a\n- b\n", "listen: 1\nlisten: 2\n", "unknown_key: 1\n", "", "{",
		"admin_key: &a tkd_anchor-key-0123456789\nissuer: *a\n",
	} {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		path := filepath.Join(t.TempDir(), "tokend.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := loadServeOptions("tokend serve", []string{"--config", path}, envOf(nil), io.Discard)
		if err != nil {
			for _, m := range secretInDoc.FindAllStringSubmatch(doc, -1) {
				for _, secret := range m[1:] {
					// A secret that also stands elsewhere in the file (a key
					// named "a00000000" beside "kek: 00000000") may be
					// repeated for that other place: only a secret the file
					// holds once is checked.
					if secret != "" && strings.Count(doc, secret) == 1 && strings.Contains(err.Error(), secret) {
						t.Fatalf("config %q: the error repeats the secret %q:\n%v", doc, secret, err)
					}
				}
			}
			return
		}
		if err := o.cfg.Validate(); err != nil {
			t.Fatalf("config %q loaded but does not validate: %v", doc, err)
		}
		if o.cfg.AdminKey != "" || o.cfg.KEK != "" || postgres.HasPassword(o.cfg.Store) {
			return // printed REDACTED: no round trip
		}
		var out strings.Builder
		if err := printConfig(&out, o); err != nil {
			t.Fatalf("config %q: print: %v", doc, err)
		}
		printedPath := filepath.Join(t.TempDir(), "printed.yaml")
		if err := os.WriteFile(printedPath, []byte(out.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := loadServeOptions("tokend serve", []string{"--config", printedPath}, envOf(nil), io.Discard)
		if err != nil {
			t.Fatalf("config %q: the printed config does not load: %v\n%s", doc, err, out.String())
		}
		if !reflect.DeepEqual(again, o) {
			t.Fatalf("config %q: printed config loads as %+v, want %+v", doc, again, o)
		}
	})
}
