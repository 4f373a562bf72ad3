package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlite"
)

// Sizes of the memory scenario.
const (
	memFamilies = 100_000
	memRevoked  = 100_000
)

// memoryResult is what the memory scenario measured.
type memoryResult struct {
	families, revoked int
	fill              time.Duration
	startRSS          int64 // right after tokend started serving
	loadRSS, peak     int64 // after the load, and the peak of the process
	refreshRPS        float64
	validateRPS       float64
	errors            uint64
}

// memoryScenario starts a second tokend whose store holds memFamilies
// live refresh families and memRevoked revoked access token ids, written
// before it starts through the real store package (sqlite.Store, concurrent
// writes that group commit puts 64 to a transaction; revocations 5000 per
// AddRevocations transaction). tokend loads the revocations into its
// in-memory denylist at start, like after any restart. Then it runs
// RefreshToken over some of the families and ValidateToken, and reads the
// resident set.
func (b *bench) memoryScenario(ctx context.Context) (*memoryResult, error) {
	dir := filepath.Join(b.cfg.outDir, "memory-data")
	adminKey := randomKey()
	logPath := filepath.Join(b.cfg.outDir, "tokend-memory.log")
	p, err := startTokend(ctx, b.cfg.tokendBin, dir, adminKey, logPath, b.cfg.tokendFlags)
	if err != nil {
		return nil, err
	}
	w, err := setup(ctx, p.grpc, adminKey)
	if err != nil {
		_ = p.stop()
		return nil, err
	}
	w.issuer.Close()
	if err := p.stop(); err != nil {
		return nil, err
	}

	res := &memoryResult{families: memFamilies, revoked: memRevoked}
	start := time.Now()
	raws, err := fillStore(ctx, filepath.Join(dir, "tokend.db"), w.appID)
	if err != nil {
		return nil, err
	}
	res.fill = time.Since(start)
	log.Printf("memory: wrote %d refresh families and %d revocations in %s", memFamilies, memRevoked, res.fill.Round(time.Millisecond))

	if p, err = startTokend(ctx, b.cfg.tokendBin, dir, adminKey, logPath, b.cfg.tokendFlags); err != nil {
		return nil, err
	}
	defer p.stop()
	if res.startRSS, _, err = p.memory(); err != nil {
		return nil, err
	}
	// The refresh tokens of the families, each presented once at most.
	reqs := make([]*tokendv1.RefreshTokenRequest, 0, len(raws))
	for _, raw := range raws {
		reqs = append(reqs, &tokendv1.RefreshTokenRequest{RefreshToken: raw})
	}
	file := filepath.Join(b.cfg.outDir, "memory-refresh.bin")
	if err := writeMessages(file, reqs); err != nil {
		return nil, err
	}
	d := min(b.cfg.duration, 5*time.Second)
	r, err := b.ghz(ctx, "memory-refresh", load{call: callRefresh, addr: p.grpc, binFile: file, apiKey: w.issuerKey}, d)
	if err != nil {
		return nil, err
	}
	res.refreshRPS, res.errors = r.RPS, r.Errors
	v, err := b.ghz(ctx, "memory-validate", load{call: callValidate, addr: p.grpc, apiKey: w.validatorKey,
		data: fmt.Sprintf(`{"token":%q}`, w.repeatedToken)}, d)
	if err != nil {
		return nil, err
	}
	res.validateRPS, res.errors = v.RPS, res.errors+v.Errors
	if res.loadRSS, res.peak, err = p.memory(); err != nil {
		return nil, err
	}
	log.Printf("memory: RSS at start %s, after load %s, peak %s", mib(res.startRSS), mib(res.loadRSS), mib(res.peak))
	return res, nil
}

// fillStore writes the families and revocations of the memory scenario
// into the store file at path and returns the raw refresh tokens.
func fillStore(ctx context.Context, path, appID string) ([]string, error) {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	now := time.Now().UTC()
	raws := make([]string, memFamilies)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= memFamilies {
					return
				}
				raw := refresh.Prefix + b64.EncodeToString(random(32))
				sum := sha256.Sum256([]byte(raw))
				raws[i] = raw
				err := st.CreateRefreshToken(ctx, storage.RefreshToken{
					Hash: hex.EncodeToString(sum[:]), FamilyID: "fam_" + b64.EncodeToString(random(16)),
					AppID: appID, Subject: fmt.Sprintf("user-%d", i),
					AccessTokenID: b64.EncodeToString(random(16)), AccessTokenExpiresAt: now.Add(time.Hour),
					CreatedAt: now, ExpiresAt: now.Add(14 * 24 * time.Hour), FamilyExpiresAt: now.Add(90 * 24 * time.Hour),
				})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	const chunk = 5000
	for i := 0; i < memRevoked; i += chunk {
		rs := make([]storage.Revocation, 0, chunk)
		for range min(chunk, memRevoked-i) {
			rs = append(rs, storage.Revocation{
				AppID: appID, Kind: storage.RevokeTokenID, Value: b64.EncodeToString(random(16)),
				RevokedAt: now, ExpiresAt: now.Add(time.Hour), Reason: "bench",
			})
		}
		if err := st.AddRevocations(ctx, rs); err != nil {
			return nil, err
		}
	}
	return raws, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
