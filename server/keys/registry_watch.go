package keys

import (
	"sort"
	"time"

	"github.com/tokend/tokend/server/token"
)

// OnChange makes the registry call fn with the ids of the apps whose
// record or keys changed, after every change (PutApp, PutKeys,
// PutAppIfNewer when it changed something, Load), once readers already see
// it. fn runs while the registry's writers are held, so that changes are
// reported in the order they were made: it must be quick, must not block,
// and must not write to the registry (reading is fine). A watch hub's
// Publish fits. A later call replaces fn; nil removes it.
func (r *Registry) OnChange(fn func(appIDs []string)) {
	if fn == nil {
		r.onChange.Store(nil)
		return
	}
	r.onChange.Store(&fn)
}

// changed reports ids to the OnChange function; r.mu is held.
func (r *Registry) changed(ids ...string) {
	if fn := r.onChange.Load(); fn != nil && len(ids) > 0 {
		(*fn)(ids)
	}
}

// loadedIDs are the apps a Load may have changed: every app held before or
// after it (an app only in old is gone), sorted.
func loadedIDs(old, next *snapshot) []string {
	ids := make([]string, 0, len(next.apps))
	for id := range next.apps {
		ids = append(ids, id)
	}
	for id := range old.apps {
		if _, ok := next.apps[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// AppKeySet is what a validator outside this process needs of an app: its
// policy and the public keys that validate its tokens, read from one
// snapshot of the registry.
type AppKeySet struct {
	Policy token.AppPolicy
	// JWKS is the app's JSON Web Key Set at the time asked (as JWKS).
	JWKS []byte
	// VerifyUntil holds, by kid, when each key of JWKS that has an end
	// stops validating.
	VerifyUntil map[string]time.Time
}

// KeySet returns the policy and keys of an app at now; false when the app
// is unknown.
func (r *Registry) KeySet(appID string, now time.Time) (AppKeySet, bool) {
	s := r.snap.Load()
	e, ok := s.apps[appID]
	if !ok {
		return AppKeySet{}, false
	}
	out := AppKeySet{Policy: e.policy, JWKS: s.jwks([]string{appID}, now), VerifyUntil: map[string]time.Time{}}
	for _, k := range e.keys {
		if vu := k.rec.VerifyUntil; !vu.IsZero() && now.Before(vu) {
			out.VerifyUntil[k.rec.ID] = vu
		}
	}
	return out, true
}
