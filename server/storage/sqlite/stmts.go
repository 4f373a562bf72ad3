package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/tokend/tokend/server/storage/sqlstore"
)

// Prepared statements.
//
// database/sql with the driver prepares (parses and plans) the SQL text
// of every QueryContext and ExecContext on a *sql.DB or *sql.Tx anew: a
// third of the CPU of a RefreshToken on the development machine went to
// SQLite's parser. The Store instead runs its queries through statements
// prepared once per connection and kept (database/sql keeps a prepared
// statement per connection; the Store's connections live as long as it
// does). Queries are constant SQL texts (of this package and of
// sqlstore), so the cache
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

// wtx is a write transaction of the writer, as a sqlstore.DB: a *sql.Tx
// whose statements run through the write pool's prepared statements. With
// no stmts (migrations), they run unprepared.
type wtx struct {
	tx    *sql.Tx
	stmts *stmtCache
}

var _ sqlstore.DB = (*wtx)(nil)

func (t *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	st := t.stmts.get(query)
	if st == nil {
		t.stmts.want(query)
		return nil
	}
	return t.tx.StmtContext(ctx, st) // the connection's prepared statement, closed with the transaction
}

// Exec runs a statement in the transaction.
func (t *wtx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if st := t.stmt(ctx, query); st != nil {
		return rowsAffected(st.ExecContext(ctx, args...))
	}
	return rowsAffected(t.tx.ExecContext(ctx, query, args...))
}

// Query runs a query in the transaction.
func (t *wtx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return asRows(st.QueryContext(ctx, args...))
	}
	return asRows(t.tx.QueryContext(ctx, query, args...))
}

// QueryRow runs a query of one row in the transaction.
func (t *wtx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// readDB is the read pool, as a sqlstore.DB whose statements run through
// prepared statements.
type readDB struct {
	*sql.DB
	stmts *stmtCache
}

var _ sqlstore.DB = (*readDB)(nil)

func newReadDB(db *sql.DB) *readDB { return &readDB{DB: db, stmts: newStmtCache(db)} }

// Exec runs a statement (the pool is read-only: a statement that writes
// fails).
func (r *readDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if st := r.stmts.prepare(ctx, query); st != nil {
		return rowsAffected(st.ExecContext(ctx, args...))
	}
	return rowsAffected(r.DB.ExecContext(ctx, query, args...))
}

// Query runs a query.
func (r *readDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if st := r.stmts.prepare(ctx, query); st != nil {
		return asRows(st.QueryContext(ctx, args...))
	}
	return asRows(r.DB.QueryContext(ctx, query, args...))
}

// QueryRow runs a query of one row.
func (r *readDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if st := r.stmts.prepare(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.DB.QueryRowContext(ctx, query, args...)
}

// rowsAffected returns what an Exec returns.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// asRows returns what a Query returns (never a nil *sql.Rows in a non-nil
// interface).
func asRows(rows *sql.Rows, err error) (sqlstore.Rows, error) {
	if err != nil {
		return nil, err
	}
	return rows, nil
}
