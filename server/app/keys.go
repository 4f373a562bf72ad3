package app

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/tokend/tokend/server/keys"
)

// maxRevokeReasonLen bounds the audit reason of a key revocation.
const maxRevokeReasonLen = 512

// RevokeKey removes a key of an app from verification at once (see
// keys.Manager.Revoke). keys.ErrKeyNotFound when the app has no such key.
func (s *Service) RevokeKey(ctx context.Context, appID, keyID, reason string) (keys.KeyView, error) {
	switch {
	case appID == "":
		return keys.KeyView{}, &FieldError{Field: "app_id", Msg: "required"}
	case keyID == "":
		return keys.KeyView{}, &FieldError{Field: "key_id", Msg: "required"}
	case !utf8.ValidString(reason) || len(reason) > maxRevokeReasonLen:
		return keys.KeyView{}, &FieldError{Field: "reason", Msg: fmt.Sprintf("must be UTF-8 text of at most %d bytes", maxRevokeReasonLen)}
	}
	a, err := s.store.GetApp(ctx, appID)
	if err != nil {
		return keys.KeyView{}, fmt.Errorf("app: revoke key: %w", err)
	}
	return s.keys.Revoke(ctx, a, keyID, reason)
}

// RegisterKey adds an externally generated public key (JWK JSON or PEM
// "PUBLIC KEY") with its algorithm to an app: bring your own key.
func (s *Service) RegisterKey(ctx context.Context, appID, algorithm, publicKey string) (keys.KeyView, error) {
	if appID == "" {
		return keys.KeyView{}, &FieldError{Field: "app_id", Msg: "required"}
	}
	if algorithm == "" {
		return keys.KeyView{}, &FieldError{Field: "algorithm", Msg: "required: ES256, EdDSA, RS256 or PS256"}
	}
	alg, err := keys.ParseAlgorithm(algorithm)
	if err != nil {
		return keys.KeyView{}, &FieldError{Field: "algorithm", Msg: err.Error(), Cause: keys.ErrUnsupportedAlgorithm}
	}
	pub, err := keys.ParsePublicKey(publicKey, alg)
	if err != nil {
		return keys.KeyView{}, &FieldError{Field: "public_key", Msg: err.Error()}
	}
	if err := keys.CheckPublic(alg, pub); err != nil {
		return keys.KeyView{}, &FieldError{Field: "public_key", Msg: err.Error()}
	}
	if _, err := s.store.GetApp(ctx, appID); err != nil {
		return keys.KeyView{}, fmt.Errorf("app: register key: %w", err)
	}
	return s.keys.Register(ctx, appID, alg, pub)
}
