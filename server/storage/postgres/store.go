package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlstore"
)

var _ storage.Store = (*Store)(nil)

// Store is a storage.Store in a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores, in one process or in several
// replicas, may share the database.
//
// The functions given to UpdateApp and UpdateKeys run inside the
// transaction, possibly more than once (see the package doc): they may read
// from the Store but must not write to it.
type Store struct {
	pool   *pgxpool.Pool
	db     conn // the pool as a sqlstore.DB
	closed atomic.Bool

	// The change feeds (feed.go): Close stops them and waits for them.
	feedMu sync.Mutex // guards feeds.Add against Close
	feeds  sync.WaitGroup
	done   chan struct{} // closed by Close
}

// IsDSN reports whether s names a PostgreSQL store: a postgres:// or
// postgresql:// URL.
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// HasPassword reports whether a postgres:// URL carries a password, in its
// user info or as a password parameter. One that cannot be parsed counts as
// having one.
func HasPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return true
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	return u.Query().Has("password")
}

// Open connects to the database of dsn (a postgres:// URL or a key=value
// connection string; the password may also come from PGPASSWORD or a
// .pgpass file, as with libpq) and applies the migrations it lacks.
// Connections are made lazily; Open fails when the server cannot be reached,
// with an error that unwraps to storage.ErrUnavailable.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors redact the password.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool, db: conn{pool}, done: make(chan struct{})}
	if err := migrate(ctx, pool, schema()); err != nil {
		pool.Close()
		return nil, s.wrap(err, "open: migrate")
	}
	return s, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: ping: %w", storage.ErrUnavailable)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return s.wrap(err, "ping")
	}
	return nil
}

// Close stops the change feeds, then closes the pool, waiting for
// connections in use to be returned. Calls after the first do nothing.
func (s *Store) Close() error {
	s.feedMu.Lock()
	if s.closed.Swap(true) {
		s.feedMu.Unlock()
		return nil
	}
	close(s.done)
	s.feedMu.Unlock()
	s.feeds.Wait()
	s.pool.Close()
	return nil
}

// maxAttempts bounds how often tx runs a transaction that PostgreSQL
// aborted for a deadlock or a serialization failure.
const maxAttempts = 3

// tx runs fn in a READ COMMITTED transaction and commits it, or rolls it
// back when fn fails. A transaction aborted to break a deadlock or a
// serialization conflict runs again, up to maxAttempts times.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		if attempt >= maxAttempts || !retryable(err) {
			return err
		}
	}
}

// retryable reports whether err aborted a transaction that can simply run
// again: deadlock_detected or serialization_failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// wrap adds context to err and maps driver errors to the storage sentinels.
// The error of a caller's callback is returned as is.
func (s *Store) wrap(err error, format string, args ...any) error {
	if fnErr, ok := sqlstore.FromCallback(err); ok {
		return fnErr
	}
	return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), s.classify(err))
}

func (s *Store) classify(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrAlreadyExists),
		errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrRefreshUsed),
		errors.Is(err, storage.ErrUnavailable):
		return err
	case hasCode(err, "23505"): // unique_violation
		return fmt.Errorf("%w (%w)", storage.ErrAlreadyExists, err)
	case unavailable(err) || s.closed.Load():
		return fmt.Errorf("%w (%w)", storage.ErrUnavailable, err)
	}
	return err
}

// hasCode reports whether err is a PostgreSQL error with that SQLSTATE.
func hasCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// unavailable reports whether err means that the server cannot be reached
// or cannot serve now, rather than that the request was wrong: a failed or
// broken connection, an administrator or crash shutdown, a server starting
// up or out of connections. A failed connection attempt counts even when
// it timed out (connect_timeout); otherwise a canceled or expired context
// is the caller's, not the server's, and is left alone.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection_exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case pe.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err)
}
