package refresh

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// Denylist is the in-memory copy of the access token denylist that
// validation reads on every call, so that ValidateToken pays no store round
// trip for revocation. It is loaded from the store at start and updated
// synchronously by every revocation made in this process: within one
// process it is never stale. It is safe for concurrent use.
type Denylist struct {
	// n counts the entries, so that Revoked returns without locking while
	// nothing is revoked (the common case on the hot path).
	n atomic.Int64

	mu       sync.RWMutex
	ids      map[entryKey]subjectEntry // app+jti -> the entry's times
	subjects map[entryKey]subjectEntry

	onAdd atomic.Pointer[func([]storage.Revocation)] // see OnAdd
}

var _ token.Denylist = (*Denylist)(nil)

type entryKey struct{ app, value string }

type subjectEntry struct {
	revokedAt, expiresAt time.Time
}

// NewDenylist returns an empty Denylist.
func NewDenylist() *Denylist {
	return &Denylist{ids: map[entryKey]subjectEntry{}, subjects: map[entryKey]subjectEntry{}}
}

// RevocationLister is what Load reads.
type RevocationLister interface {
	ListRevocations(ctx context.Context, now time.Time) ([]storage.Revocation, error)
}

// Load replaces the content with the store's entries that are live at now.
func (d *Denylist) Load(ctx context.Context, src RevocationLister, now time.Time) error {
	rs, err := src.ListRevocations(ctx, now)
	if err != nil {
		return fmt.Errorf("refresh: load denylist: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids, d.subjects = map[entryKey]subjectEntry{}, map[entryKey]subjectEntry{}
	d.addLocked(rs)
	return nil
}

// Add adds entries. Like the store, an entry replaces one for the same
// target only when it expires later.
func (d *Denylist) Add(rs ...storage.Revocation) {
	if len(rs) == 0 {
		return
	}
	d.mu.Lock()
	d.addLocked(rs)
	d.mu.Unlock()
	d.added(rs)
}

func (d *Denylist) addLocked(rs []storage.Revocation) {
	for _, r := range rs {
		k := entryKey{r.AppID, r.Value}
		switch r.Kind {
		case storage.RevokeTokenID:
			if old, ok := d.ids[k]; !ok || r.ExpiresAt.After(old.expiresAt) {
				d.ids[k] = subjectEntry{revokedAt: r.RevokedAt, expiresAt: r.ExpiresAt}
			}
		case storage.RevokeSubject:
			if old, ok := d.subjects[k]; !ok || r.ExpiresAt.After(old.expiresAt) {
				d.subjects[k] = subjectEntry{revokedAt: r.RevokedAt, expiresAt: r.ExpiresAt}
			}
		}
	}
	d.n.Store(int64(len(d.ids) + len(d.subjects)))
}

// Revoked reports whether the access token of app appID with jti tokenID
// (possibly empty) and subject, issued at issuedAt, is revoked: its jti is
// listed, or its subject was revoked at or after issuedAt. iat is whole
// seconds, so a token issued in the same second as a subject revocation
// counts as revoked.
func (d *Denylist) Revoked(appID, tokenID, subject string, issuedAt time.Time) bool {
	if d.n.Load() == 0 {
		return false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if tokenID != "" {
		if _, ok := d.ids[entryKey{appID, tokenID}]; ok {
			return true
		}
	}
	if e, ok := d.subjects[entryKey{appID, subject}]; ok && !issuedAt.After(e.revokedAt) {
		return true
	}
	return false
}

// Sweep forgets the entries that expired before now (every token they
// cover has expired) and returns how many.
func (d *Denylist) Sweep(now time.Time) int {
	if d.n.Load() == 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for k, e := range d.ids {
		if e.expiresAt.Before(now) {
			delete(d.ids, k)
			n++
		}
	}
	for k, e := range d.subjects {
		if e.expiresAt.Before(now) {
			delete(d.subjects, k)
			n++
		}
	}
	d.n.Store(int64(len(d.ids) + len(d.subjects)))
	return n
}

// Len returns the number of entries.
func (d *Denylist) Len() int { return int(d.n.Load()) }
