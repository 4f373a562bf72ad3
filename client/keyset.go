package client

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// keySet is an immutable view of the watched apps and their keys; the
// local Validator reads it through keySource, lock-free.
type keySet struct {
	apps  map[string]*appKeys
	byKID map[string]token.VerifyKey
	gen   uint64 // set by keySource.store
}

type appKeys struct {
	policy token.AppPolicy
	keys   []token.VerifyKey
}

func newKeySet() *keySet {
	return &keySet{apps: map[string]*appKeys{}, byKID: map[string]token.VerifyKey{}}
}

// with returns a copy of s with apps replaced (or removed, when deleted).
func (s *keySet) with(apps map[string]*appKeys, deleted []string) *keySet {
	next := &keySet{apps: make(map[string]*appKeys, len(s.apps)+len(apps)), byKID: make(map[string]token.VerifyKey, len(s.byKID))}
	for id, a := range s.apps {
		next.apps[id] = a
	}
	for _, id := range deleted {
		delete(next.apps, id)
	}
	for id, a := range apps {
		next.apps[id] = a
	}
	for _, a := range next.apps {
		for _, k := range a.keys {
			next.byKID[k.ID] = k
		}
	}
	return next
}

// keySource is the token.KeySource of the local Validator.
type keySource struct {
	p    atomic.Pointer[keySet]
	gens atomic.Uint64
}

var (
	_ token.KeySource    = (*keySource)(nil)
	_ token.Generational = (*keySource)(nil)
)

// store makes ks the current key set, under a new generation.
func (s *keySource) store(ks *keySet) {
	ks.gen = s.gens.Add(1)
	s.p.Store(ks)
}

// Generation changes with every key set stored, so that the validation
// cache drops verdicts reached under an older one.
func (s *keySource) Generation() uint64 { return s.p.Load().gen }

func (s *keySource) App(appID string) (token.AppPolicy, bool) {
	a, ok := s.p.Load().apps[appID]
	if !ok {
		return token.AppPolicy{}, false
	}
	return a.policy, true
}

func (s *keySource) Key(kid string) (token.VerifyKey, bool) {
	k, ok := s.p.Load().byKID[kid]
	return k, ok
}

func (s *keySource) AppKeys(appID string) []token.VerifyKey {
	if a, ok := s.p.Load().apps[appID]; ok {
		return a.keys
	}
	return nil
}

// appKeysFromProto decodes a WatchedApp: its policy and the keys of its
// JWK Set, each bound to the app and to its algorithm (the JWK's "alg";
// a key without one validates nothing, as the server never publishes
// such a key).
func appKeysFromProto(w *tokendv1.WatchedApp) (*appKeys, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(w.GetJwksJson()), &set); err != nil {
		return nil, fmt.Errorf("tokend: app %q: JWKS: %w", w.GetAppId(), err)
	}
	a := &appKeys{policy: token.AppPolicy{
		ID: w.GetAppId(), Enabled: w.GetEnabled(), MaxTokenTTL: w.GetMaxTokenTtl().AsDuration(),
	}}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Algorithm == "" || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		vk := token.VerifyKey{
			ID: k.KeyID, AppID: w.GetAppId(), Algorithm: jose.SignatureAlgorithm(k.Algorithm), Public: k.Key,
		}
		if t, ok := w.GetKeyVerifyUntil()[k.KeyID]; ok {
			vk.VerifyUntil = t.AsTime()
		}
		a.keys = append(a.keys, vk)
	}
	return a, nil
}

// denylist is the token.Denylist of the local Validator: the server's own
// refresh.Denylist (the same revocation rule), replaced whole by a full
// snapshot.
type denylist struct {
	p atomic.Pointer[refresh.Denylist]
}

var _ token.Denylist = (*denylist)(nil)

func (d *denylist) Revoked(appID, tokenID, subject string, issuedAt time.Time) bool {
	return d.p.Load().Revoked(appID, tokenID, subject, issuedAt)
}

func revocationFromProto(r *tokendv1.Revocation) (storage.Revocation, bool) {
	out := storage.Revocation{AppID: r.GetAppId(), RevokedAt: r.GetRevokedAt().AsTime(), ExpiresAt: r.GetExpiresAt().AsTime()}
	switch t := r.GetTarget().(type) {
	case *tokendv1.Revocation_TokenId:
		out.Kind, out.Value = storage.RevokeTokenID, t.TokenId
	case *tokendv1.Revocation_Subject:
		out.Kind, out.Value = storage.RevokeSubject, t.Subject
	default:
		return out, false
	}
	return out, out.AppID != "" && out.Value != ""
}
