package tokenapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/token"
)

// TokenServer implements tokendv1.TokenServiceServer.
type TokenServer struct {
	tokendv1.UnimplementedTokenServiceServer

	issuer    *token.Issuer
	validator *token.Validator
	registry  *keys.Registry
	refresh   *refresh.Service
	now       func() time.Time
	log       *slog.Logger
	watch     *watchSource // nil: WatchKeys is off (see WithWatch)
}

var _ tokendv1.TokenServiceServer = (*TokenServer)(nil)

// NewTokenServer returns a TokenServer. refresher issues, rotates and
// revokes refresh tokens and revokes access tokens.
func NewTokenServer(issuer *token.Issuer, validator *token.Validator, registry *keys.Registry, refresher *refresh.Service, now func() time.Time, log *slog.Logger) *TokenServer {
	return &TokenServer{issuer: issuer, validator: validator, registry: registry, refresh: refresher, now: now, log: log}
}

// IssueToken signs a new access token.
func (s *TokenServer) IssueToken(ctx context.Context, req *tokendv1.IssueTokenRequest) (*tokendv1.IssueTokenResponse, error) {
	if req.GetAppId() == "" {
		return nil, ToStatus(ctx, s.log, invalidField("app_id", "required"))
	}
	if err := auth.RequireApp(ctx, auth.RoleIssuer, req.GetAppId()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	ir, err := issueRequest(req)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	if req.GetIssueRefreshToken() {
		out, err := s.refresh.Issue(ctx, ir)
		if err != nil {
			return nil, ToStatus(ctx, s.log, err)
		}
		return &tokendv1.IssueTokenResponse{
			AccessToken: out.Access.Token, TokenId: out.Access.ID, KeyId: out.Access.KeyID, ExpiresAt: ts(out.Access.ExpiresAt),
			RefreshToken: out.RefreshToken, RefreshTokenExpiresAt: ts(out.RefreshExpiresAt),
		}, nil
	}
	issued, err := s.issuer.Issue(ir)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &tokendv1.IssueTokenResponse{
		AccessToken: issued.Token, TokenId: issued.ID, KeyId: issued.KeyID, ExpiresAt: ts(issued.ExpiresAt),
	}, nil
}

func issueRequest(req *tokendv1.IssueTokenRequest) (token.IssueRequest, error) {
	ttl, err := optDuration("ttl", req.GetTtl())
	if err != nil {
		return token.IssueRequest{}, err
	}
	ir := token.IssueRequest{AppID: req.GetAppId(), Subject: req.GetSubject(), Audience: req.GetAudience()}
	if ttl != nil {
		if *ttl < 0 {
			return ir, token.ErrTTLOutOfRange
		}
		ir.TTL = *ttl
	}
	if ir.NotBeforeDelay, err = positiveDuration("not_before_delay", req.GetNotBeforeDelay()); err != nil {
		return ir, err
	}
	if req.GetClaims() != nil {
		ir.Extra = req.GetClaims().AsMap()
	}
	return ir, nil
}

// ValidateToken answers whether a token is valid.
func (s *TokenServer) ValidateToken(ctx context.Context, req *tokendv1.ValidateTokenRequest) (*tokendv1.ValidateTokenResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleValidator, req.GetAppId()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	res, err := s.validator.Validate(req.GetToken(), token.Expect{Audience: req.GetAudience(), AppID: req.GetAppId()})
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	if res.Claims.AppID != "" {
		if c, _ := auth.CallerFrom(ctx); !c.MayUseApp(res.Claims.AppID) {
			return nil, ToStatus(ctx, s.log, auth.ErrAppScopeDenied)
		}
	}
	// The answer and every message it points to in one allocation: this
	// is the hottest path of the service.
	a := new(validateAnswer)
	resp := &a.resp
	resp.Valid, resp.Reason, resp.Detail = res.Valid(), reasonToProto(res.Reason), res.Detail
	resp.ServerTime = tsInto(s.now(), &a.serverTime)
	if res.Valid() {
		resp.KeyId = res.KeyID
		resp.Claims = &a.claims
		if err := claimsInto(res.Claims, resp.Claims, &a.times); err != nil {
			return nil, ToStatus(ctx, s.log, err)
		}
	}
	return resp, nil
}

// validateAnswer is a ValidateTokenResponse with the messages it points to.
type validateAnswer struct {
	resp       tokendv1.ValidateTokenResponse
	claims     tokendv1.Claims
	serverTime timestamppb.Timestamp
	times      [3]timestamppb.Timestamp
}

// GetJWKS returns public keys.
func (s *TokenServer) GetJWKS(ctx context.Context, req *tokendv1.GetJWKSRequest) (*tokendv1.GetJWKSResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleValidator, req.GetAppId()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	now := s.now()
	if req.GetAppId() != "" {
		b, ok := s.registry.JWKS(req.GetAppId(), now)
		if !ok {
			return nil, ToStatus(ctx, s.log, errAppNotFound)
		}
		return &tokendv1.GetJWKSResponse{JwksJson: string(b), Apps: s.watchedApps([]string{req.GetAppId()}, now)}, nil
	}
	ids := s.registry.AppIDs()
	if c, _ := auth.CallerFrom(ctx); len(c.AppIDs) > 0 {
		ids = ids[:0]
		for _, id := range c.AppIDs {
			if _, ok := s.registry.App(id); ok {
				ids = append(ids, id)
			}
		}
	}
	return &tokendv1.GetJWKSResponse{JwksJson: string(s.registry.JWKSOf(ids, now)), Apps: s.watchedApps(ids, now)}, nil
}

// watchedApps are the policies and key sets of the apps, for GetJWKS.
func (s *TokenServer) watchedApps(ids []string, now time.Time) []*tokendv1.WatchedApp {
	out := make([]*tokendv1.WatchedApp, 0, len(ids))
	for _, id := range ids {
		out = append(out, watchedApp(s.registry, id, now))
	}
	return out
}
