-- Times are unix nanoseconds (UTC), 0 for the zero time. Durations are
-- nanoseconds. String lists are JSON arrays.

CREATE TABLE apps (
    id                 TEXT    NOT NULL PRIMARY KEY,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    enabled            INTEGER NOT NULL,
    max_token_ttl      INTEGER NOT NULL,
    default_token_ttl  INTEGER NOT NULL,
    refresh_idle_ttl   INTEGER NOT NULL,
    refresh_family_ttl INTEGER NOT NULL,
    key_rotation_period INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE app_keys (
    id                 TEXT    NOT NULL PRIMARY KEY,
    app_id             TEXT    NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    algorithm          TEXT    NOT NULL,
    public_jwk         TEXT    NOT NULL,
    sealed_private_key TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    activates_at       INTEGER NOT NULL,
    verify_until       INTEGER NOT NULL,
    revoked_at         INTEGER NOT NULL
) STRICT;

CREATE INDEX app_keys_by_app ON app_keys (app_id, created_at DESC, id DESC);

CREATE TABLE callers (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    roles         TEXT    NOT NULL,
    app_ids       TEXT    NOT NULL,
    mtls_identity TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

-- An empty mTLS identity means none; only real identities are unique.
CREATE UNIQUE INDEX callers_by_mtls_identity ON callers (mtls_identity) WHERE mtls_identity <> '';

CREATE TABLE api_keys (
    hash       TEXT    NOT NULL PRIMARY KEY,
    caller_id  TEXT    NOT NULL REFERENCES callers (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX api_keys_by_caller ON api_keys (caller_id);

CREATE TABLE refresh_tokens (
    hash                    TEXT    NOT NULL PRIMARY KEY,
    family_id               TEXT    NOT NULL,
    app_id                  TEXT    NOT NULL,
    subject                 TEXT    NOT NULL,
    audience                TEXT    NOT NULL,
    claims                  BLOB,
    access_token_id         TEXT    NOT NULL,
    access_token_expires_at INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    expires_at              INTEGER NOT NULL,
    family_expires_at       INTEGER NOT NULL,
    used_at                 INTEGER NOT NULL,
    idempotency_key         TEXT    NOT NULL,
    replay                  BLOB,
    revoked_at              INTEGER NOT NULL
) STRICT;

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (app_id, subject);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE revocations (
    app_id     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    PRIMARY KEY (app_id, kind, value)
) STRICT, WITHOUT ROWID;

CREATE INDEX revocations_by_expiry ON revocations (expires_at);
