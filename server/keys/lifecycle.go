package keys

import (
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

// The key lifecycle as pure functions of the stored keys and a time. The
// Registry (what validation and issuing see), the Manager (rotation,
// revocation) and the Maintainer (persisting states) all decide with these,
// so that a key's state never depends on whether it was written back yet.
//
//	next         published in the JWKS, validates, signs from ActivatesAt
//	active       the one key that signs: the latest activated private key
//	verify-only  replaced; validates until VerifyUntil; once written
//	             back, its private half is erased from the store
//	retired      VerifyUntil passed or revoked; gone from the JWKS

// canSign reports whether k may be the signing key at now: tokend holds its
// private half, it is neither revoked nor replaced for good (next or
// active), its activation time has come and its verification window is
// open.
func canSign(k storage.Key, now time.Time) bool {
	return k.SealedPrivateKey != "" && k.RevokedAt.IsZero() &&
		(k.State == storage.KeyActive || k.State == storage.KeyNext) &&
		!k.ActivatesAt.After(now) && open(k, now)
}

// open reports whether k's verification window is open at now.
func open(k storage.Key, now time.Time) bool {
	return k.VerifyUntil.IsZero() || now.Before(k.VerifyUntil)
}

// signsBefore reports whether a takes precedence over b as the signing key:
// the later activation wins, then the longer verification window (a
// replaced key has a closed one, its successor an open one), then the newer
// key, then the higher id.
func signsBefore(a, b storage.Key) bool {
	switch {
	case !a.ActivatesAt.Equal(b.ActivatesAt):
		return a.ActivatesAt.After(b.ActivatesAt)
	case !a.VerifyUntil.Equal(b.VerifyUntil):
		return a.VerifyUntil.IsZero() || (!b.VerifyUntil.IsZero() && a.VerifyUntil.After(b.VerifyUntil))
	case !a.CreatedAt.Equal(b.CreatedAt):
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// signerIndex returns the index of the key that signs at now, or -1.
func signerIndex(ks []storage.Key, now time.Time) int {
	best := -1
	for i, k := range ks {
		if canSign(k, now) && (best < 0 || signsBefore(k, ks[best])) {
			best = i
		}
	}
	return best
}

// pendingIndex returns the index of the newest key that is published but
// does not sign yet (a rotation in progress), or -1.
func pendingIndex(ks []storage.Key, now time.Time) int {
	best := -1
	for i, k := range ks {
		if k.SealedPrivateKey != "" && k.RevokedAt.IsZero() && k.State == storage.KeyNext &&
			k.ActivatesAt.After(now) && open(k, now) && (best < 0 || signsBefore(k, ks[best])) {
			best = i
		}
	}
	return best
}

// stateAt is the state of ks[i] at now, given the index of the signing key.
func stateAt(ks []storage.Key, i, signer int, now time.Time) storage.KeyState {
	k := ks[i]
	switch {
	case k.State == storage.KeyRetired || !k.RevokedAt.IsZero() || !open(k, now):
		return storage.KeyRetired
	case i == signer:
		return storage.KeyActive
	case k.SealedPrivateKey == "":
		// A registered (bring-your-own) public key: active for the backend
		// that holds its private half, until revoked.
		if k.State == storage.KeyVerifyOnly {
			return storage.KeyVerifyOnly
		}
		return storage.KeyActive
	case k.ActivatesAt.After(now) && k.State != storage.KeyVerifyOnly:
		// Not activated as of now: a next key stays next, and a key
		// written active by a caller whose clock was ahead of now (a
		// maintainer tick that started before the key was made) stays
		// active. Never demote it.
		return k.State
	}
	return storage.KeyVerifyOnly
}

// settle brings every key of ks to its state at now, in place, and reports
// whether anything changed. A key that is verify-only or retired never
// signs again: its sealed private half is erased. A key that becomes
// verify-only without an end gets one: the signing key's activation (or
// now) plus the app's longest token lifetime plus leeway.
func settle(app storage.App, ks []storage.Key, now time.Time, leeway time.Duration) bool {
	signer := signerIndex(ks, now)
	changed := false
	for i := range ks {
		want := stateAt(ks, i, signer, now)
		k := &ks[i]
		if (want == storage.KeyRetired || want == storage.KeyVerifyOnly) && k.SealedPrivateKey != "" {
			k.SealedPrivateKey = ""
			changed = true
		}
		if want == storage.KeyVerifyOnly && k.VerifyUntil.IsZero() {
			from := now
			if signer >= 0 {
				from = ks[signer].ActivatesAt
			}
			k.VerifyUntil = from.Add(app.MaxTokenTTL + leeway)
			changed = true
		}
		if k.State != want {
			k.State = want
			changed = true
		}
	}
	return changed
}

// replaceBy closes the verification window of every key of ks that signs or
// would sign before next, in place: such a key validates until next
// activates plus the app's longest token lifetime plus leeway (or less, if
// it already had an earlier end). Registered public keys are not touched:
// their owner retires them by revoking.
func replaceBy(app storage.App, ks []storage.Key, next storage.Key, leeway time.Duration) {
	until := next.ActivatesAt.Add(app.MaxTokenTTL + leeway)
	for i := range ks {
		k := &ks[i]
		if k.ID == next.ID || k.SealedPrivateKey == "" || !k.RevokedAt.IsZero() ||
			(k.State != storage.KeyActive && k.State != storage.KeyNext) {
			continue
		}
		if k.VerifyUntil.IsZero() || k.VerifyUntil.After(until) {
			k.VerifyUntil = until
		}
	}
}

// rotationDue reports whether the app's automatic rotation should make a
// new key at now: rotation is on, a key signs and has signed for at least
// the rotation period, and no rotation is already in progress.
func rotationDue(app storage.App, ks []storage.Key, now time.Time) bool {
	if app.KeyRotationPeriod <= 0 || pendingIndex(ks, now) >= 0 {
		return false
	}
	s := signerIndex(ks, now)
	return s >= 0 && !now.Before(ks[s].ActivatesAt.Add(app.KeyRotationPeriod))
}

// signingAlgorithm is the algorithm of the key that signs at now (or of the
// pending one), else the default.
func signingAlgorithm(ks []storage.Key, now time.Time) jose.SignatureAlgorithm {
	if i := signerIndex(ks, now); i >= 0 {
		return jose.SignatureAlgorithm(ks[i].Algorithm)
	}
	if i := pendingIndex(ks, now); i >= 0 {
		return jose.SignatureAlgorithm(ks[i].Algorithm)
	}
	return DefaultAlgorithm
}

// changedKeys returns the keys of after that differ from the key with the
// same id in before, or that before lacks.
func changedKeys(before, after []storage.Key) []storage.Key {
	old := make(map[string]storage.Key, len(before))
	for _, k := range before {
		old[k.ID] = k
	}
	var out []storage.Key
	for _, k := range after {
		if o, ok := old[k.ID]; !ok || !sameKey(o, k) {
			out = append(out, k)
		}
	}
	return out
}

// sameKey reports whether two key records are equal (times by instant).
func sameKey(a, b storage.Key) bool {
	return a.ID == b.ID && a.AppID == b.AppID && a.Algorithm == b.Algorithm && a.PublicJWK == b.PublicJWK &&
		a.SealedPrivateKey == b.SealedPrivateKey && a.State == b.State && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ActivatesAt.Equal(b.ActivatesAt) && a.VerifyUntil.Equal(b.VerifyUntil) && a.RevokedAt.Equal(b.RevokedAt)
}
