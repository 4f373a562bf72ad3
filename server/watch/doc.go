// Package watch is the in-process hub of changes that WatchKeys streams
// follow: which apps changed (policy or keys) and which access tokens were
// revoked. Producers call Publish, the single entry point (the key
// Registry and the Denylist of this process today; changes of other
// replicas later); every change gets the next version of a monotonic
// counter and is kept in a bounded ring of recent changes. Subscribers read
// the ring from the version they hold, so a reconnecting client resumes
// without a full snapshot while the ring still holds what it missed.
//
// Publishing never waits for a subscriber: a subscriber that falls further
// behind than the ring is told so (ErrLagged) and starts over from a
// snapshot.
//
// It depends on storage (the revocation record) only; it imports neither
// gRPC nor gen/.
package watch
