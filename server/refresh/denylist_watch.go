package refresh

import (
	"github.com/tokend/tokend/server/storage"
)

// OnAdd makes the denylist call fn with the entries of every Add, after
// validation already refuses their tokens (not for Load, which runs at
// start). fn must be quick and must not block; a watch hub's Publish fits.
// A later call replaces fn; nil removes it.
func (d *Denylist) OnAdd(fn func([]storage.Revocation)) {
	if fn == nil {
		d.onAdd.Store(nil)
		return
	}
	d.onAdd.Store(&fn)
}

func (d *Denylist) added(rs []storage.Revocation) {
	if fn := d.onAdd.Load(); fn != nil {
		(*fn)(rs)
	}
}

// Entries returns the entries held for the apps that keep accepts (every
// app when keep is nil), without their free-text reason. Their order is
// unspecified.
func (d *Denylist) Entries(keep func(appID string) bool) []storage.Revocation {
	if d.n.Load() == 0 {
		return nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]storage.Revocation, 0, len(d.ids)+len(d.subjects))
	add := func(kind storage.RevocationKind, m map[entryKey]subjectEntry) {
		for k, e := range m {
			if keep == nil || keep(k.app) {
				out = append(out, storage.Revocation{
					AppID: k.app, Kind: kind, Value: k.value, RevokedAt: e.revokedAt, ExpiresAt: e.expiresAt,
				})
			}
		}
	}
	add(storage.RevokeTokenID, d.ids)
	add(storage.RevokeSubject, d.subjects)
	return out
}
