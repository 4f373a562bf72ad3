package auth_test

import (
	"errors"
	"testing"

	"github.com/tokend/tokend/server/auth"
)

func TestCertIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		uris, dns []string
		want      string
		wantErr   error
	}{
		{"URI SAN wins", []string{"spiffe://example.org/ns/x/sa/y"}, []string{"svc.example.org"}, "spiffe://example.org/ns/x/sa/y", nil},
		{"first URI SAN", []string{"spiffe://example.org/a", "spiffe://example.org/b"}, nil, "spiffe://example.org/a", nil},
		{"DNS SAN", nil, []string{"Billing.Example.org", "other.example.org"}, "billing.example.org", nil},
		{"no SAN", nil, nil, "", auth.ErrCredentialsInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := auth.CertIdentity(leafCert(t, tt.uris, tt.dns))
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("CertIdentity = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := auth.CertIdentity(nil); !errors.Is(err, auth.ErrCredentialsInvalid) {
		t.Errorf("CertIdentity(nil) = %v, want ErrCredentialsInvalid", err)
	}
}

func TestNormalizeIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"spiffe://example.org/ns/x/sa/y", "spiffe://example.org/ns/x/sa/y", true},
		{"Svc.Example.ORG", "svc.example.org", true},
		{"*.example.org", "*.example.org", true},
		{"has space.example.org", "", false},
		{"spiffe://", "", false},
		{"a..b", "", false},
		{"-bad.example.org", "", false},
		{"under_score.example.org", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := auth.NormalizeIdentity(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("NormalizeIdentity(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}
