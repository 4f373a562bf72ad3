// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the server named by TOKEND_TEST_POSTGRES_DSN, dropped when the
// test ends. Without that variable the tests that need PostgreSQL skip,
// saying how to run them (make test starts a throwaway server and sets it;
// see scripts/pg-test.sh).
//
// It imports the standard library, testing and pgx only.
package pgtest
