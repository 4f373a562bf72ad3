package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/server/storage/sqlstore"
)

// querier is a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// conn adapts a querier to sqlstore.DB.
type conn struct{ q querier }

var _ sqlstore.DB = conn{}

// Exec runs a statement and returns how many rows it changed.
func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// Query runs a query.
func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

// QueryRow runs a query of one row.
func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, query, args...)
}

// pgRows is pgx.Rows as sqlstore.Rows.
type pgRows struct{ pgx.Rows }

// Close closes the rows; their error is Err's.
func (r pgRows) Close() error {
	r.Rows.Close()
	return nil
}
