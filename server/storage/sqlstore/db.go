package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tokend/tokend/server/storage"
)

// DB runs statements: a backend's adapter over a transaction, a
// connection or a pool of its driver.
type DB interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a query; the caller closes the rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a query of at most one row. Scanning a query of no row
	// fails with an error that unwraps to sql.ErrNoRows (pgx.ErrNoRows
	// does).
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is one row to scan: a *sql.Row or a pgx.Row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is the result of a query: a *sql.Rows, or pgx.Rows adapted.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// queryAll runs a query on db and scans every row with scan.
func queryAll[T any](ctx context.Context, db DB, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// notFound maps the driver's "no rows" to storage.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// CallbackError carries the error of a caller's callback (the fn of
// UpdateApp or UpdateKeys) out of a transaction, so that the backend can
// return it as is rather than wrap it like its own errors. It unwraps to
// that error.
type CallbackError struct{ Err error }

func (e *CallbackError) Error() string { return e.Err.Error() }

// Unwrap returns the callback's error.
func (e *CallbackError) Unwrap() error { return e.Err }

// FromCallback returns the callback's error that err carries, if it does.
func FromCallback(err error) (error, bool) {
	if ce, ok := errors.AsType[*CallbackError](err); ok {
		return ce.Err, true
	}
	return nil, false
}
