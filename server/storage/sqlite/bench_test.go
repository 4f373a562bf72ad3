package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// The hot paths of the store: IssueToken with a refresh token
// (CreateRefreshToken), RefreshToken (RotateRefreshToken) and the read of
// a refresh token.

func BenchmarkCreateRefreshToken(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if err := s.CreateRefreshToken(ctx, refreshRecord(fmt.Sprint("c", i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	if err := s.CreateRefreshToken(ctx, refreshRecord("r0")); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		next := refreshRecord(fmt.Sprint("r", i+1))
		next.FamilyID = "fam-r0"
		if _, err := s.RotateRefreshToken(ctx, fmt.Sprint("r", i), t0.Add(time.Minute), "idem", []byte("replay"), next); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRotateRefreshTokenParallel rotates one chain per goroutine:
// concurrent writes share commits (group commit).
func BenchmarkRotateRefreshTokenParallel(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	var chains atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		c := chains.Add(1)
		hash := func(i int) string { return fmt.Sprintf("p%d-%d", c, i) }
		if err := s.CreateRefreshToken(ctx, refreshRecord(hash(0))); err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			if _, err := s.RotateRefreshToken(ctx, hash(i), t0.Add(time.Minute), "", nil, refreshRecord(hash(i+1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGetRefreshToken(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	if err := s.CreateRefreshToken(ctx, refreshRecord("g")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetRefreshToken(ctx, "g"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
