package tokenapi

import (
	"context"
	"fmt"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/token"
)

// Limits of the RefreshToken and RevokeToken fields.
const (
	maxIdempotencyKeyLen = 256
	maxTokenIDLen        = 256
	maxRevokeReasonLen   = 512
)

// RefreshToken exchanges a refresh token for new tokens. The caller needs
// the issuer role for the token's app; a caller without it learns nothing
// about whether the token exists beyond what an unknown token answers.
func (s *TokenServer) RefreshToken(ctx context.Context, req *tokendv1.RefreshTokenRequest) (*tokendv1.RefreshTokenResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleIssuer, ""); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	rr, err := refreshRequest(req)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	caller, _ := auth.CallerFrom(ctx)
	rr.CallerID = caller.ID
	rr.Authorize = func(appID string) error { return auth.RequireApp(ctx, auth.RoleIssuer, appID) }
	out, err := s.refresh.Refresh(ctx, rr)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &tokendv1.RefreshTokenResponse{
		AccessToken: out.Access.Token, TokenId: out.Access.ID, KeyId: out.Access.KeyID, ExpiresAt: ts(out.Access.ExpiresAt),
		RefreshToken: out.RefreshToken, RefreshTokenExpiresAt: ts(out.RefreshExpiresAt),
	}, nil
}

func refreshRequest(req *tokendv1.RefreshTokenRequest) (refresh.RefreshRequest, error) {
	rr := refresh.RefreshRequest{Token: req.GetRefreshToken(), IdempotencyKey: req.GetIdempotencyKey()}
	if rr.Token == "" {
		return rr, invalidField("refresh_token", "required")
	}
	if len(rr.IdempotencyKey) > maxIdempotencyKeyLen {
		return rr, invalidField("idempotency_key", fmt.Sprintf("at most %d bytes", maxIdempotencyKeyLen))
	}
	ttl, err := optDuration("ttl", req.GetTtl())
	if err != nil {
		return rr, err
	}
	if ttl != nil {
		if *ttl < 0 {
			return rr, token.ErrTTLOutOfRange
		}
		rr.TTL = *ttl
	}
	return rr, nil
}

// RevokeToken revokes an access token, a refresh family or a subject.
func (s *TokenServer) RevokeToken(ctx context.Context, req *tokendv1.RevokeTokenRequest) (*tokendv1.RevokeTokenResponse, error) {
	if req.GetAppId() == "" {
		return nil, ToStatus(ctx, s.log, invalidField("app_id", "required"))
	}
	if err := auth.RequireApp(ctx, auth.RoleIssuer, req.GetAppId()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	rr, err := revokeRequest(req)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	n, err := s.refresh.Revoke(ctx, rr)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &tokendv1.RevokeTokenResponse{RevokedRefreshTokens: int64(n)}, nil
}

func revokeRequest(req *tokendv1.RevokeTokenRequest) (refresh.RevokeRequest, error) {
	rr := refresh.RevokeRequest{AppID: req.GetAppId(), Reason: req.GetReason()}
	if len(rr.Reason) > maxRevokeReasonLen {
		return rr, invalidField("reason", fmt.Sprintf("at most %d bytes", maxRevokeReasonLen))
	}
	switch t := req.GetTarget().(type) {
	case *tokendv1.RevokeTokenRequest_TokenId:
		switch {
		case t.TokenId == "":
			return rr, invalidField("token_id", "required")
		case len(t.TokenId) > maxTokenIDLen:
			return rr, invalidField("token_id", fmt.Sprintf("at most %d bytes", maxTokenIDLen))
		}
		rr.Target.TokenID = t.TokenId
	case *tokendv1.RevokeTokenRequest_RefreshToken:
		if t.RefreshToken == "" {
			return rr, invalidField("refresh_token", "required")
		}
		rr.Target.RefreshToken = t.RefreshToken
	case *tokendv1.RevokeTokenRequest_Subject:
		switch {
		case t.Subject == "":
			return rr, invalidField("subject", "required")
		case len(t.Subject) > token.MaxSubjectLen:
			return rr, invalidField("subject", fmt.Sprintf("at most %d bytes", token.MaxSubjectLen))
		}
		rr.Target.Subject = t.Subject
	default:
		return rr, invalidField("target", "one of token_id, refresh_token or subject is required")
	}
	return rr, nil
}
