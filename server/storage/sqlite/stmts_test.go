package sqlite

import (
	"fmt"
	"testing"
)

// TestStatementsPrepared: after a write and a read, their SQL texts run
// through prepared statements, on both pools.
func TestStatementsPrepared(t *testing.T) {
	s := groupStore(t)
	ctx := t.Context()
	for i := range 3 {
		if err := s.CreateRefreshToken(ctx, refreshRecord(fmt.Sprintf("p%d", i))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRefreshToken(ctx, fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	count := func(c *stmtCache) int {
		c.mu.RLock()
		defer c.mu.RUnlock()
		return len(c.m)
	}
	if count(s.writer.stmts) == 0 {
		t.Error("no statement of the write pool is prepared after three writes")
	}
	if count(s.r.stmts) == 0 {
		t.Error("no statement of the read pool is prepared after three reads")
	}
}

// TestStatementCacheBound: the caches hold at most maxStatements texts;
// texts past the bound still run, unprepared.
func TestStatementCacheBound(t *testing.T) {
	s := groupStore(t)
	ctx := t.Context()
	for i := range maxStatements + 20 {
		var n int
		if err := s.r.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d = %d, %v", i, n, err)
		}
		s.writer.stmts.want(fmt.Sprintf("SELECT %d", i))
	}
	s.writer.stmts.prepareWanted(ctx)
	for name, c := range map[string]*stmtCache{"read": s.r.stmts, "write": s.writer.stmts} {
		if len(c.m) > maxStatements {
			t.Errorf("%s cache holds %d statements, bound %d", name, len(c.m), maxStatements)
		}
	}
}
