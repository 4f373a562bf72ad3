package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

// MaintainerStore is the part of the store the Maintainer reads and writes.
type MaintainerStore interface {
	ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error)
	ListAllKeys(ctx context.Context) ([]storage.Key, error)
	UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error
}

// Maintainer keeps the stored keys in step with time, in the background:
// it writes back state changes (next -> active, active -> verify-only,
// verify-only past its window -> retired, erasing private halves that will
// never sign again), rotates the keys of apps whose signing key is older
// than their KeyRotationPeriod, and reloads into the Registry every app
// whose stored keys or record differ from what it holds (changes made by
// other replicas).
//
// It is safe with several replicas on one store: every decision is taken
// again inside UpdateKeys on the latest stored keys, so that when two
// replicas find the same rotation due, the second sees the first's new
// key and does nothing, which counts as success.
type Maintainer struct {
	store   MaintainerStore
	manager *Manager
	log     *slog.Logger
}

// NewMaintainer returns a Maintainer that writes through m's store and
// keeps m's Registry current.
func NewMaintainer(store MaintainerStore, m *Manager, log *slog.Logger) *Maintainer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Maintainer{store: store, manager: m, log: log}
}

// TickResult says what a Tick did.
type TickResult struct {
	// Settled lists the apps whose key states were written back (without
	// a rotation).
	Settled []string
	// Rotated lists the apps that got a new key by automatic rotation.
	Rotated []string
	// Reloaded lists the apps reloaded into the Registry.
	Reloaded []string
}

// Tick does one round of maintenance as of now. It goes on with the other
// apps when one fails, and returns every failure joined.
func (mt *Maintainer) Tick(ctx context.Context, now time.Time) (TickResult, error) {
	var res TickResult
	apps, err := mt.listApps(ctx)
	if err != nil {
		return res, err
	}
	all, err := mt.store.ListAllKeys(ctx)
	if err != nil {
		return res, fmt.Errorf("keys: maintain: %w", err)
	}
	byApp := map[string][]storage.Key{}
	for _, k := range all {
		byApp[k.AppID] = append(byApp[k.AppID], k)
	}
	reg := mt.manager.registry
	var errs []error
	for _, app := range apps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		ks := byApp[app.ID]
		appChanged := reg.PutAppIfNewer(app)
		settled, rotated, err := mt.maintainApp(ctx, app, ks, now)
		if err != nil {
			errs = append(errs, err)
		}
		if settled {
			res.Settled = append(res.Settled, app.ID)
		}
		if rotated {
			res.Rotated = append(res.Rotated, app.ID)
		}
		if appChanged || settled || rotated || reg.keysDiffer(app.ID, ks) {
			if err := mt.manager.Reload(ctx, app.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			res.Reloaded = append(res.Reloaded, app.ID)
		}
	}
	return res, errors.Join(errs...)
}

func (mt *Maintainer) listApps(ctx context.Context) ([]storage.App, error) {
	const page = 500
	var apps []storage.App
	after := ""
	for {
		p, err := mt.store.ListApps(ctx, after, page)
		if err != nil {
			return nil, fmt.Errorf("keys: maintain: %w", err)
		}
		apps = append(apps, p...)
		if len(p) < page {
			return apps, nil
		}
		after = p[len(p)-1].ID
	}
}

// maintainApp writes back the key states of one app at now and rotates its
// key when rotation is due. ks is a recent read of its keys: when it shows
// nothing to do, nothing is written.
func (mt *Maintainer) maintainApp(ctx context.Context, app storage.App, ks []storage.Key, now time.Time) (settled, rotated bool, err error) {
	m := mt.manager
	due := rotationDue(app, ks, now)
	if !due && !settle(app, slices.Clone(ks), now, m.leeway) {
		return false, false, nil
	}
	var (
		priv crypto.Signer
		alg  jose.SignatureAlgorithm
	)
	if due { // generate outside the store's write lock
		alg = signingAlgorithm(ks, now)
		if priv, err = Generate(alg); err != nil {
			return false, false, fmt.Errorf("keys: rotate app %q: %w", app.ID, err)
		}
	}
	var newKey KeyView
	err = m.store.UpdateKeys(ctx, app.ID, func(current []storage.Key) ([]storage.Key, error) {
		settled, rotated = false, false
		if priv != nil && rotationDue(app, current, now) {
			if want := signingAlgorithm(current, now); want != alg {
				var err error
				if priv, err = Generate(want); err != nil {
					return nil, err
				}
				alg = want
			}
			changed, key, _, err := m.rotateKeys(app, current, alg, priv, now, m.activationDelay)
			if err != nil {
				return nil, err
			}
			rotated, newKey = true, key
			return changed, nil
		}
		// Not due (any more): another replica may have rotated already,
		// which is success. Only the states are written back.
		work := slices.Clone(current)
		settled = settle(app, work, now, m.leeway)
		return changedKeys(current, work), nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return false, false, nil // the app is gone
	}
	if err != nil {
		return false, false, fmt.Errorf("keys: maintain app %q: %w", app.ID, err)
	}
	if rotated {
		// The private key of an automatic rotation is never shown: tokend
		// alone signs with it.
		mt.log.InfoContext(ctx, "app key rotated automatically", slog.String("app_id", app.ID),
			slog.String("key_id", newKey.ID), slog.String("algorithm", newKey.Algorithm),
			slog.Time("activates_at", newKey.ActivatesAt), slog.Duration("rotation_period", app.KeyRotationPeriod))
		mt.manager.rotated(app.ID, true)
	}
	return settled, rotated, nil
}

// Run calls Tick at once and then every interval, with the time of now,
// until ctx is done. Failures are logged; the next tick tries again.
func (mt *Maintainer) Run(ctx context.Context, interval time.Duration, now func() time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := mt.Tick(ctx, now()); err != nil && ctx.Err() == nil {
			mt.log.WarnContext(ctx, "key maintenance tick failed; retrying at the next tick", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
