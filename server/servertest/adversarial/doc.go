// Package adversarial holds the adversarial token corpus of tokend: a table
// of hostile tokens (testdata/adversarial/corpus.json at the repository
// root), each with the answer every validation path must give, and the
// fixture they are judged against (testdata/adversarial/fixture.json):
// fixed apps, fixed TEST-ONLY key pairs with fixed key ids, a revoked token
// id and a fixed "now".
//
// The Go tests of the server, the token.Validator and the Go client, and
// the TypeScript and Python client tests all read the same table and must
// agree on every row. Seed writes the fixture into a store (app ids and key
// ids are chosen by tokend through the API, so the fixture goes in through
// the storage interface, as public-only keys exactly like RegisterAppKey
// stores them); cmd/adversarial-server runs a real server on a seeded data
// dir with the fixture's clock for the other languages' tests.
//
// The corpus is generated, reproducibly, by TestCorpusUpToDate in this
// package: run it with -update after changing the generator.
//
// It imports the storage interfaces and the token rules' types; it is test
// support and never part of the served binary.
package adversarial
