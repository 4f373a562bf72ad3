package tokenapi

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/app"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/storage"
)

// AppServer implements tokendv1.AppServiceServer.
type AppServer struct {
	tokendv1.UnimplementedAppServiceServer

	apps *app.Service
	log  *slog.Logger
}

var _ tokendv1.AppServiceServer = (*AppServer)(nil)

// NewAppServer returns an AppServer.
func NewAppServer(apps *app.Service, log *slog.Logger) *AppServer {
	return &AppServer{apps: apps, log: log}
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func (s *AppServer) fail(ctx context.Context, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		err = errAppNotFound
	}
	return ToStatus(ctx, s.log, err)
}

// CreateApp creates an app and its first key.
func (s *AppServer) CreateApp(ctx context.Context, req *tokendv1.CreateAppRequest) (*tokendv1.CreateAppResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, ""); err != nil {
		return nil, s.fail(ctx, err)
	}
	if c, _ := auth.CallerFrom(ctx); len(c.AppIDs) > 0 {
		return nil, s.fail(ctx, auth.ErrAppScopeDenied)
	}
	maxTTL, err := positiveDuration("max_token_ttl", req.GetMaxTokenTtl())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	spec := app.Spec{
		Name: req.GetName(), Description: req.GetDescription(), Region: req.GetRegion(),
		Algorithm: req.GetAlgorithm(), MaxTokenTTL: maxTTL,
	}
	for _, d := range []struct {
		name string
		in   *durationpb.Duration
		out  *time.Duration
	}{
		{"default_token_ttl", req.GetDefaultTokenTtl(), &spec.DefaultTokenTTL},
		{"refresh_token_idle_ttl", req.GetRefreshTokenIdleTtl(), &spec.RefreshIdleTTL},
		{"refresh_family_ttl", req.GetRefreshFamilyTtl(), &spec.RefreshFamilyTTL},
		{"key_rotation_period", req.GetKeyRotationPeriod(), &spec.KeyRotationPeriod},
	} {
		if *d.out, err = positiveDuration(d.name, d.in); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	created, err := s.apps.Create(ctx, spec)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.CreateAppResponse{
		App: appToProto(created.App), Key: keyToProto(created.Key), PrivateKeyPem: created.PrivateKeyPEM,
	}, nil
}

// GetApp returns an app.
func (s *AppServer) GetApp(ctx context.Context, req *tokendv1.GetAppRequest) (*tokendv1.GetAppResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, req.GetAppId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	a, err := s.apps.Get(ctx, req.GetAppId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.GetAppResponse{App: appToProto(a)}, nil
}

// ListApps returns a page of apps.
func (s *AppServer) ListApps(ctx context.Context, req *tokendv1.ListAppsRequest) (*tokendv1.ListAppsResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, ""); err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, s.fail(ctx, invalidField("page_size", "must not be negative"))
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	after := ""
	if req.GetPageToken() != "" {
		b, err := base64.RawURLEncoding.DecodeString(req.GetPageToken())
		if err != nil || len(b) == 0 {
			return nil, s.fail(ctx, invalidField("page_token", "not a page token of this service"))
		}
		after = string(b)
	}
	c, _ := auth.CallerFrom(ctx)
	resp := &tokendv1.ListAppsResponse{}
	for {
		page, err := s.apps.List(ctx, after, size)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		for _, a := range page {
			after = a.ID
			if !c.MayUseApp(a.ID) {
				continue
			}
			resp.Apps = append(resp.Apps, appToProto(a))
			if len(resp.Apps) == size {
				break
			}
		}
		if len(page) < size {
			return resp, nil // no app after this page
		}
		if len(resp.Apps) == size {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(after))
			return resp, nil
		}
	}
}

// UpdateApp changes an app.
func (s *AppServer) UpdateApp(ctx context.Context, req *tokendv1.UpdateAppRequest) (*tokendv1.UpdateAppResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, req.GetAppId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	u := app.Update{Enabled: req.Enabled, Description: req.Description}
	var err error
	if u.MaxTokenTTL, err = optDuration("max_token_ttl", req.GetMaxTokenTtl()); err != nil {
		return nil, s.fail(ctx, err)
	}
	for _, d := range []struct {
		name string
		in   *durationpb.Duration
		out  **time.Duration
	}{
		{"default_token_ttl", req.GetDefaultTokenTtl(), &u.DefaultTokenTTL},
		{"refresh_token_idle_ttl", req.GetRefreshTokenIdleTtl(), &u.RefreshIdleTTL},
		{"refresh_family_ttl", req.GetRefreshFamilyTtl(), &u.RefreshFamilyTTL},
		{"key_rotation_period", req.GetKeyRotationPeriod(), &u.KeyRotationPeriod},
	} {
		if *d.out, err = optDuration(d.name, d.in); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	a, err := s.apps.Update(ctx, req.GetAppId(), u)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.UpdateAppResponse{App: appToProto(a)}, nil
}

// RotateAppKey makes a new signing key.
func (s *AppServer) RotateAppKey(ctx context.Context, req *tokendv1.RotateAppKeyRequest) (*tokendv1.RotateAppKeyResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, req.GetAppId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	delay, err := optDuration("activation_delay", req.GetActivationDelay())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	rot, err := s.apps.RotateKey(ctx, req.GetAppId(), req.GetAlgorithm(), delay)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.RotateAppKeyResponse{Key: keyToProto(rot.Key), PrivateKeyPem: rot.PrivateKeyPEM, Warning: rot.Warning}, nil
}

// ListAppKeys returns an app's keys.
func (s *AppServer) ListAppKeys(ctx context.Context, req *tokendv1.ListAppKeysRequest) (*tokendv1.ListAppKeysResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, req.GetAppId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	views, err := s.apps.Keys(ctx, req.GetAppId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &tokendv1.ListAppKeysResponse{}
	for _, v := range views {
		resp.Keys = append(resp.Keys, keyToProto(v))
	}
	return resp, nil
}
