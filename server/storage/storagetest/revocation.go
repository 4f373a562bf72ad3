package storagetest

import (
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var revocationTests = []test{
	{"AddList", testRevocationAddList},
	{"Replace", testRevocationReplace},
	{"AddConcurrent", testRevocationAddConcurrent},
	{"Sweep", testRevocationSweep},
}

func newRevocation(appID string, kind storage.RevocationKind, value string, expiresAt time.Time) storage.Revocation {
	return storage.Revocation{AppID: appID, Kind: kind, Value: value, RevokedAt: base, ExpiresAt: expiresAt, Reason: "test"}
}

func revocationKey(r storage.Revocation) string {
	return r.AppID + "\x00" + string(r.Kind) + "\x00" + r.Value
}

// checkRevocations fails the test unless ListRevocations(now) is want, in
// any order.
func checkRevocations(t *testing.T, s storage.Store, now time.Time, want ...storage.Revocation) {
	t.Helper()
	got, err := s.ListRevocations(t.Context(), now)
	must(t, "ListRevocations", err)
	check(t, "ListRevocations", sorted(got, revocationKey), sorted(want, revocationKey))
}

func testRevocationAddList(t *testing.T, s storage.Store) {
	now := base.Add(time.Hour)
	jti := newRevocation("app-1", storage.RevokeTokenID, "jti-1", now.Add(time.Hour))
	subject := newRevocation("app-1", storage.RevokeSubject, "alice", now.Add(2*time.Hour))
	sameValue := newRevocation("app-1", storage.RevokeSubject, "jti-1", now.Add(time.Hour)) // other kind
	otherApp := newRevocation("app-2", storage.RevokeTokenID, "jti-1", now.Add(time.Hour))
	expired := newRevocation("app-1", storage.RevokeTokenID, "jti-old", now.Add(-time.Second))
	expiringNow := newRevocation("app-1", storage.RevokeTokenID, "jti-now", now)
	must(t, "AddRevocations", s.AddRevocations(t.Context(), []storage.Revocation{jti, subject, sameValue, otherApp, expired, expiringNow}))
	must(t, "AddRevocations of none", s.AddRevocations(t.Context(), nil))

	checkRevocations(t, s, now, jti, subject, sameValue, otherApp)
	checkRevocations(t, s, base, jti, subject, sameValue, otherApp, expired, expiringNow)
}

// testRevocationReplace checks that an entry replaces a stored one for the
// same target only when it expires later.
func testRevocationReplace(t *testing.T, s storage.Store) {
	stored := newRevocation("app-1", storage.RevokeSubject, "alice", base.Add(time.Hour))
	for _, tc := range []struct {
		name     string
		expires  time.Time
		replaces bool
	}{
		{"later", base.Add(2 * time.Hour), true},
		{"same expiry", base.Add(time.Hour), false},
		{"earlier", base.Add(30 * time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := "app-" + tc.name // one target per row
			old := stored
			old.AppID = app
			must(t, "AddRevocations", s.AddRevocations(t.Context(), []storage.Revocation{old}))
			next := old
			next.RevokedAt, next.ExpiresAt, next.Reason = base.Add(time.Minute), tc.expires, "again"
			must(t, "AddRevocations", s.AddRevocations(t.Context(), []storage.Revocation{next}))
			want := old
			if tc.replaces {
				want = next
			}
			got, err := s.ListRevocations(t.Context(), base)
			must(t, "ListRevocations", err)
			var mine []storage.Revocation
			for _, r := range got {
				if r.AppID == app {
					mine = append(mine, r)
				}
			}
			check(t, "entries after the second add", mine, []storage.Revocation{want})
		})
	}
}

func testRevocationSweep(t *testing.T, s storage.Store) {
	now := base.Add(time.Hour)
	gone1 := newRevocation("app-1", storage.RevokeTokenID, "jti-1", now.Add(-time.Hour))
	gone2 := newRevocation("app-1", storage.RevokeTokenID, "jti-2", now.Add(-time.Microsecond))
	atNow := newRevocation("app-1", storage.RevokeTokenID, "jti-3", now) // not before now: kept
	live := newRevocation("app-1", storage.RevokeSubject, "alice", now.Add(time.Hour))
	must(t, "AddRevocations", s.AddRevocations(t.Context(), []storage.Revocation{gone1, gone2, atNow, live}))

	n, err := s.SweepRevocations(t.Context(), now)
	must(t, "SweepRevocations", err)
	if n != 2 {
		t.Errorf("SweepRevocations = %d, want 2", n)
	}
	checkRevocations(t, s, base, atNow, live)
	n, err = s.SweepRevocations(t.Context(), now)
	must(t, "SweepRevocations again", err)
	if n != 0 {
		t.Errorf("SweepRevocations again = %d, want 0", n)
	}
}
