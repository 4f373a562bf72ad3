package storage

import "context"

// ChangeKind says what a Change is about.
type ChangeKind int

// Change kinds.
const (
	// ChangeResync: anything may have changed, for example while the feed
	// was disconnected (notifications sent meanwhile are lost): reload
	// everything. A feed sends it after every (re)connection, the first
	// one included, and for a notification it cannot read.
	ChangeResync ChangeKind = iota + 1
	// ChangeApp: the record or the keys of the app AppID changed.
	ChangeApp
	// ChangeCaller: a caller (CallerID) or one of its API keys changed.
	ChangeCaller
	// ChangeRevocation: the denylist entry Revocation was stored (added,
	// or replaced by one expiring later). Its Reason is not carried.
	ChangeRevocation
	// ChangeRevocations: denylist entries were stored that did not fit in
	// a notification: reload the denylist.
	ChangeRevocations
	// ChangeDisconnected: the feed lost its connection (Err says why) and
	// is reconnecting; a ChangeResync follows once it is back. Until
	// then, changes made by other replicas go unseen.
	ChangeDisconnected
)

// String returns the kind's name, for logs.
func (k ChangeKind) String() string {
	switch k {
	case ChangeResync:
		return "resync"
	case ChangeApp:
		return "app"
	case ChangeCaller:
		return "caller"
	case ChangeRevocation:
		return "revocation"
	case ChangeRevocations:
		return "revocations"
	case ChangeDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// Change is one change of the store, made by this process or by another
// one sharing the store.
type Change struct {
	Kind       ChangeKind
	AppID      string     // ChangeApp
	CallerID   string     // ChangeCaller
	Revocation Revocation // ChangeRevocation
	Err        error      // ChangeDisconnected
}

// ChangeFeed is implemented by a store shared by several processes that
// can push its changes to each of them (PostgreSQL's LISTEN/NOTIFY), so
// that their in-memory copies of apps, keys, callers and the denylist
// follow the store without polling it. The embedded SQLite store, used by
// one process, does not implement it.
type ChangeFeed interface {
	// Changes returns the changes committed from now on, in commit order,
	// until ctx is done; then the channel is closed. The first value is a
	// ChangeResync once the feed is connected: a consumer reloads then,
	// since what changed before is not sent. The feed reconnects by
	// itself after losing its connection (sending ChangeDisconnected, then
	// ChangeResync). A consumer must keep reading: a slow one delays the
	// feed, it never drops a change.
	Changes(ctx context.Context) (<-chan Change, error)
}
