package postgres

import "github.com/tokend/tokend/server/storage/sqlstore"

// queries are the statements shared with the SQLite store, in
// PostgreSQL's flavor: $N placeholders; rows that a write transaction reads
// to change are locked (FOR UPDATE); string lists as text[].
var queries = sqlstore.New(sqlstore.Flavor{Numbered: true, ForUpdate: " FOR UPDATE"})
