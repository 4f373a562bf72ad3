-- Times are Unix nanoseconds (UTC), 0 for the zero time; durations are
-- nanoseconds: the same representation as the SQLite store, so records
-- round-trip identically (timestamptz would round to microseconds).
-- Identifiers and names are COLLATE "C": ordering and paging (id > $1) are
-- bytewise, whatever the database's default collation.

CREATE TABLE apps (
    id                  text COLLATE "C" NOT NULL PRIMARY KEY,
    name                text    NOT NULL,
    description         text    NOT NULL,
    region              text    NOT NULL,
    enabled             boolean NOT NULL,
    max_token_ttl       bigint  NOT NULL,
    default_token_ttl   bigint  NOT NULL,
    refresh_idle_ttl    bigint  NOT NULL,
    refresh_family_ttl  bigint  NOT NULL,
    key_rotation_period bigint  NOT NULL,
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL
);

CREATE TABLE app_keys (
    id                 text COLLATE "C" NOT NULL PRIMARY KEY,
    app_id             text COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    algorithm          text   NOT NULL,
    public_jwk         text   NOT NULL,
    sealed_private_key text   NOT NULL,
    state              text   NOT NULL,
    created_at         bigint NOT NULL,
    activates_at       bigint NOT NULL,
    verify_until       bigint NOT NULL,
    revoked_at         bigint NOT NULL
);

CREATE INDEX app_keys_by_app ON app_keys (app_id, created_at DESC, id DESC);

CREATE TABLE callers (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    name          text COLLATE "C" NOT NULL UNIQUE,
    roles         text[] NOT NULL,
    app_ids       text[] NOT NULL,
    mtls_identity text   NOT NULL,
    created_at    bigint NOT NULL
);

-- An empty mTLS identity means none; only real identities are unique.
CREATE UNIQUE INDEX callers_by_mtls_identity ON callers (mtls_identity) WHERE mtls_identity <> '';

CREATE TABLE api_keys (
    hash       text COLLATE "C" NOT NULL PRIMARY KEY,
    caller_id  text COLLATE "C" NOT NULL REFERENCES callers (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE INDEX api_keys_by_caller ON api_keys (caller_id);

CREATE TABLE refresh_tokens (
    hash                    text COLLATE "C" NOT NULL PRIMARY KEY,
    family_id               text COLLATE "C" NOT NULL,
    app_id                  text COLLATE "C" NOT NULL,
    subject                 text COLLATE "C" NOT NULL,
    audience                text[] NOT NULL,
    claims                  bytea,
    access_token_id         text   NOT NULL,
    access_token_expires_at bigint NOT NULL,
    created_at              bigint NOT NULL,
    expires_at              bigint NOT NULL,
    family_expires_at       bigint NOT NULL,
    used_at                 bigint NOT NULL,
    idempotency_key         text   NOT NULL,
    replay                  bytea,
    revoked_at              bigint NOT NULL
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (app_id, subject);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE revocations (
    app_id     text COLLATE "C" NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    value      text COLLATE "C" NOT NULL,
    revoked_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    reason     text   NOT NULL,
    PRIMARY KEY (app_id, kind, value)
);

CREATE INDEX revocations_by_expiry ON revocations (expires_at);
