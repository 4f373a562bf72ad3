package server

import (
	"net/http"
	"net/http/pprof"
)

// mountPprof serves the runtime profiles under /debug/pprof/ (Config.Pprof):
// `go tool pprof http://HTTP_ADDR/debug/pprof/profile?seconds=10`. The
// handlers are registered on mux only, never on http.DefaultServeMux.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
