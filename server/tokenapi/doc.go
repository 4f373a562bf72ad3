// Package tokenapi is the gRPC adapter of tokend: it implements the
// generated TokenService, AppService and CallerService servers by turning
// proto requests into calls of the domain packages (token, app, auth, keys)
// and their results back into proto responses.
//
// It is the ONE place where domain errors become gRPC status codes with a
// google.rpc.ErrorInfo detail (ToStatus). Domain packages never import it.
package tokenapi
