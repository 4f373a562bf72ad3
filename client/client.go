package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// Client calls tokend. It is safe for concurrent use.
// Every method of the generated TokenService, AppService and CallerService
// clients is available on it; their errors are *Error values that
// errors.Is matches against this package's sentinels.
type Client struct {
	tokendv1.TokenServiceClient
	tokendv1.AppServiceClient
	tokendv1.CallerServiceClient

	conn *grpc.ClientConn
}

type options struct {
	apiKey    string
	tlsConfig *tls.Config
	timeout   time.Duration
	retries   int
	dialOpts  []grpc.DialOption
}

// Option configures New.
type Option func(*options)

// WithAPIKey sends "authorization: Bearer <key>" with every call.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithTLS connects over TLS with cfg (set Certificates for mTLS). Without
// it the connection is plain text, for loopback and tests.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tlsConfig = cfg } }

// WithTimeout sets the deadline of calls whose context has none (default
// 10 s; 0 disables it).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetries sets how many times a call that failed with UNAVAILABLE is
// retried, with exponential backoff (default 3; 0 disables). No other code
// is retried. A RefreshToken is retried only when it carries an
// idempotency key (TokenSource always sets one).
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithDialOptions adds gRPC dial options (for example a bufconn dialer).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// New returns a client of the tokend at target (host:port or any gRPC
// target). It does not connect until the first call.
func New(target string, opts ...Option) (*Client, error) {
	o := options{timeout: 10 * time.Second, retries: 3}
	for _, opt := range opts {
		opt(&o)
	}
	dial := []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(unaryInterceptor(o.timeout, o.retries)),
		grpc.WithChainStreamInterceptor(streamInterceptor),
	}
	if o.tlsConfig != nil {
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(o.tlsConfig)))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.apiKey != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(apiKeyCreds{key: o.apiKey}))
	}
	dial = append(dial, o.dialOpts...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("tokend client: %w", err)
	}
	return &Client{
		TokenServiceClient:  tokendv1.NewTokenServiceClient(conn),
		AppServiceClient:    tokendv1.NewAppServiceClient(conn),
		CallerServiceClient: tokendv1.NewCallerServiceClient(conn),
		conn:                conn,
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the underlying connection (for health checks or other
// generated clients).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

type apiKeyCreds struct{ key string }

func (a apiKeyCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + a.key}, nil
}

// RequireTransportSecurity is false so that plain-text loopback works; use
// WithTLS everywhere else.
func (a apiKeyCreds) RequireTransportSecurity() bool { return false }

// unaryInterceptor applies the default deadline, retries UNAVAILABLE with
// backoff, and turns status errors into *Error.
func unaryInterceptor(timeout time.Duration, retries int) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok && timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		retries := retries
		if r, ok := req.(*tokendv1.RefreshTokenRequest); ok && r.GetIdempotencyKey() == "" {
			// Without an idempotency key, a retry of a rotation the server
			// committed before the answer was lost would be reuse and
			// revoke the family.
			retries = 0
		}
		backoff := 50 * time.Millisecond
		for attempt := 0; ; attempt++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if status.Code(err) != codes.Unavailable || attempt >= retries {
				return fromStatus(err)
			}
			select {
			case <-ctx.Done():
				return fromStatus(err)
			case <-time.After(backoff + time.Duration(randFraction()*float64(backoff))):
			}
			backoff *= 2
		}
	}
}

// streamInterceptor turns the status errors of a stream (opening it,
// sending, receiving) into *Error. Streams get no default deadline (a
// WatchKeys stream lives long) and no retries (its caller reconnects).
func streamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, fromStatus(err)
	}
	return errorStream{cs}, nil
}

// errorStream converts the errors of a client stream; io.EOF passes as is.
type errorStream struct{ grpc.ClientStream }

func (s errorStream) SendMsg(m any) error { return fromStatus(s.ClientStream.SendMsg(m)) }
func (s errorStream) RecvMsg(m any) error { return fromStatus(s.ClientStream.RecvMsg(m)) }
func (s errorStream) CloseSend() error    { return fromStatus(s.ClientStream.CloseSend()) }
func (s errorStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	return md, fromStatus(err)
}
