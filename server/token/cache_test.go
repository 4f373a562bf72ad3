package token_test

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

// genSource is a Generational KeySource over a fakeSource that counts key
// lookups; change applies a change and bumps the generation.
type genSource struct {
	*fakeSource
	gen     atomic.Uint64
	lookups atomic.Int64
}

var _ token.Generational = (*genSource)(nil)

func (s *genSource) Generation() uint64 { return s.gen.Load() }

func (s *genSource) Key(kid string) (token.VerifyKey, bool) {
	s.lookups.Add(1)
	return s.fakeSource.Key(kid)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time   { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)  { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func newClock(t time.Time) *clock { return &clock{t: t} }

// TestCacheSameAnswers: with a cache, every case of TestValidate gets the
// same answer, first and again, as without one.
func TestCacheSameAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range validateCases(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			opts := []token.ValidatorOption{token.WithClock(clockAt(now)), token.WithDenylist(denylist{"revoked-jti": true})}
			if tc.leeway != nil {
				opts = append(opts, token.WithLeeway(*tc.leeway))
			}
			want, wantErr := token.NewValidator(f.src, opts...).Validate(tc.token, tc.expect)
			cached := token.NewValidator(f.src, append(opts, token.WithCache(64))...)
			for i := range 3 {
				got, err := cached.Validate(tc.token, tc.expect)
				if !reflect.DeepEqual(got, want) || err != wantErr {
					t.Fatalf("call %d with cache = %s %+v, %v\nwithout = %s %+v, %v", i, describe(got), got, err, describe(want), want, wantErr)
				}
			}
		})
	}
}

// TestCacheExpectOnHit: a cached token is judged against each request's
// audience and app, with the answers of the full rules.
func TestCacheExpectOnHit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es", set("role", "admin")))
	plain := token.NewValidator(f.src, token.WithClock(clockAt(t0)))
	cached := token.NewValidator(f.src, token.WithClock(clockAt(t0)), token.WithCache(8))
	if res, err := cached.Validate(raw, token.Expect{}); err != nil || !res.Valid() {
		t.Fatalf("first Validate = %s, %v", describe(res), err)
	}
	for _, exp := range []token.Expect{
		{}, {Audience: "svc-a"}, {Audience: "svc-b", AppID: "app-es"},
		{Audience: "svc-c"}, {AppID: "app-ed"}, {Audience: "svc-c", AppID: "app-ed"},
	} {
		t.Run(fmt.Sprintf("%+v", exp), func(t *testing.T) {
			want, _ := plain.Validate(raw, exp)
			got, _ := cached.Validate(raw, exp)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("cached = %s %+v\nwant %s %+v", describe(got), got, describe(want), want)
			}
		})
	}
}

// TestCacheHitSkipsVerification: a token seen again is answered without
// looking its key up (so without verifying its signature).
func TestCacheHitSkipsVerification(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	src := &genSource{fakeSource: f.src.clone()}
	v := token.NewValidator(src, token.WithClock(clockAt(t0)), token.WithCache(8))
	raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es"))
	for i := range 5 {
		if res, err := v.Validate(raw, token.Expect{}); err != nil || !res.Valid() {
			t.Fatalf("Validate %d = %s, %v", i, describe(res), err)
		}
	}
	if n := src.lookups.Load(); n != 1 {
		t.Errorf("5 validations of one token looked the key up %d times, want 1", n)
	}
	src.gen.Add(1) // any change: the next call judges in full
	if res, _ := v.Validate(raw, token.Expect{}); !res.Valid() {
		t.Fatalf("Validate after a generation change = %s", describe(res))
	}
	if n := src.lookups.Load(); n != 2 {
		t.Errorf("after a generation change: %d key lookups, want 2", n)
	}
}

