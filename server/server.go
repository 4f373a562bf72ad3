package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/app"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/interceptor"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/metrics"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/postgres"
	"github.com/tokend/tokend/server/token"
	"github.com/tokend/tokend/server/tokenapi"
	"github.com/tokend/tokend/server/watch"
)

// Server is a running tokend: gRPC and HTTP listeners over one store.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	store    storage.Store
	registry *keys.Registry
	dir      *auth.Directory
	tlsFiles *tlsFiles // nil without TLS
	sweeper  *refresh.Sweeper
	keyMaint *keys.Maintainer   // writes key states back, rotates on schedule
	bg       sync.WaitGroup     // background loops started by Serve
	stopBg   context.CancelFunc // stops them; set in build
	bgCtx    context.Context

	feed storage.ChangeFeed // the store's, nil on SQLite
	repl *replicator        // follows other replicas (replication.go); nil on SQLite

	grpc   *grpc.Server
	health *health.Server
	http   *http.Server

	grpcLis, httpLis net.Listener

	hub         *watch.Hub    // changes WatchKeys streams; nil when off
	noWatch     bool          // WithoutWatchKeys
	watchMaxAge time.Duration // 0: tokenapi.DefaultWatchMaxAge

	ops operations // metrics, store health checker, tracing (operations.go)

	generatedAdminKey string
	closeOnce         sync.Once
}

// Option adjusts New.
type Option func(*Server)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New opens the store, loads keys and callers, and binds the listeners.
// Call Serve to start answering.
func New(ctx context.Context, cfg Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := s.setupOperations(ctx, log); err != nil {
		return nil, err
	}
	if !postgres.IsDSN(cfg.Store) { // the SQLite file and a generated KEK live there
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("server: data dir: %w", err)
		}
	}
	kek, err := s.loadKEK()
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.feed, _ = st.(storage.ChangeFeed) // before wrapping, which hides it (replication.go)
	s.store = s.instrumentStore(st)
	if err := s.build(ctx, kek); err != nil {
		_ = st.Close()
		_ = s.stopTracing()
		return nil, err
	}
	return s, nil
}

func (s *Server) loadKEK() (*keys.KEK, error) {
	switch {
	case s.cfg.KEK != "":
		k, err := keys.ParseKEK(s.cfg.KEK)
		if err != nil {
			return nil, fmt.Errorf("config: kek: TOKEND_KEK: %w", err)
		}
		return k, nil
	case s.cfg.KEKFile != "":
		return keys.LoadKEKFile(s.cfg.KEKFile)
	}
	path := filepath.Join(s.cfg.DataDir, kekFileName)
	k, created, err := keys.LoadOrCreateKEKFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Warn("generated a key-encryption key in the data dir; fine for one node, replicas sharing a store must share it (TOKEND_KEK_FILE)", slog.String("path", path))
	}
	return k, nil
}

