package extauthz_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	"github.com/tokend/tokend/server/extauthz"
)

// The typed_config types of the Envoy example, registered by import.
var (
	_ = extauthzv3.ExtAuthz{}
	_ = routerv3.Router{}
	_ = hcmv3.HttpConnectionManager{}
	_ = httpv3.HttpProtocolOptions{}
)

// docBlocks returns the YAML blocks of docs/sidecar.md that follow a
// "checked by server/extauthz TestDocs: NAME" marker, by NAME.
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	text, err := os.ReadFile("../../docs/sidecar.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	blocks := map[string]string{}
	const marker = "<!-- checked by server/extauthz TestDocs: "
	rest := string(text)
	for {
		i := strings.Index(rest, marker)
		if i < 0 {
			break
		}
		rest = rest[i+len(marker):]
		name, _, _ := strings.Cut(rest, " ")
		start := strings.Index(rest, "```yaml\n")
		end := strings.Index(rest[start+8:], "\n```")
		if start < 0 || end < 0 {
			t.Fatalf("docs: no yaml block after the %s marker", name)
		}
		blocks[name] = rest[start+8 : start+8+end+1]
		rest = rest[start+8+end:]
	}
	return blocks
}

// TestDocs checks the examples of docs/sidecar.md: the policy compiles,
// the Envoy config is a valid Envoy v3 bootstrap as the go-control-plane
// types and their validation rules see it, and the Istio manifests parse.
func TestDocs(t *testing.T) {
	t.Parallel()
	blocks := docBlocks(t)
	for _, name := range []string{"policy", "envoy", "istio"} {
		if blocks[name] == "" {
			t.Fatalf("docs: block %q not found", name)
		}
	}

	t.Run("policy", func(t *testing.T) {
		t.Parallel()
		if _, err := extauthz.ParsePolicy([]byte(blocks["policy"])); err != nil {
			t.Errorf("the documented policy does not compile: %v", err)
		}
	})

	t.Run("envoy", func(t *testing.T) {
		t.Parallel()
		var doc any
		if err := yaml.Unmarshal([]byte(blocks["envoy"]), &doc); err != nil {
			t.Fatalf("Envoy example is not YAML: %v", err)
		}
		js, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("Envoy example as JSON: %v", err)
		}
		var bs bootstrapv3.Bootstrap
		if err := protojson.Unmarshal(js, &bs); err != nil {
			t.Fatalf("Envoy example is not a v3 Bootstrap: %v", err)
		}
		if err := bs.ValidateAll(); err != nil {
			t.Fatalf("Envoy example breaks Envoy's validation rules: %v", err)
		}
		// The ext_authz filter is the one tokend expects.
		hcm := &hcmv3.HttpConnectionManager{}
		if err := bs.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
			t.Fatal(err)
		}
		ea := &extauthzv3.ExtAuthz{}
		if err := hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(ea); err != nil {
			t.Fatal(err)
		}
		md := ea.GetGrpcService().GetInitialMetadata()
		if ea.GetTransportApiVersion().String() != "V3" || ea.GetFailureModeAllow() || ea.GetWithRequestBody() != nil ||
			ea.GetGrpcService().GetEnvoyGrpc().GetClusterName() != "tokend" ||
			len(md) != 1 || md[0].GetKey() != "authorization" || !strings.HasPrefix(md[0].GetValue(), "Bearer ") {
			t.Errorf("ext_authz filter = %v", ea)
		}
	})

	t.Run("istio", func(t *testing.T) {
		t.Parallel()
		dec := yaml.NewDecoder(bytes.NewReader([]byte(blocks["istio"])))
		var kinds []string
		for {
			var doc struct {
				Kind string `yaml:"kind"`
			}
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("Istio example is not YAML: %v", err)
			}
			kinds = append(kinds, doc.Kind)
		}
		if strings.Join(kinds, ",") != "IstioOperator,AuthorizationPolicy,EnvoyFilter" {
			t.Errorf("Istio example kinds = %v", kinds)
		}
	})
}
