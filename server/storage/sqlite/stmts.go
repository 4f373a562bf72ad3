package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Prepared statements.
//
// database/sql with the driver prepares (parses and plans) the SQL text
// of every QueryContext and ExecContext on a *sql.DB or *sql.Tx anew: a
// third of the CPU of a RefreshToken on the development machine went to
// SQLite's parser. The Store instead runs its queries through statements
// prepared once per connection and kept (database/sql keeps a prepared
// statement per connection; the Store's connections live as long as it
// does). Queries are the constant SQL texts of this package, so the cache
// stays small; it is bounded anyway, and a text past the bound runs
// unprepared as before.

// maxStatements bounds each cache.
const maxStatements = 128

// stmtCache holds the prepared statements of one *sql.DB by SQL text.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
	// wanted are texts seen but not prepared yet. The write pool has one
	// connection, held by the writer's transaction while the texts are
	// seen: preparing on the *sql.DB then would wait for it forever, so
	// the writer prepares them between batches (prepareWanted).
	wanted map[string]struct{}
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]struct{}{}}
}

func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	return st
}

// want records query for prepareWanted.
func (c *stmtCache) want(query string) {
	c.mu.Lock()
	if len(c.m)+len(c.wanted) < maxStatements {
		c.wanted[query] = struct{}{}
	}
	c.mu.Unlock()
}

// prepareWanted prepares the wanted texts; the pool must have a free
// connection (the writer calls it between transactions). A text that
// fails to prepare is dropped: it keeps running unprepared.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.wanted {
		delete(c.wanted, q)
		if st, err := c.db.PrepareContext(ctx, q); err == nil {
			c.m[q] = st
		}
	}
}

// prepare returns the statement of query, preparing it now if needed
// (read pool only: it may wait for a free connection). nil when the cache
// is full or the text does not prepare.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	if st := c.get(query); st != nil {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil {
		return st
	}
	if len(c.m) >= maxStatements {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // let the query itself report the error
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// wtx is a write transaction of the writer: a *sql.Tx whose queries run
// through the write pool's prepared statements.
type wtx struct {
	*sql.Tx
	stmts *stmtCache
}

func (t *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	st := t.stmts.get(query)
	if st == nil {
		t.stmts.want(query)
		return nil
	}
	return t.Tx.StmtContext(ctx, st) // the connection's prepared statement, closed with the transaction
}

// ExecContext runs query with args in the transaction.
func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query with args in the transaction.
func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query with args in the transaction.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// readDB is the read pool, whose queries run through prepared statements.
type readDB struct {
	*sql.DB
	stmts *stmtCache
}

func newReadDB(db *sql.DB) *readDB { return &readDB{DB: db, stmts: newStmtCache(db)} }

// QueryContext runs query with args.
func (r *readDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.stmts.prepare(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query with args.
func (r *readDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.stmts.prepare(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.DB.QueryRowContext(ctx, query, args...)
}
