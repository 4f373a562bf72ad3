package tokenapi

import (
	"context"
	"errors"
	"log/slog"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/storage"
)

// CallerServer implements tokendv1.CallerServiceServer.
type CallerServer struct {
	tokendv1.UnimplementedCallerServiceServer

	callers *auth.Service
	log     *slog.Logger
}

var _ tokendv1.CallerServiceServer = (*CallerServer)(nil)

// NewCallerServer returns a CallerServer.
func NewCallerServer(callers *auth.Service, log *slog.Logger) *CallerServer {
	return &CallerServer{callers: callers, log: log}
}

func (s *CallerServer) fail(ctx context.Context, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		err = errCallerNotFound
	}
	return ToStatus(ctx, s.log, err)
}

// requireFullAdmin lets only admins without an app scope manage callers:
// a scoped admin could otherwise mint a caller for every app.
func requireFullAdmin(ctx context.Context) error {
	if err := auth.RequireApp(ctx, auth.RoleAdmin, ""); err != nil {
		return err
	}
	if c, _ := auth.CallerFrom(ctx); len(c.AppIDs) > 0 {
		return auth.ErrAppScopeDenied
	}
	return nil
}

// CreateCaller creates a caller and returns its API key once.
func (s *CallerServer) CreateCaller(ctx context.Context, req *tokendv1.CreateCallerRequest) (*tokendv1.CreateCallerResponse, error) {
	if err := requireFullAdmin(ctx); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, key, err := s.callers.Create(ctx, auth.Spec{
		Name: req.GetName(), Roles: req.GetRoles(), AppIDs: req.GetAppIds(), MTLSIdentity: req.GetMtlsIdentity(),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.CreateCallerResponse{Caller: callerToProto(c), ApiKey: key}, nil
}

// ListCallers returns every caller.
func (s *CallerServer) ListCallers(ctx context.Context, _ *tokendv1.ListCallersRequest) (*tokendv1.ListCallersResponse, error) {
	if err := requireFullAdmin(ctx); err != nil {
		return nil, s.fail(ctx, err)
	}
	cs, err := s.callers.List(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &tokendv1.ListCallersResponse{}
	for _, c := range cs {
		resp.Callers = append(resp.Callers, callerToProto(c))
	}
	return resp, nil
}

// DeleteCaller deletes a caller.
func (s *CallerServer) DeleteCaller(ctx context.Context, req *tokendv1.DeleteCallerRequest) (*tokendv1.DeleteCallerResponse, error) {
	if err := requireFullAdmin(ctx); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.callers.Delete(ctx, req.GetCallerId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.DeleteCallerResponse{}, nil
}

// RotateCallerKey gives a caller a new API key, returned once; its previous
// keys keep working for the grace period (unset: 24 hours; 0: none).
func (s *CallerServer) RotateCallerKey(ctx context.Context, req *tokendv1.RotateCallerKeyRequest) (*tokendv1.RotateCallerKeyResponse, error) {
	if err := requireFullAdmin(ctx); err != nil {
		return nil, s.fail(ctx, err)
	}
	grace := auth.DefaultKeyGrace
	if d, err := optDuration("grace_period", req.GetGracePeriod()); err != nil {
		return nil, s.fail(ctx, err)
	} else if d != nil {
		grace = *d
	}
	key, expireAt, err := s.callers.RotateKey(ctx, req.GetCallerId(), grace)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &tokendv1.RotateCallerKeyResponse{ApiKey: key, PreviousKeysExpireAt: ts(expireAt)}, nil
}
