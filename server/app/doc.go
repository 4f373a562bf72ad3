// Package app owns the lifecycle of apps (tenants): creation with a first
// signing key whose private half is handed out once, reading and paging,
// and updates of the token policy and enabled flag. It validates app fields
// and keeps the key Registry in step with the store.
//
// It imports neither gRPC nor gen/; errors are sentinels or *FieldError.
package app
