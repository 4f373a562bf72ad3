package server_test

import (
	"net/http"
	"testing"

	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
)

// TestPprofFlag: the profiles are served on the HTTP port only with Pprof.
func TestPprofFlag(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		h := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.Pprof = on }))
		resp, err := http.Get("http://" + h.Server.HTTPAddr() + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Errorf("Pprof=%v: GET /debug/pprof/cmdline = %d, want %d", on, resp.StatusCode, want)
		}
	}
}
