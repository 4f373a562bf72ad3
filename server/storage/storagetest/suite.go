package storagetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// Run runs the conformance suite. newStore must return a new, empty store
// each time it is called; Run closes it at the end of the subtest (so a
// second time in the Close test: Close must be idempotent, like sql.DB's).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"App", appTests},
		{"Key", keyTests},
		{"Caller", callerTests},
		{"Refresh", refreshTests},
		{"Revocation", revocationTests},
		{"Store", storeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := newStore(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

// test is one subtest, given a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

var storeTests = []test{
	{"Ping", testPing},
	{"ZeroTimes", testZeroTimes},
	{"Close", testClose},
}

// base is the suite's "now": a fixed instant, whole microseconds.
var base = time.Date(2030, time.January, 2, 3, 4, 5, 123456000, time.UTC)

// errFn is what callbacks return to abort an update.
var errFn = errors.New("storagetest: callback refused")

func testPing(t *testing.T, s storage.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testClose(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if err := s.CreateApp(ctx, newApp("app-1"), nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping after Close = %v, want ErrUnavailable", err)
	}
	if _, err := s.GetApp(ctx, "app-1"); err == nil {
		t.Error("GetApp after Close succeeded")
	}
}

// testZeroTimes checks that zero times read back as the zero time.Time, not
// as some instant such as the Unix epoch.
func testZeroTimes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := storage.App{ID: "app-1", Name: "zero"}
	key := storage.Key{ID: "kid-1", AppID: app.ID, Algorithm: "ES256", PublicJWK: "{}", State: storage.KeyActive}
	if err := s.CreateApp(ctx, app, []storage.Key{key}); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	gotApp, err := s.GetApp(ctx, app.ID)
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	keys, err := s.ListKeys(ctx, app.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListKeys = %v, %v; want one key", keys, err)
	}

	caller := storage.Caller{ID: "caller-1", Name: "zero", Roles: []string{"admin"}}
	if err := s.CreateCaller(ctx, caller, storage.APIKey{Hash: "h1", CallerID: caller.ID}); err != nil {
		t.Fatalf("CreateCaller: %v", err)
	}
	gotCaller, err := s.GetCaller(ctx, caller.ID)
	if err != nil {
		t.Fatalf("GetCaller: %v", err)
	}
	apiKeys, err := s.ListAPIKeys(ctx)
	if err != nil || len(apiKeys) != 1 {
		t.Fatalf("ListAPIKeys = %v, %v; want one key", apiKeys, err)
	}

	// A refresh token and a revocation need an expiry to be useful; every
	// other time stays zero.
	rt := storage.RefreshToken{Hash: "r1", FamilyID: "f1", AppID: app.ID, Subject: "sub", ExpiresAt: base, FamilyExpiresAt: base}
	if err := s.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	gotRT, err := s.GetRefreshToken(ctx, rt.Hash)
	if err != nil {
		t.Fatalf("GetRefreshToken: %v", err)
	}
	rev := storage.Revocation{AppID: app.ID, Kind: storage.RevokeTokenID, Value: "jti", ExpiresAt: base}
	if err := s.AddRevocations(ctx, []storage.Revocation{rev}); err != nil {
		t.Fatalf("AddRevocations: %v", err)
	}
	revs, err := s.ListRevocations(ctx, base.Add(-time.Hour))
	if err != nil || len(revs) != 1 {
		t.Fatalf("ListRevocations = %v, %v; want one entry", revs, err)
	}

	for name, tm := range map[string]time.Time{
		"App.CreatedAt":                     gotApp.CreatedAt,
		"App.UpdatedAt":                     gotApp.UpdatedAt,
		"Key.CreatedAt":                     keys[0].CreatedAt,
		"Key.ActivatesAt":                   keys[0].ActivatesAt,
		"Key.VerifyUntil":                   keys[0].VerifyUntil,
		"Key.RevokedAt":                     keys[0].RevokedAt,
		"Caller.CreatedAt":                  gotCaller.CreatedAt,
		"APIKey.CreatedAt":                  apiKeys[0].CreatedAt,
		"APIKey.ExpiresAt":                  apiKeys[0].ExpiresAt,
		"RefreshToken.AccessTokenExpiresAt": gotRT.AccessTokenExpiresAt,
		"RefreshToken.CreatedAt":            gotRT.CreatedAt,
		"RefreshToken.UsedAt":               gotRT.UsedAt,
		"RefreshToken.RevokedAt":            gotRT.RevokedAt,
		"Revocation.RevokedAt":              revs[0].RevokedAt,
	} {
		if !tm.IsZero() {
			t.Errorf("%s = %v, want the zero time", name, tm)
		}
	}
	if !gotRT.ExpiresAt.Equal(base) {
		t.Errorf("RefreshToken.ExpiresAt = %v, want %v", gotRT.ExpiresAt, base)
	}
}

// check fails the test unless got and want are the same records, up to
// representation: times are compared as instants and empty slices as nil.
func check[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(canon(reflect.ValueOf(got)).Interface(), canon(reflect.ValueOf(want)).Interface()) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// canon returns a copy of v with every time in UTC without a monotonic
// reading and every empty slice nil.
func canon(v reflect.Value) reflect.Value {
	switch {
	case v.Type() == timeType:
		return reflect.ValueOf(v.Interface().(time.Time).UTC().Round(0))
	case v.Kind() == reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			out.Field(i).Set(canon(v.Field(i)))
		}
		return out
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(canon(v.Index(i)))
		}
		return out
	}
	return v
}

// sorted returns a sorted copy of rs, for results whose order is unspecified.
func sorted[T any](rs []T, key func(T) string) []T {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return out
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
}

// must fails the test now if err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
