// Package faulty is the error-injecting wrapper around a real store, for
// tests: it makes every operation fail (the store "goes away") or wait,
// and then behaves again. Tests wrap the real SQLite store with it; it is
// never a mock of the database.
package faulty