func (s *Server) build(ctx context.Context, kek *keys.KEK) error {
	s.registry = keys.NewRegistry(kek)
	if err := s.registry.Load(ctx, s.store); err != nil {
		return fmt.Errorf("server: load keys (is this the KEK the keys were sealed with?): %w", err)
	}
	s.dir = auth.NewDirectory(s.store, s.now)
	if err := s.dir.Reload(ctx); err != nil {
		return err
	}
	callers := auth.NewService(s.store, s.dir, s.now)
	if err := s.syncCallersFile(ctx, callers); err != nil {
		return err
	}
	if err := s.bootstrapAdmin(ctx, callers); err != nil {
		return err
	}

	km := keys.NewManager(s.store, kek, s.registry, s.now, s.cfg.Leeway, s.cfg.JWKSMaxAge, keys.WithLogger(s.log), keys.WithRotationObserver(s.ops.metrics.KeyRotated))
	s.keyMaint = keys.NewMaintainer(s.store, km, s.log)
	apps := app.NewService(s.store, km, s.now)
	issuer := token.NewIssuer(s.registry, s.cfg.Issuer, token.WithIssuerClock(s.now), token.WithIssuerMaxTokenSize(s.cfg.MaxTokenSize))
	// Revocation: the denylist validation reads is in memory, loaded now and
	// updated by every revocation of this process before it answers.
	deny := refresh.NewDenylist()
	if err := deny.Load(ctx, s.store, s.now()); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	validator := token.NewValidator(s.registry,
		token.WithClock(s.now), token.WithLeeway(s.cfg.Leeway), token.WithMaxTokenSize(s.cfg.MaxTokenSize),
		token.WithDenylist(deny), token.WithCache(s.cfg.ValidationCacheSize))
	refresher := refresh.New(s.store, s.registry, issuer, deny,
		refresh.WithClock(s.now), refresh.WithLeeway(s.cfg.Leeway), refresh.WithLogger(s.log))
	s.sweeper = refresh.NewSweeper(s.store, deny, s.log)
	repl, err := s.newReplicator(km, deny)
	if err != nil {
		return err
	}
	s.repl = repl
	s.bgCtx, s.stopBg = context.WithCancel(context.Background())

	reg := s.ops.reg
	if err := s.observeDomain(deny); err != nil {
		return err
	}
	grpcMetrics := metrics.NewGRPCServer()
	reg.MustRegister(grpcMetrics)
	authz, authzErr := newExtAuthz(s.cfg.ExtAuthzPolicy, validator, s.log, reg)
	if authzErr != nil {
		return authzErr
	}

	chainOpts := interceptor.Options{
		Logger: s.log,
		Auth: func(ctx context.Context) (context.Context, error) {
			ctx, err := s.dir.AuthFunc(ctx)
			if err != nil {
				return ctx, tokenapi.ToStatus(ctx, s.log, err)
			}
			if c, ok := auth.CallerFrom(ctx); ok {
				logging.AddFields(ctx, logging.Fields{"caller", c.Name})
			}
			return ctx, nil
		},
		PanicError: func(ctx context.Context) error {
			return tokenapi.ToStatus(ctx, s.log, errors.New("panic"))
		},
		Metrics:         grpcMetrics,
		AccessLog:       interceptor.AccessLog(s.cfg.AccessLog),
		DefaultDeadline: s.cfg.DefaultRPCTimeout,
	}
	s.callerGuards(&chainOpts)
	unary, stream := interceptor.Chain(chainOpts)
	transport, err := s.transportOptions()
	if err != nil {
		return err
	}
	transport = append(transport, s.cfg.limitOptions()...) // message size, streams, keepalive
	transport = append(transport, s.statsHandlers()...)    // tracing, when on
	observe := tokenapi.Observer(s.ops.metrics, s.registry, chainOpts.AccessLog != interceptor.AccessLogOff)
	s.grpc = grpc.NewServer(append([]grpc.ServerOption{
		grpc.ForceServerCodecV2(tokenapi.Codec()),
		grpc.NumStreamWorkers(StreamWorkers()), // workers.go
		grpc.UnaryInterceptor(interceptor.ChainUnary(append(unary, observe, tokenapi.RejectInvalidUTF8)...)),
		grpc.ChainStreamInterceptor(append(stream, tokenapi.RejectInvalidUTF8Stream)...),
	}, transport...)...)
	tokendv1.RegisterTokenServiceServer(s.grpc, s.enableWatch(tokenapi.NewTokenServer(issuer, validator, s.registry, refresher, s.now, s.log), deny))
	tokendv1.RegisterAppServiceServer(s.grpc, tokenapi.NewAppServer(apps, s.log))
	tokendv1.RegisterCallerServiceServer(s.grpc, tokenapi.NewCallerServer(callers, s.log))
	authv3.RegisterAuthorizationServer(s.grpc, authz)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.startHealth() // every registered service SERVING while the store answers
	grpcMetrics.InitializeMetrics(s.grpc)

	if s.grpcLis, err = net.Listen("tcp", s.cfg.GRPCListen); err != nil {
		return fmt.Errorf("server: listen gRPC: %w", err)
	}
	if s.cfg.HTTPListen != "" {
		if s.httpLis, err = net.Listen("tcp", s.cfg.HTTPListen); err != nil {
			_ = s.grpcLis.Close()
			return fmt.Errorf("server: listen HTTP: %w", err)
		}
		s.httpLis = s.wrapHTTPListener(s.httpLis)
		s.http = &http.Server{Handler: s.httpHandler(reg), ReadHeaderTimeout: 5 * time.Second}
	}
	return nil
}

// bootstrapAdmin makes the admin caller of TOKEND_ADMIN_KEY, or, on a store
// without any caller, generates an admin key for GeneratedAdminKey.
func (s *Server) bootstrapAdmin(ctx context.Context, callers *auth.Service) error {
	key := s.cfg.AdminKey
	if key == "" {
		existing, err := s.store.ListCallers(ctx)
		if err != nil {
			return fmt.Errorf("server: list callers: %w", err)
		}
		if len(existing) > 0 {
			return nil
		}
		if key, _, err = auth.NewAPIKey(); err != nil {
			return err
		}
		s.generatedAdminKey = key
	}
	return callers.Bootstrap(ctx, key)
}

// GeneratedAdminKey is the admin API key generated at this start, when the
// store had no caller and no TOKEND_ADMIN_KEY was set; empty otherwise. It
// is shown once by the caller of New and never logged.
func (s *Server) GeneratedAdminKey() string { return s.generatedAdminKey }

// GRPCAddr is the bound gRPC address.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr is the bound HTTP address, or "" without HTTP.
func (s *Server) HTTPAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// Serve answers on both listeners until ctx is done, then shuts down
// gracefully. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	if s.http != nil {
		go func() {
			if err := s.http.Serve(s.httpLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
				return
			}
			errc <- nil
		}()
	}
	s.bg.Go(func() { s.sweeper.Run(s.bgCtx, s.now, refresh.DefaultSweepInterval) })
	s.bg.Go(func() { s.reloadCallers(s.bgCtx) })
	s.bg.Go(func() { s.keyMaint.Run(s.bgCtx, s.cfg.KeyCheckInterval, s.now) })
	if s.repl != nil {
		s.bg.Go(func() { s.repl.run(s.bgCtx) })
	}
	s.bg.Go(func() { s.runHealth(s.bgCtx) })
	s.log.Info("tokend serving", slog.String("grpc", s.GRPCAddr()), slog.String("http", s.HTTPAddr()))
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(sctx))
}

// Shutdown stops accepting calls, lets in-flight ones finish until ctx is
// done, then closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.health.Shutdown()
		s.closeWatch() // GracefulStop would wait for the WatchKeys streams
		if s.http != nil {
			err = errors.Join(err, s.http.Shutdown(ctx))
		}
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
			<-done
		}
		_ = s.grpcLis.Close() // already closed when Serve ran
		if s.httpLis != nil {
			_ = s.httpLis.Close()
		}
		s.stopBg()
		s.bg.Wait()
		err = errors.Join(err, s.store.Close(), s.stopTracing())
		s.log.Info("tokend stopped")
	})
	return err
}
