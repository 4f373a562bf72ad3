package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var refreshTests = []test{
	{"CreateGet", testRefreshCreateGet},
	{"CreateDuplicate", testRefreshCreateDuplicate},
	{"GetUnknown", testRefreshGetUnknown},
	{"Rotate", testRefreshRotate},
	{"RotateUsed", testRefreshRotateUsed},
	{"RotateRevoked", testRefreshRotateRevoked},
	{"RotateUnknown", testRefreshRotateUnknown},
	{"RotateConcurrent", testRefreshRotateConcurrent},
	{"RotateRevokeRace", testRefreshRotateRevokeRace},
	{"RevokeFamily", testRefreshRevokeFamily},
	{"RevokeSubjectFamilies", testRefreshRevokeSubjectFamilies},
	{"Sweep", testRefreshSweep},
}

func newRefresh(hash, familyID, appID, subject string) storage.RefreshToken {
	return storage.RefreshToken{
		Hash:                 hash,
		FamilyID:             familyID,
		AppID:                appID,
		Subject:              subject,
		Audience:             []string{"api", "web"},
		Claims:               []byte(`{"tenant":"acme"}`),
		AccessTokenID:        "jti-" + hash,
		AccessTokenExpiresAt: base.Add(time.Hour),
		CreatedAt:            base,
		ExpiresAt:            base.Add(24 * time.Hour),
		FamilyExpiresAt:      base.Add(30 * 24 * time.Hour),
	}
}

// rotate rotates old into a new token with the given hash and returns both
// as stored.
func rotate(t *testing.T, s storage.Store, old storage.RefreshToken, hash string) (storage.RefreshToken, storage.RefreshToken) {
	t.Helper()
	next := newRefresh(hash, old.FamilyID, old.AppID, old.Subject)
	next.CreatedAt = base.Add(time.Minute)
	got, err := s.RotateRefreshToken(t.Context(), old.Hash, base.Add(time.Minute), "idem-"+hash, []byte("replay-"+hash), next)
	must(t, "RotateRefreshToken", err)
	return got, next
}

// checkRefresh fails the test unless the token stored under want.Hash is want.
func checkRefresh(t *testing.T, s storage.Store, what string, want storage.RefreshToken) {
	t.Helper()
	got, err := s.GetRefreshToken(t.Context(), want.Hash)
	if err != nil {
		t.Errorf("%s: GetRefreshToken: %v", what, err)
		return
	}
	check(t, what, got, want)
}

// checkNoRefresh fails the test if a token with the hash is stored.
func checkNoRefresh(t *testing.T, s storage.Store, what, hash string) {
	t.Helper()
	_, err := s.GetRefreshToken(t.Context(), hash)
	wantErr(t, what, err, storage.ErrNotFound)
}

func testRefreshCreateGet(t *testing.T, s storage.Store) {
	rt := newRefresh("hash-1", "fam-1", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), rt))
	checkRefresh(t, s, "stored token", rt)

	bare := storage.RefreshToken{Hash: "hash-2", FamilyID: "fam-2", AppID: "app-1", Subject: "bob",
		CreatedAt: base, ExpiresAt: base.Add(time.Hour), FamilyExpiresAt: base.Add(time.Hour)}
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), bare))
	checkRefresh(t, s, "token without audience and claims", bare)
}

func testRefreshCreateDuplicate(t *testing.T, s storage.Store) {
	rt := newRefresh("hash-1", "fam-1", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), rt))
	wantErr(t, "CreateRefreshToken with a taken hash",
		s.CreateRefreshToken(t.Context(), newRefresh("hash-1", "fam-2", "app-1", "bob")), storage.ErrAlreadyExists)
	checkRefresh(t, s, "first token", rt)
}

func testRefreshGetUnknown(t *testing.T, s storage.Store) {
	checkNoRefresh(t, s, "GetRefreshToken", "nope")
}

func testRefreshRotate(t *testing.T, s storage.Store) {
	old := newRefresh("hash-1", "fam-1", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), old))
	got, next := rotate(t, s, old, "hash-2")

	old.UsedAt, old.IdempotencyKey, old.Replay = base.Add(time.Minute), "idem-hash-2", []byte("replay-hash-2")
	check(t, "RotateRefreshToken result", got, old)
	checkRefresh(t, s, "old token", old)
	checkRefresh(t, s, "next token", next)

	// The next token rotates in turn.
	rotate(t, s, next, "hash-3")
}

