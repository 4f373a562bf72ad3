package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/server/storage"
)

// TestClassify checks how driver errors map to the storage sentinels; it
// needs no database.
func TestClassify(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: neither ErrAlreadyExists nor ErrUnavailable
	}{
		{"unique violation", pg("23505"), storage.ErrAlreadyExists},
		{"connection failure", pg("08006"), storage.ErrUnavailable},
		{"admin shutdown", pg("57P01"), storage.ErrUnavailable},
		{"crash shutdown", pg("57P02"), storage.ErrUnavailable},
		{"starting up", pg("57P03"), storage.ErrUnavailable},
		{"too many connections", pg("53300"), storage.ErrUnavailable},
		{"connect failed", &pgconn.ConnectError{}, storage.ErrUnavailable},
		{"broken connection", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), storage.ErrUnavailable},
		{"closed connection", pgconn.ErrConnClosed, storage.ErrUnavailable},
		{"foreign key violation", pg("23503"), nil},
		{"undefined table", pg("42P01"), nil},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), nil},
		{"sentinel kept", fmt.Errorf("x: %w", storage.ErrNotFound), storage.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := (&Store{}).classify(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("classify(%v) = %v, which lost the original error", tc.err, got)
			}
			for _, s := range []error{storage.ErrAlreadyExists, storage.ErrUnavailable} {
				if errors.Is(got, s) != (tc.want == s) {
					t.Errorf("classify(%v) = %v; errors.Is %v = %v", tc.err, got, s, errors.Is(got, s))
				}
			}
			if tc.want != nil && !errors.Is(got, tc.want) {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	closed := &Store{}
	closed.closed.Store(true)
	if err := closed.classify(errors.New("closed pool")); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("classify on a closed Store = %v, want ErrUnavailable", err)
	}
}

func TestHasPassword(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://tokend@db/tokend":                     false,
		"postgres://tokend:secret@db/tokend":              true,
		"postgresql://tokend:@db/tokend":                  true,
		"postgres://db/tokend?sslmode=disable":            false,
		"postgres://db/tokend?password=secret":            true,
		"postgres://tokend@db/tokend?passfile=/x/.pgpass": false,
		"postgres://%zz@db":                               true, // unparseable: assume the worst
	} {
		if got := HasPassword(dsn); got != want {
			t.Errorf("HasPassword(%q) = %v, want %v", dsn, got, want)
		}
	}
}
