package keys

import "github.com/tokend/tokend/server/token"

var _ token.Generational = (*Registry)(nil)

// Generation returns a number that grows with every change of the
// registry's apps or keys (each new snapshot). The validation cache
// (token.WithCache) keeps a verdict only while the generation it was
// reached under is current, so that a revoked or rotated key, a disabled
// app or a changed policy applies to cached tokens at once.
func (r *Registry) Generation() uint64 { return r.snap.Load().gen }