func testRefreshRotateUsed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	old := newRefresh("hash-1", "fam-1", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
	used, _ := rotate(t, s, old, "hash-2")

	got, err := s.RotateRefreshToken(ctx, old.Hash, base.Add(time.Hour), "idem-again", []byte("again"),
		newRefresh("hash-3", old.FamilyID, old.AppID, old.Subject))
	wantErr(t, "RotateRefreshToken of a used token", err, storage.ErrRefreshUsed)
	check(t, "record returned with ErrRefreshUsed", got, used)
	checkRefresh(t, s, "used token", used)
	checkNoRefresh(t, s, "next token of the refused rotation", "hash-3")
}

func testRefreshRotateRevoked(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		use  bool // rotate before revoking: a revoked family is reported as such even for used tokens
	}{
		{"unused", false},
		{"used", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := newRefresh("hash-"+tc.name, "fam-"+tc.name, "app-1", "alice")
			must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
			if tc.use {
				old, _ = rotate(t, s, old, "hash-next-"+tc.name)
			}
			_, err := s.RevokeFamily(ctx, old.FamilyID, base.Add(time.Hour))
			must(t, "RevokeFamily", err)
			old.RevokedAt = base.Add(time.Hour)

			got, err := s.RotateRefreshToken(ctx, old.Hash, base.Add(2*time.Hour), "idem", nil,
				newRefresh("hash-refused-"+tc.name, old.FamilyID, old.AppID, old.Subject))
			wantErr(t, "RotateRefreshToken of a revoked token", err, storage.ErrConflict)
			check(t, "record returned with ErrConflict", got, old)
			checkRefresh(t, s, "revoked token", old)
			checkNoRefresh(t, s, "next token of the refused rotation", "hash-refused-"+tc.name)
		})
	}
}

func testRefreshRotateUnknown(t *testing.T, s storage.Store) {
	_, err := s.RotateRefreshToken(t.Context(), "nope", base, "", nil, newRefresh("hash-next", "fam-1", "app-1", "alice"))
	wantErr(t, "RotateRefreshToken of an unknown token", err, storage.ErrNotFound)
	checkNoRefresh(t, s, "next token of the refused rotation", "hash-next")
}

// testRefreshRotateConcurrent is reuse detection under a race: of many
// concurrent rotations of one token exactly one succeeds, and every other
// one sees the winner's record with ErrRefreshUsed.
func testRefreshRotateConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	old := newRefresh("hash-old", "fam-1", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))

	const n = 32
	type result struct {
		rec storage.RefreshToken
		err error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			next := newRefresh(fmt.Sprintf("hash-next-%02d", i), old.FamilyID, old.AppID, old.Subject)
			rec, err := s.RotateRefreshToken(ctx, old.Hash, base.Add(time.Minute), fmt.Sprintf("idem-%02d", i), nil, next)
			results[i] = result{rec, err}
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, r := range results {
		switch {
		case r.err == nil && winner >= 0:
			t.Errorf("rotations %d and %d both succeeded", winner, i)
		case r.err == nil:
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no rotation succeeded")
	}
	wantKey := fmt.Sprintf("idem-%02d", winner)
	for i, r := range results {
		if i == winner {
			continue
		}
		wantErr(t, fmt.Sprintf("rotation %d", i), r.err, storage.ErrRefreshUsed)
		if r.rec.Hash != old.Hash || r.rec.IdempotencyKey != wantKey || r.rec.UsedAt.IsZero() {
			t.Errorf("rotation %d returned %+v, want the old token used by rotation %d", i, r.rec, winner)
		}
		checkNoRefresh(t, s, fmt.Sprintf("next token of rotation %d", i), fmt.Sprintf("hash-next-%02d", i))
	}
	if _, err := s.GetRefreshToken(ctx, fmt.Sprintf("hash-next-%02d", winner)); err != nil {
		t.Errorf("next token of the winning rotation: %v", err)
	}
}

func refreshHash(t storage.RefreshToken) string { return t.Hash }

func testRefreshRevokeFamily(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newRefresh("hash-1", "fam-1", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, first))
	first, second := rotate(t, s, first, "hash-2")
	other := newRefresh("hash-other", "fam-2", "app-1", "alice")
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, other))

	at := base.Add(time.Hour)
	got, err := s.RevokeFamily(ctx, "fam-1", at)
	must(t, "RevokeFamily", err)
	check(t, "RevokeFamily result (tokens before the call)", sorted(got, refreshHash), []storage.RefreshToken{first, second})
	first.RevokedAt, second.RevokedAt = at, at
	checkRefresh(t, s, "first token", first)
	checkRefresh(t, s, "second token", second)
	checkRefresh(t, s, "token of another family", other)

	// Again, later: nothing changes, the tokens come back as they are.
	got, err = s.RevokeFamily(ctx, "fam-1", at.Add(time.Hour))
	must(t, "RevokeFamily again", err)
	check(t, "RevokeFamily again", sorted(got, refreshHash), []storage.RefreshToken{first, second})
	checkRefresh(t, s, "first token after a second revocation", first)

	got, err = s.RevokeFamily(ctx, "nope", at)
	must(t, "RevokeFamily of an unknown family", err)
	if len(got) != 0 {
		t.Errorf("RevokeFamily of an unknown family = %v, want none", got)
	}
}

