package server_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
)

// mtlsEnv is a server with TLS and a client CA made in the test.
type mtlsEnv struct {
	h      *servertest.Harness
	ca     *servertest.CA
	server servertest.Issued
	appID  string
}

func startMTLS(t *testing.T, opts ...servertest.Option) mtlsEnv {
	t.Helper()
	ca := servertest.NewCA(t, "clients")
	srvCert := ca.Server(t)
	opts = append([]servertest.Option{
		servertest.WithConfig(func(c *server.Config) {
			c.TLSCert, c.TLSKey, c.ClientCA = srvCert.CertFile, srvCert.KeyFile, ca.CertFile
		}),
		servertest.WithClientTLS(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}),
	}, opts...)
	h := servertest.Start(t, opts...)
	return mtlsEnv{h: h, ca: ca, server: srvCert, appID: createApp(t, h.Admin, "").GetApp().GetAppId()}
}

// client connects with a client certificate (nil: none) and an API key
// ("" : none).
func (e mtlsEnv) client(t *testing.T, cert *tls.Certificate, apiKey string) *client.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: e.ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	opts := []client.Option{client.WithTLS(cfg)}
	if apiKey != "" {
		opts = append(opts, client.WithAPIKey(apiKey))
	}
	c, err := client.New(e.h.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	e := startMTLS(t)
	ctx := t.Context()
	const spiffe = "spiffe://example.org/ns/billing/sa/api"
	billing, err := e.h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{
		Name: "billing", Roles: []string{"issuer"}, AppIds: []string{e.appID}, MtlsIdentity: spiffe,
	})
	if err != nil {
		t.Fatalf("CreateCaller over TLS with the admin API key: %v", err)
	}
	sidecar, err := e.h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{
		Name: "sidecar", Roles: []string{"validator"}, MtlsIdentity: "sidecar.example.org",
	})
	if err != nil {
		t.Fatal(err)
	}
	billingCert := e.ca.Client(t, "billing", spiffe, "ignored-when-a-uri-is-there.example.org").TLS
	sidecarCert := e.ca.Client(t, "sidecar", "", "sidecar.example.org").TLS
	strangerCert := e.ca.Client(t, "stranger", "spiffe://example.org/ns/x/sa/stranger").TLS
	noSANCert := e.ca.Client(t, "no-san", "").TLS
	otherCA := servertest.NewCA(t, "other")
	forgedCert := otherCA.Client(t, "forged", spiffe).TLS

	issue := func(c *client.Client) error {
		_, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: e.appID, Subject: "s"})
		return err
	}
	validate := func(c *client.Client) error {
		_, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: "x.y.z"})
		return err
	}
	tests := []struct {
		name   string
		cert   *tls.Certificate
		apiKey string
		call   func(*client.Client) error
		want   error // nil: success
	}{
		{"URI SAN cert is its caller", &billingCert, "", issue, nil},
		{"URI SAN cert has its caller's roles only", &billingCert, "", validate, client.ErrRoleDenied},
		{"DNS SAN cert is its caller", &sidecarCert, "", validate, nil},
		{"cert and API key of the same caller", &billingCert, billing.GetApiKey(), issue, nil},
		{"cert and API key of different callers", &billingCert, sidecar.GetApiKey(), issue, client.ErrCredentialsInvalid},
		{"cert of no caller", &strangerCert, "", validate, client.ErrCredentialsInvalid},
		{"cert of no caller with a good API key", &strangerCert, sidecar.GetApiKey(), validate, client.ErrCredentialsInvalid},
		{"cert without SAN", &noSANCert, "", validate, client.ErrCredentialsInvalid},
		{"no cert, API key over TLS", nil, billing.GetApiKey(), issue, nil},
		{"no cert, no key", nil, "", validate, client.ErrCredentialsMissing},
		{"no cert, wrong key", nil, "tkd_wrong", validate, client.ErrCredentialsInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(e.client(t, tt.cert, tt.apiKey))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && errors.Is(tt.want, client.ErrCredentialsInvalid) {
				if code, _ := codeReason(err); code != codes.Unauthenticated {
					t.Errorf("code %v, want Unauthenticated", code)
				}
			}
		})
	}

	t.Run("cert of another CA fails the handshake", func(t *testing.T) {
		t.Parallel()
		err := validate(e.client(t, &forgedCert, ""))
		if code, _ := codeReason(err); code != codes.Unavailable && code != codes.Unauthenticated {
			t.Errorf("got %v, want the handshake to fail (Unavailable) or Unauthenticated", err)
		}
	})
	t.Run("plain text to a TLS server fails", func(t *testing.T) {
		t.Parallel()
		c, err := client.New(e.h.Addr(), client.WithAPIKey(servertest.AdminKey))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.ListApps(ctx, &tokendv1.ListAppsRequest{}); err == nil {
			t.Error("a plain-text client reached a TLS server")
		}
	})
	t.Run("HTTP serves TLS", func(t *testing.T) {
		t.Parallel()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool(), MinVersion: tls.VersionTLS12}}}
		resp, err := hc.Get("https://" + e.h.Server.HTTPAddr() + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz over TLS: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

// A deleted caller stops working at once, by certificate and by API key.
func TestDeletedCallerStopsAtOnce(t *testing.T) {
	t.Parallel()
	e := startMTLS(t)
	ctx := t.Context()
	const spiffe = "spiffe://example.org/ns/x/sa/doomed"
	created, err := e.h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "doomed", Roles: []string{"validator"}, MtlsIdentity: spiffe})
	if err != nil {
		t.Fatal(err)
	}
	cert := e.ca.Client(t, "doomed", spiffe).TLS
	byCert, byKey := e.client(t, &cert, ""), e.client(t, nil, created.GetApiKey())
	for name, c := range map[string]*client.Client{"cert": byCert, "key": byKey} {
		if _, err := c.GetJWKS(ctx, &tokendv1.GetJWKSRequest{}); err != nil {
			t.Fatalf("by %s before delete: %v", name, err)
		}
	}
	if _, err := e.h.Admin.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: created.GetCaller().GetCallerId()}); err != nil {
		t.Fatal(err)
	}
	// The same connections, right after: no reconnect, no cache to expire.
	for name, c := range map[string]*client.Client{"cert": byCert, "key": byKey} {
		if _, err := c.GetJWKS(ctx, &tokendv1.GetJWKSRequest{}); !errors.Is(err, client.ErrCredentialsInvalid) {
			t.Errorf("by %s after delete: %v, want ErrCredentialsInvalid", name, err)
		}
	}
	if _, err := e.h.Admin.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: created.GetCaller().GetCallerId()}); !errors.Is(err, client.ErrCallerNotFound) {
		t.Errorf("second delete: %v, want ErrCallerNotFound", err)
	}
}

// With TLS but no client CA, client certificates are not asked for and
// API keys work.
func TestTLSWithoutClientCA(t *testing.T) {
	t.Parallel()
	ca := servertest.NewCA(t, "server-only")
	srvCert := ca.Server(t)
	h := servertest.Start(t,
		servertest.WithConfig(func(c *server.Config) { c.TLSCert, c.TLSKey = srvCert.CertFile, srvCert.KeyFile }),
		servertest.WithClientTLS(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}))
	if _, err := h.Admin.ListApps(t.Context(), &tokendv1.ListAppsRequest{}); err != nil {
		t.Errorf("API key over TLS: %v", err)
	}
	if _, err := h.Client(t, "").ListApps(t.Context(), &tokendv1.ListAppsRequest{}); !errors.Is(err, client.ErrCredentialsMissing) {
		t.Errorf("no key over TLS: %v, want ErrCredentialsMissing", err)
	}
}
