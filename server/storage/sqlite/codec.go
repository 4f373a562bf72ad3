package sqlite

import "github.com/tokend/tokend/server/storage/sqlstore"

// queries are the statements shared with the PostgreSQL store, in
// SQLite's flavor: ? placeholders; no row locks, since a write transaction
// holds the database's write lock from its BEGIN IMMEDIATE; string lists
// as JSON arrays in TEXT columns.
var queries = sqlstore.New(sqlstore.Flavor{JSONLists: true})