func testRefreshRevokeSubjectFamilies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	create := func(rt storage.RefreshToken) storage.RefreshToken {
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
		return rt
	}
	a1, a2 := rotate(t, s, create(newRefresh("a1", "fam-a", "app-1", "alice")), "a2")
	b1 := create(newRefresh("b1", "fam-b", "app-1", "alice"))
	done := create(newRefresh("done", "fam-done", "app-1", "alice"))
	_, err := s.RevokeFamily(ctx, "fam-done", base)
	must(t, "RevokeFamily", err)
	done.RevokedAt = base
	otherSubject := create(newRefresh("bob", "fam-bob", "app-1", "bob"))
	otherApp := create(newRefresh("alice-2", "fam-alice-2", "app-2", "alice"))

	at := base.Add(time.Hour)
	got, err := s.RevokeSubjectFamilies(ctx, "app-1", "alice", at)
	must(t, "RevokeSubjectFamilies", err)
	check(t, "RevokeSubjectFamilies result (tokens revoked now, before the call)",
		sorted(got, refreshHash), []storage.RefreshToken{a1, a2, b1})
	for _, rt := range []storage.RefreshToken{a1, a2, b1} {
		rt.RevokedAt = at
		checkRefresh(t, s, "revoked token "+rt.Hash, rt)
	}
	checkRefresh(t, s, "token revoked before", done)
	checkRefresh(t, s, "token of another subject", otherSubject)
	checkRefresh(t, s, "token of another app", otherApp)

	got, err = s.RevokeSubjectFamilies(ctx, "app-1", "alice", at.Add(time.Hour))
	must(t, "RevokeSubjectFamilies again", err)
	if len(got) != 0 {
		t.Errorf("RevokeSubjectFamilies again = %v, want none", got)
	}
}

// testRefreshSweep checks which tokens a sweep deletes: those past both
// their idle and their family expiry, and those of revoked families past
// their idle expiry. "Past" is strictly before now.
func testRefreshSweep(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := base.Add(100 * 24 * time.Hour)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	tests := []struct {
		hash           string
		idle, family   time.Time
		revoked, swept bool
	}{
		{"both expired", past, past, false, true},
		{"idle expired, family alive", past, future, false, false},
		{"idle alive, family expired", future, past, false, false},
		{"expiring now", now, now, false, false},
		{"revoked, idle expired", past, future, true, true},
		{"revoked, idle alive", future, future, true, false},
	}
	want := 0
	for _, tc := range tests {
		rt := newRefresh(tc.hash, "fam-"+tc.hash, "app-1", "alice")
		rt.ExpiresAt, rt.FamilyExpiresAt = tc.idle, tc.family
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
		if tc.revoked {
			_, err := s.RevokeFamily(ctx, rt.FamilyID, base)
			must(t, "RevokeFamily", err)
		}
		if tc.swept {
			want++
		}
	}
	n, err := s.SweepRefreshTokens(ctx, now)
	must(t, "SweepRefreshTokens", err)
	if n != want {
		t.Errorf("SweepRefreshTokens = %d, want %d", n, want)
	}
	for _, tc := range tests {
		_, err := s.GetRefreshToken(ctx, tc.hash)
		switch {
		case tc.swept:
			wantErr(t, "token "+tc.hash, err, storage.ErrNotFound)
		case err != nil:
			t.Errorf("token %s: %v, want it kept", tc.hash, err)
		}
	}
	n, err = s.SweepRefreshTokens(ctx, now)
	must(t, "SweepRefreshTokens again", err)
	if n != 0 {
		t.Errorf("SweepRefreshTokens again = %d, want 0", n)
	}
}
