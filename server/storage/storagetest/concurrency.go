package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// testRefreshRotateRevokeRace races a rotation against the revocation of
// its family, by family and by subject. Either the rotation commits first,
// and its next token is among the tokens the revocation returns (so that
// the access token issued with it can be deny-listed) and is revoked; or
// the revocation commits first, and the rotation fails with ErrConflict
// without storing anything. No token of the family stays usable.
func testRefreshRotateRevokeRace(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, by := range []string{"family", "subject"} {
		t.Run(by, func(t *testing.T) {
			const rounds = 16
			won := 0
			for i := range rounds {
				name := fmt.Sprintf("%s-%02d", by, i)
				old := newRefresh(name+"-old", "fam-"+name, "app-1", "subject-"+name)
				must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
				next := newRefresh(name+"-next", old.FamilyID, old.AppID, old.Subject)

				var (
					rotErr, revErr error
					revoked        []storage.RefreshToken
					wg             sync.WaitGroup
				)
				start := make(chan struct{})
				wg.Go(func() {
					<-start
					_, rotErr = s.RotateRefreshToken(ctx, old.Hash, base.Add(time.Minute), "", nil, next)
				})
				wg.Go(func() {
					<-start
					at := base.Add(time.Minute)
					if by == "family" {
						revoked, revErr = s.RevokeFamily(ctx, old.FamilyID, at)
					} else {
						revoked, revErr = s.RevokeSubjectFamilies(ctx, old.AppID, old.Subject, at)
					}
				})
				close(start)
				wg.Wait()
				must(t, "revocation", revErr)

				hashes := make([]string, 0, len(revoked))
				for _, r := range revoked {
					hashes = append(hashes, r.Hash)
				}
				switch {
				case rotErr == nil:
					won++
					if !slices.Contains(hashes, next.Hash) {
						t.Errorf("round %d: the rotation succeeded but the revocation returned %v, without its next token", i, hashes)
					}
					got, err := s.GetRefreshToken(ctx, next.Hash)
					if err != nil || got.RevokedAt.IsZero() {
						t.Errorf("round %d: next token after the race: %+v, %v; want it revoked", i, got, err)
					}
				case errors.Is(rotErr, storage.ErrConflict):
					checkNoRefresh(t, s, fmt.Sprintf("round %d: next token of the refused rotation", i), next.Hash)
				default:
					t.Errorf("round %d: rotation error = %v, want nil or ErrConflict", i, rotErr)
				}
				if got, err := s.GetRefreshToken(ctx, old.Hash); err != nil || got.RevokedAt.IsZero() {
					t.Errorf("round %d: old token after the race: %+v, %v; want it revoked", i, got, err)
				}
			}
			t.Logf("%d of %d rotations committed before the revocation", won, rounds)
		})
	}
}

// testRevocationAddConcurrent adds entries for one target concurrently:
// the one that expires last is kept, whatever the order of the writes.
func testRevocationAddConcurrent(t *testing.T, s storage.Store) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := newRevocation("app-1", storage.RevokeSubject, "alice", base.Add(time.Duration(i+1)*time.Hour))
			r.RevokedAt = base.Add(time.Duration(i) * time.Minute)
			errs[i] = s.AddRevocations(t.Context(), []storage.Revocation{r})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		must(t, fmt.Sprintf("AddRevocations %d", i), err)
	}
	want := newRevocation("app-1", storage.RevokeSubject, "alice", base.Add(n*time.Hour))
	want.RevokedAt = base.Add((n - 1) * time.Minute)
	checkRevocations(t, s, base, want)
}
