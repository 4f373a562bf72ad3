package tokenapi

import (
	"context"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
)

// RevokeAppKey removes a key from verification at once.
func (s *AppServer) RevokeAppKey(ctx context.Context, req *tokendv1.RevokeAppKeyRequest) (*tokendv1.RevokeAppKeyResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, req.GetAppId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	k, err := s.apps.RevokeKey(ctx, req.GetAppId(), req.GetKeyId(), req.GetReason())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.RevokeAppKeyResponse{Key: keyToProto(k)}, nil
}

// RegisterAppKey adds an externally generated public key.
func (s *AppServer) RegisterAppKey(ctx context.Context, req *tokendv1.RegisterAppKeyRequest) (*tokendv1.RegisterAppKeyResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, req.GetAppId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	k, err := s.apps.RegisterKey(ctx, req.GetAppId(), req.GetAlgorithm(), req.GetPublicKey())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.RegisterAppKeyResponse{Key: keyToProto(k)}, nil
}
