package refresh

import "github.com/tokend/tokend/server/storage"

// Merge adds the entries that change the denylist (a target not held, or
// an entry expiring later than the one held) and returns them; the OnAdd
// function is told of those only. Replicas sharing a store apply with it
// the revocations that any of them stored, their own included: an entry
// this process already added changes nothing and is not reported again.
func (d *Denylist) Merge(rs ...storage.Revocation) []storage.Revocation {
	if len(rs) == 0 {
		return nil
	}
	d.mu.Lock()
	var added []storage.Revocation
	for _, r := range rs {
		var held map[entryKey]subjectEntry
		switch r.Kind {
		case storage.RevokeTokenID:
			held = d.ids
		case storage.RevokeSubject:
			held = d.subjects
		default:
			continue
		}
		if old, ok := held[entryKey{r.AppID, r.Value}]; ok && !r.ExpiresAt.After(old.expiresAt) {
			continue
		}
		added = append(added, r)
	}
	d.addLocked(added)
	d.mu.Unlock()
	if len(added) > 0 {
		d.added(added)
	}
	return added
}
