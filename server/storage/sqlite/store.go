package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlstore"
)

var _ storage.Store = (*Store)(nil)

// Store is a storage.Store in one SQLite file. It is safe for concurrent
// use, and several Stores, in one process or several, may share the file.
//
// The functions given to UpdateApp and UpdateKeys run inside the write
// transaction: they may read from the Store but must not write to it.
type Store struct {
	w      *sql.DB // one connection: every write, in BEGIN IMMEDIATE transactions
	r      *readDB // read-only connections, with prepared statements (stmts.go)
	writer *writer // group commit on w (writer.go)
	closed atomic.Bool
}

// busyTimeout is how long a connection waits for a lock held by another
// connection (another Store on the file) before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Open opens the database file at path, creating it if needed, and applies
// the migrations it lacks.
//
// The file is in WAL mode with synchronous=FULL: a transaction is on disk
// (the WAL is fsynced) before its commit returns, so a rotated refresh token
// handed to a client survives a crash right after. NORMAL would be faster
// but can lose the last commits on power loss. Concurrent writes share
// commits (group commit, writer.go), so the fsync bounds the rate of
// transactions, not of writes.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	common := url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
		"_foreign_keys": {"on"},
	}

	wq := maps.Clone(common)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	// BEGIN IMMEDIATE takes the write lock at once. A transaction that read
	// first and wrote later (DEFERRED) could find that another connection
	// wrote in between, and fail with SQLITE_BUSY without waiting; taking
	// the lock first means SQLite always waits up to busyTimeout instead,
	// so transactions need no retry loop.
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", dsn(abs, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// One write connection: writers of this process queue in database/sql
	// rather than in SQLite's busy handler, and the connection (with its
	// pragmas) is kept for the life of the Store.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := retryBusy(ctx, func() error { return migrate(ctx, w, schema()) }); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: migrate: %w", path, err)
	}

	rq := maps.Clone(common)
	rq.Set("_query_only", "on")
	r, err := sql.Open("sqlite", dsn(abs, rq))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return &Store{w: w, r: newReadDB(r), writer: newWriter(w, defaultMaxBatch)}, nil
}

// retryBusy calls f again while it fails with SQLITE_BUSY, for about a
// second. SQLite waits busy_timeout for locks, except in a few cases where
// waiting could deadlock; one of them is PRAGMA journal_mode=WAL, which the
// first connection of a Store runs, and which fails at once when another
// process is opening a new file at the same time.
func retryBusy(ctx context.Context, f func() error) error {
	for delay := 5 * time.Millisecond; ; delay *= 2 {
		err := f()
		if !isBusy(err) || delay > time.Second {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// dsn returns a file: URI for the driver, so that any byte of path is safe.
func dsn(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Ping reports whether both connection pools work.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: ping: %w", storage.ErrUnavailable)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return s.wrap(err, "ping")
	}
	if err := s.r.PingContext(ctx); err != nil {
		return s.wrap(err, "ping")
	}
	return nil
}

// Close closes the database. Calls after the first do nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.writer.close()
	if err := errors.Join(s.r.stmts.close(), s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// write runs fn in a BEGIN IMMEDIATE transaction on the write connection,
// possibly shared with other writes (group commit, writer.go), and returns
// once that transaction committed. fn must use the ctx it is given.
func (s *Store) write(ctx context.Context, fn writeFunc) error {
	return s.writer.write(ctx, fn)
}

// inTx runs fn in a transaction of db and commits it, or rolls it back when
// fn fails.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one that matters
		return err
	}
	return tx.Commit()
}

// wrap adds context to err and maps driver errors to the storage sentinels.
// The error of a caller's callback is returned as is.
func (s *Store) wrap(err error, format string, args ...any) error {
	if fnErr, ok := sqlstore.FromCallback(err); ok {
		return fnErr
	}
	return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), s.classify(err))
}

func (s *Store) classify(err error) error {
	switch {
	case hasCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) || hasCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		return fmt.Errorf("%w (%w)", storage.ErrAlreadyExists, err)
	case isBusy(err):
		// Another connection held the lock for longer than busyTimeout.
		return fmt.Errorf("%w (%w)", storage.ErrUnavailable, err)
	case s.closed.Load() && !errors.Is(err, storage.ErrUnavailable):
		return fmt.Errorf("%w (%w)", storage.ErrUnavailable, err)
	}
	return err
}

// hasCode reports whether err is an SQLite error with the extended code.
func hasCode(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED, of any
// extended code.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
}
