package refresh

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlite"
)

var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 500_000_000, time.UTC)

// openStore opens a real SQLite store in the test's temporary directory.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func byID(app, jti string, expires time.Time) storage.Revocation {
	return storage.Revocation{AppID: app, Kind: storage.RevokeTokenID, Value: jti, RevokedAt: t0, ExpiresAt: expires}
}

func bySubject(app, sub string, revoked, expires time.Time) storage.Revocation {
	return storage.Revocation{AppID: app, Kind: storage.RevokeSubject, Value: sub, RevokedAt: revoked, ExpiresAt: expires}
}

func TestDenylistRevoked(t *testing.T) {
	t.Parallel()
	d := NewDenylist()
	if d.Revoked("app-1", "jti-1", "alice", t0) {
		t.Fatal("an empty denylist revokes a token")
	}
	d.Add(byID("app-1", "jti-1", t0.Add(time.Hour)), bySubject("app-1", "alice", t0, t0.Add(time.Hour)))
	for _, tc := range []struct {
		name       string
		app, jti   string
		sub        string
		iat        time.Time
		wantRevoke bool
	}{
		{"listed jti", "app-1", "jti-1", "bob", t0.Add(time.Minute), true},
		{"listed jti in another app", "app-2", "jti-1", "bob", t0, false},
		{"other jti", "app-1", "jti-2", "bob", t0, false},
		{"subject, issued before the revocation", "app-1", "jti-2", "alice", t0.Add(-time.Hour), true},
		{"subject, issued in the same second", "app-1", "", "alice", t0.Truncate(time.Second), true},
		{"subject, issued after the revocation", "app-1", "jti-3", "alice", t0.Add(time.Second), false},
		{"subject in another app", "app-2", "jti-2", "alice", t0.Add(-time.Hour), false},
		{"no jti, other subject", "app-1", "", "bob", t0, false},
		{"jti equal to a revoked subject's name", "app-1", "alice", "bob", t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Revoked(tc.app, tc.jti, tc.sub, tc.iat); got != tc.wantRevoke {
				t.Errorf("Revoked(%q, %q, %q, %s) = %v, want %v", tc.app, tc.jti, tc.sub, tc.iat, got, tc.wantRevoke)
			}
		})
	}
}

// TestDenylistAddKeepsLaterExpiry mirrors the store: an entry for the same
// target replaces the held one only when it expires later.
func TestDenylistAddKeepsLaterExpiry(t *testing.T) {
	t.Parallel()
	d := NewDenylist()
	d.Add(bySubject("app-1", "alice", t0, t0.Add(2*time.Hour)))
	// A later revocation that expires earlier (the app's max TTL was
	// lowered) keeps the held entry: nothing it covered comes back.
	d.Add(bySubject("app-1", "alice", t0.Add(time.Hour), t0.Add(90*time.Minute)))
	if d.Revoked("app-1", "", "alice", t0.Add(30*time.Minute)) {
		t.Error("the earlier-expiring entry replaced the held one")
	}
	d.Add(bySubject("app-1", "alice", t0.Add(time.Hour), t0.Add(3*time.Hour)))
	if !d.Revoked("app-1", "", "alice", t0.Add(30*time.Minute)) {
		t.Error("the later-expiring entry did not replace the held one")
	}
	if d.Len() != 1 {
		t.Errorf("Len = %d, want 1", d.Len())
	}
}

func TestDenylistLoad(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	now := t0.Add(time.Hour)
	must(t, s.AddRevocations(t.Context(), []storage.Revocation{
		byID("app-1", "live", now.Add(time.Minute)),
		byID("app-1", "expired", now.Add(-time.Minute)),
		bySubject("app-1", "alice", t0, now.Add(time.Minute)),
	}))
	d := NewDenylist()
	d.Add(byID("app-1", "stale", now.Add(time.Hour))) // replaced by the load
	must(t, d.Load(t.Context(), s, now))
	for _, tc := range []struct {
		jti, sub string
		want     bool
	}{
		{"live", "bob", true},
		{"expired", "bob", false},
		{"stale", "bob", false},
		{"other", "alice", true},
	} {
		if got := d.Revoked("app-1", tc.jti, tc.sub, t0); got != tc.want {
			t.Errorf("after Load: Revoked(jti %q, sub %q) = %v, want %v", tc.jti, tc.sub, got, tc.want)
		}
	}
	if d.Len() != 2 {
		t.Errorf("Len = %d, want 2", d.Len())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDenylistRevoked measures the denylist's share of ValidateToken:
// empty (the common case) and holding many entries.
func BenchmarkDenylistRevoked(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		d := NewDenylist()
		rs := make([]storage.Revocation, 0, n)
		for i := range n {
			rs = append(rs, byID("app-1", fmt.Sprintf("jti-%d", i), t0.Add(time.Hour)))
		}
		if n > 0 {
			rs = append(rs, bySubject("app-1", "alice", t0, t0.Add(time.Hour)))
		}
		d.Add(rs...)
		b.Run(fmt.Sprintf("entries=%d", d.Len()), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if d.Revoked("app-1", "not-listed", "bob", t0) {
						b.Fatal("revoked")
					}
				}
			})
		})
	}
}
