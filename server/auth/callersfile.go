package auth

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tokend/tokend/server/storage"
)

// FileCallerIDPrefix starts the id of every caller that comes from a
// callers file, so that callers removed from the file can be found and
// removed from the store.
const FileCallerIDPrefix = "file-"

// CallersFile is the static callers file (YAML or JSON) of GitOps-style
// setups. It holds no secret: API keys appear only as their SHA-256.
type CallersFile struct {
	Callers []FileCaller `yaml:"callers" json:"callers"`
}

// FileCaller is one caller of a callers file.
type FileCaller struct {
	// Name is the caller's unique name; its id is FileCallerIDPrefix+Name.
	Name string `yaml:"name" json:"name"`
	// Roles: admin, issuer, validator.
	Roles []string `yaml:"roles" json:"roles"`
	// AppIDs is the app scope; empty means every app.
	AppIDs []string `yaml:"app_ids" json:"app_ids"`
	// MTLSIdentity is the URI or DNS SAN of the caller's client certificate.
	MTLSIdentity string `yaml:"mtls_identity" json:"mtls_identity"`
	// APIKeySHA256 is the hex SHA-256 of the caller's API key.
	APIKeySHA256 string `yaml:"api_key_sha256" json:"api_key_sha256"`
}

// apiKeyLike finds API keys in a decoder's error, which quotes parts of the
// document (an unknown field name, a value of the wrong type): a clear key
// written by mistake must not reach the start-up error and the logs.
var apiKeyLike = regexp.MustCompile(APIKeyPrefix + `[A-Za-z0-9_-]+`)

func redactAPIKeys(err error) string {
	return apiKeyLike.ReplaceAllString(err.Error(), APIKeyPrefix+"REDACTED")
}

// maxCallersFile bounds the size of a callers file.
const maxCallersFile = 4 << 20

// ReadCallersFile reads and checks a callers file. Unknown fields are
// errors, so that a typo does not silently drop a setting.
func ReadCallersFile(path string) (CallersFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return CallersFile{}, fmt.Errorf("auth: callers file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCallersFile+1))
	if err != nil {
		return CallersFile{}, fmt.Errorf("auth: callers file %s: %w", path, err)
	}
	if len(b) > maxCallersFile {
		return CallersFile{}, fmt.Errorf("auth: callers file %s: larger than %d bytes", path, maxCallersFile)
	}
	cf, err := ParseCallersFile(b)
	if err != nil {
		return CallersFile{}, fmt.Errorf("auth: callers file %s: %w", path, err)
	}
	return cf, nil
}

// ParseCallersFile parses a callers file (JSON when it starts with "{",
// YAML otherwise) and checks every entry.
func ParseCallersFile(b []byte) (CallersFile, error) {
	var cf CallersFile
	if trimmed := bytes.TrimSpace(b); len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cf); err != nil {
			return CallersFile{}, fmt.Errorf("JSON: %s", redactAPIKeys(err))
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cf); err != nil && !errors.Is(err, io.EOF) {
			return CallersFile{}, fmt.Errorf("YAML: %s", redactAPIKeys(err))
		}
	}
	names := map[string]bool{}
	identities := map[string]bool{}
	hashes := map[string]bool{}
	for i := range cf.Callers {
		c := &cf.Callers[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("callers[%d] (%q): %s", i, c.Name, fmt.Sprintf(format, args...))
		}
		if err := checkName(c.Name); err != nil {
			return CallersFile{}, bad("%v", err)
		}
		if names[c.Name] {
			return CallersFile{}, bad("duplicate name")
		}
		names[c.Name] = true
		if len(c.Roles) == 0 {
			return CallersFile{}, bad("roles: at least one role is required")
		}
		if r := ValidRoles(c.Roles); r != "" {
			return CallersFile{}, bad("roles: unknown role %q (want admin, issuer or validator)", r)
		}
		for _, id := range c.AppIDs {
			if id == "" {
				return CallersFile{}, bad("app_ids: empty app id")
			}
		}
		id, err := NormalizeIdentity(c.MTLSIdentity)
		if err != nil {
			return CallersFile{}, bad("mtls_identity: %v", err)
		}
		c.MTLSIdentity = id
		if id != "" && identities[id] {
			return CallersFile{}, bad("mtls_identity: used by another caller")
		}
		identities[id] = true
		c.APIKeySHA256 = strings.ToLower(c.APIKeySHA256)
		if c.APIKeySHA256 != "" {
			if raw, err := hex.DecodeString(c.APIKeySHA256); err != nil || len(raw) != 32 {
				return CallersFile{}, bad("api_key_sha256: want 64 hex digits (sha256sum of the key), never the key itself")
			}
			if hashes[c.APIKeySHA256] {
				return CallersFile{}, bad("api_key_sha256: used by another caller")
			}
			hashes[c.APIKeySHA256] = true
		}
		if c.MTLSIdentity == "" && c.APIKeySHA256 == "" {
			return CallersFile{}, bad("needs an mtls_identity, an api_key_sha256 or both")
		}
	}
	return cf, nil
}

// SyncFile makes the store's file callers (ids starting with
// FileCallerIDPrefix) exactly those of cf: each is created or replaced,
// with its API key hash as its only key, and file callers no longer listed
// are deleted. Callers made through the API are left alone; a name or
// identity clash with one of them fails with storage.ErrAlreadyExists.
func (s *Service) SyncFile(ctx context.Context, cf CallersFile) error {
	existing, err := s.store.ListCallers(ctx)
	if err != nil {
		return fmt.Errorf("auth: callers file: %w", err)
	}
	old := map[string]storage.Caller{}
	for _, c := range existing {
		if strings.HasPrefix(c.ID, FileCallerIDPrefix) {
			old[c.ID] = c
		}
	}
	now := s.now().UTC()
	for _, fc := range cf.Callers {
		c := storage.Caller{
			ID: FileCallerIDPrefix + fc.Name, Name: fc.Name, Roles: fc.Roles, AppIDs: fc.AppIDs,
			MTLSIdentity: fc.MTLSIdentity, CreatedAt: now,
		}
		if prev, ok := old[c.ID]; ok {
			c.CreatedAt = prev.CreatedAt
			delete(old, c.ID)
			if fc.APIKeySHA256 == "" {
				// PutCaller keeps the keys when given none: drop them.
				if err := s.store.DeleteCaller(ctx, c.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("auth: callers file: caller %q: %w", fc.Name, err)
				}
			}
		}
		key := storage.APIKey{}
		if fc.APIKeySHA256 != "" {
			key = storage.APIKey{Hash: fc.APIKeySHA256, CallerID: c.ID, CreatedAt: now}
		}
		if err := s.store.PutCaller(ctx, c, key); err != nil {
			return fmt.Errorf("auth: callers file: caller %q: %w", fc.Name, err)
		}
	}
	for id := range old {
		if err := s.store.DeleteCaller(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("auth: callers file: remove caller %q: %w", id, err)
		}
	}
	return s.dir.Reload(ctx)
}
