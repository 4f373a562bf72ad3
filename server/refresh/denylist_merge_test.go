package refresh

import (
	"slices"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

func TestDenylistMerge(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	byID := storage.Revocation{AppID: "app", Kind: storage.RevokeTokenID, Value: "jti", RevokedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	bySubject := storage.Revocation{AppID: "app", Kind: storage.RevokeSubject, Value: "alice", RevokedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	later := byID
	later.ExpiresAt = t0.Add(2 * time.Hour)
	earlier := bySubject
	earlier.ExpiresAt = t0.Add(time.Minute)
	unknown := storage.Revocation{AppID: "app", Kind: "family", Value: "f", ExpiresAt: t0.Add(time.Hour)}

	d := NewDenylist()
	var reported []storage.Revocation
	d.OnAdd(func(rs []storage.Revocation) { reported = append(reported, rs...) })
	for _, tc := range []struct {
		name string
		in   []storage.Revocation
		want []storage.Revocation
	}{
		{"new entries", []storage.Revocation{byID, bySubject}, []storage.Revocation{byID, bySubject}},
		{"the same again", []storage.Revocation{byID, bySubject}, nil},
		{"expiring later replaces", []storage.Revocation{later}, []storage.Revocation{later}},
		{"expiring earlier changes nothing", []storage.Revocation{earlier}, nil},
		{"unknown kind is ignored", []storage.Revocation{unknown}, nil},
		{"nothing", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reported = nil
			got := d.Merge(tc.in...)
			if !slices.Equal(got, tc.want) || !slices.Equal(reported, tc.want) {
				t.Errorf("Merge = %v, OnAdd told %v; want %v for both", got, reported, tc.want)
			}
		})
	}
	if d.Len() != 2 {
		t.Errorf("Len = %d, want 2", d.Len())
	}
	if !d.Revoked("app", "jti", "bob", t0) || !d.Revoked("app", "", "alice", t0) {
		t.Error("the merged entries do not revoke")
	}
	// The entry kept its later expiry: a sweep after the first one's
	// expiry keeps it.
	d.Sweep(t0.Add(90 * time.Minute))
	if !d.Revoked("app", "jti", "", t0) {
		t.Error("the later entry was swept at the earlier one's expiry")
	}
}
