package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

// ErrSameKEK: the new KEK is the old one.
var ErrSameKEK = errors.New("keys: the new KEK is the current one")

// RewrapStore is the part of the store Rewrap reads and writes.
type RewrapStore interface {
	ListAllKeys(ctx context.Context) ([]storage.Key, error)
	UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error
}

// RewrapResult says what Rewrap did.
type RewrapResult struct {
	// Rewrapped is the number of private keys sealed anew with the new KEK.
	Rewrapped int
	// Already is the number found sealed with the new KEK already (an
	// earlier, interrupted run).
	Already int
	// Apps is the number of apps whose keys were written.
	Apps int
}

// Rewrap seals every stored private key, now sealed with oldKEK, with
// newKEK instead, one app at a time in one UpdateKeys each (an app's keys
// are never half rewrapped). It first checks that every sealed key opens
// with one of the two KEKs and changes nothing otherwise. Keys already
// sealed with newKEK are left alone, so an interrupted run can be run
// again. It is meant for a store no server is writing to.
func Rewrap(ctx context.Context, store RewrapStore, oldKEK, newKEK *KEK) (RewrapResult, error) {
	var res RewrapResult
	if oldKEK.ID() == newKEK.ID() {
		return res, ErrSameKEK
	}
	all, err := store.ListAllKeys(ctx)
	if err != nil {
		return res, fmt.Errorf("keys: rewrap: %w", err)
	}
	var appIDs []string
	for _, k := range all {
		if k.SealedPrivateKey == "" {
			continue
		}
		if _, err := openWithEither(k, oldKEK, newKEK); err != nil {
			return res, fmt.Errorf("keys: rewrap: nothing changed: %w", err)
		}
		if !slices.Contains(appIDs, k.AppID) {
			appIDs = append(appIDs, k.AppID)
		}
	}
	for _, appID := range appIDs {
		n, already := 0, 0
		err := store.UpdateKeys(ctx, appID, func(current []storage.Key) ([]storage.Key, error) {
			n, already = 0, 0
			var changed []storage.Key
			for _, k := range current {
				if k.SealedPrivateKey == "" {
					continue
				}
				if sealedBy(k.SealedPrivateKey) == newKEK.ID() {
					if _, err := newKEK.Open(k.AppID, k.ID, k.SealedPrivateKey); err == nil {
						already++
						continue
					}
				}
				priv, err := oldKEK.Open(k.AppID, k.ID, k.SealedPrivateKey)
				if err != nil {
					return nil, err
				}
				if k.SealedPrivateKey, err = newKEK.Seal(k.AppID, k.ID, priv); err != nil {
					return nil, err
				}
				changed = append(changed, k)
				n++
			}
			return changed, nil
		})
		if err != nil {
			return res, fmt.Errorf("keys: rewrap app %q (%d apps done): %w", appID, res.Apps, err)
		}
		res.Rewrapped += n
		res.Already += already
		if n > 0 {
			res.Apps++
		}
	}
	return res, nil
}

// openWithEither checks that a sealed key opens with one of two KEKs.
func openWithEither(k storage.Key, a, b *KEK) (*KEK, error) {
	for _, kek := range []*KEK{a, b} {
		if sealedBy(k.SealedPrivateKey) != kek.ID() {
			continue
		}
		if _, err := kek.Open(k.AppID, k.ID, k.SealedPrivateKey); err != nil {
			return nil, err
		}
		return kek, nil
	}
	return nil, fmt.Errorf("%w: key %s of app %s is sealed with KEK %q, neither the old (%s) nor the new (%s)",
		ErrSealedKey, k.ID, k.AppID, sealedBy(k.SealedPrivateKey), a.ID(), b.ID())
}

// sealedBy returns the id of the KEK a sealed key names ("" when it cannot
// be read).
func sealedBy(sealed string) string {
	obj, err := jose.ParseEncryptedCompact(sealed, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return ""
	}
	id, _ := obj.Header.ExtraHeaders[hdrKEK].(string)
	return id
}