// TestCacheInvalidation: a cached verdict gives way to every change that
// the full rules would see: keys, apps, revocations and time.
func TestCacheInvalidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		change func(src *fakeSource, deny denylist, clk *clock)
		want   token.Reason
	}{
		{"key removed", func(src *fakeSource, _ denylist, _ *clock) {
			src.keys = slices.DeleteFunc(src.keys, func(k token.VerifyKey) bool { return k.ID == "k-es" })
		}, token.ReasonUnknownKey},
		{"key stops validating", func(src *fakeSource, _ denylist, _ *clock) { src.keys[esIndex(src)].VerifyUntil = t0 }, token.ReasonUnknownKey},
		{"key replaced under its kid", func(src *fakeSource, _ denylist, _ *clock) { src.keys[esIndex(src)].Public = f.evil.Priv.Public() }, token.ReasonBadSignature},
		{"app disabled", func(src *fakeSource, _ denylist, _ *clock) { src.apps["app-es"] = token.AppPolicy{ID: "app-es"} }, token.ReasonAppDisabled},
		{"app max ttl lowered", func(src *fakeSource, _ denylist, _ *clock) {
			src.apps["app-es"] = token.AppPolicy{ID: "app-es", Enabled: true, MaxTokenTTL: 10 * time.Minute}
		}, token.ReasonLifetimeTooLong},
		{"app removed", func(src *fakeSource, _ denylist, _ *clock) { delete(src.apps, "app-es") }, token.ReasonUnknownApp},
		{"revoked", func(_ *fakeSource, deny denylist, _ *clock) { deny["jti-1"] = true }, token.ReasonRevoked},
		{"expired", func(_ *fakeSource, _ denylist, clk *clock) { clk.set(t0.Add(59*time.Minute + token.DefaultLeeway)) }, token.ReasonExpired},
		{"clock set back before iat", func(_ *fakeSource, _ denylist, clk *clock) {
			clk.set(t0.Add(-time.Minute - token.DefaultLeeway - time.Second))
		}, token.ReasonNotYetValid},
	}
	for _, generational := range []bool{true, false} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/generational=%v", tc.name, generational), func(t *testing.T) {
				t.Parallel()
				fs := f.src.clone()
				var src token.KeySource = fs
				gs := &genSource{fakeSource: fs}
				if generational {
					src = gs
				}
				deny, clk := denylist{}, newClock(t0)
				v := token.NewValidator(src, token.WithClock(clk.now), token.WithDenylist(deny), token.WithCache(8))
				raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es"))
				if res, _ := v.Validate(raw, token.Expect{}); !res.Valid() {
					t.Fatalf("before the change: %s", describe(res))
				}
				tc.change(fs, deny, clk)
				gs.gen.Add(1)
				if res, _ := v.Validate(raw, token.Expect{}); res.Reason != tc.want {
					t.Errorf("after the change: %s, want %s", describe(res), tc.want)
				}
			})
		}
	}
}

func esIndex(src *fakeSource) int {
	return slices.IndexFunc(src.keys, func(k token.VerifyKey) bool { return k.ID == "k-es" })
}

// TestCacheDelayedNotBefore: a token not valid yet is not cached, and a
// cached one whose delayed nbf lies ahead of a clock set back is refused.
func TestCacheDelayedNotBefore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	nbf := t0.Add(10 * time.Second)
	raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es", at("iat", t0), at("nbf", nbf)))
	clk := newClock(t0)
	v := token.NewValidator(f.src, token.WithClock(clk.now), token.WithCache(8))
	steps := []struct {
		at   time.Time
		want token.Reason
	}{
		{t0, token.ReasonNotYetValid},
		{nbf.Add(-time.Second), token.ReasonNotYetValid},
		{nbf, token.ReasonNone},
		{nbf.Add(time.Second), token.ReasonNone},
		{nbf.Add(-time.Second), token.ReasonNotYetValid}, // cached, but not valid at this time
	}
	for _, s := range steps {
		clk.set(s.at)
		if res, _ := v.Validate(raw, token.Expect{}); res.Reason != s.want {
			t.Errorf("at nbf%+v: %s, want %s", s.at.Sub(nbf), describe(res), s.want)
		}
	}
}

// TestCacheResultsAreCopies: changing a Result does not change the next.
func TestCacheResultsAreCopies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es", set("role", "admin")))
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)), token.WithCache(8))
	for i := range 3 {
		res, _ := v.Validate(raw, token.Expect{})
		if !res.Valid() || res.Claims.Audience[0] != "svc-a" || res.Claims.Extra["role"] != "admin" {
			t.Fatalf("call %d: %s %+v", i, describe(res), res.Claims)
		}
		res.Claims.Audience[0] = "changed"
		res.Claims.Extra["role"] = "changed"
	}
}

// TestCacheConcurrent validates many tokens from many goroutines while
// the keys change (run with -race).
func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	src := &genSource{fakeSource: f.src.clone()}
	v := token.NewValidator(src, token.WithClock(clockAt(t0)), token.WithCache(32))
	toks := make([]string, 100)
	for i := range toks {
		toks[i] = signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es", set("jti", fmt.Sprint(i))))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				raw := toks[(g*7+i)%len(toks)]
				if res, err := v.Validate(raw, token.Expect{Audience: "svc-a"}); err != nil || !res.Valid() || res.Claims.ID != fmt.Sprint((g*7+i)%len(toks)) {
					t.Errorf("Validate = %s %+v, %v", describe(res), res.Claims, err)
					return
				}
				if i%50 == 0 {
					src.gen.Add(1)
				}
			}
		})
	}
	wg.Wait()
}
