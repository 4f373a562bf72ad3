-- Change notifications: every replica LISTENs on the channel
-- tokend_changes and applies what changed to its in-memory copies (see
-- feed.go). Triggers send, at commit and in commit order, one small JSON
-- payload per changed row; PostgreSQL folds identical payloads of one
-- transaction into one (an app created with its key, a rotation writing
-- three keys: one notification).
--
--   {"s": schema, "k": "app",    "id": app id}     apps, app_keys
--   {"s": schema, "k": "caller", "id": caller id}  callers, api_keys
--   {"s": schema, "k": "revocation", "app": ..., "kind": ..., "value": ...,
--    "revoked_at": ns, "expires_at": ns}           revocations
--
-- "s" is the schema of the table, so that installations in several
-- schemas of one database (the channel is per database) ignore each
-- other's changes. A payload must stay under NOTIFY's 8000 bytes: one that
-- would not (an id or a revoked subject of several kB) is replaced by
-- {"k": "resync"} or {"k": "revocations"}, which make replicas reload
-- instead. A revocation's free-text reason is never sent.

CREATE FUNCTION tokend_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r       jsonb;
    payload text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := to_jsonb(OLD);
    ELSE
        r := to_jsonb(NEW);
    END IF;
    -- TG_ARGV: the kind, and the column holding the id.
    payload := json_build_object('s', TG_TABLE_SCHEMA, 'k', TG_ARGV[0], 'id', r ->> TG_ARGV[1])::text;
    IF octet_length(payload) >= 8000 THEN
        payload := json_build_object('s', TG_TABLE_SCHEMA, 'k', 'resync')::text;
    END IF;
    PERFORM pg_notify('tokend_changes', payload);
    RETURN NULL;
END
$$;

CREATE FUNCTION tokend_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    payload := json_build_object('s', TG_TABLE_SCHEMA, 'k', 'revocation',
        'app', NEW.app_id, 'kind', NEW.kind, 'value', NEW.value,
        'revoked_at', NEW.revoked_at, 'expires_at', NEW.expires_at)::text;
    IF octet_length(payload) >= 8000 THEN
        payload := json_build_object('s', TG_TABLE_SCHEMA, 'k', 'revocations')::text;
    END IF;
    PERFORM pg_notify('tokend_changes', payload);
    RETURN NULL;
END
$$;

CREATE TRIGGER apps_notify AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH ROW EXECUTE FUNCTION tokend_notify_change('app', 'id');
CREATE TRIGGER app_keys_notify AFTER INSERT OR UPDATE OR DELETE ON app_keys
    FOR EACH ROW EXECUTE FUNCTION tokend_notify_change('app', 'app_id');
CREATE TRIGGER callers_notify AFTER INSERT OR UPDATE OR DELETE ON callers
    FOR EACH ROW EXECUTE FUNCTION tokend_notify_change('caller', 'id');
CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION tokend_notify_change('caller', 'caller_id');
-- Expired entries are deleted by every replica's sweeper on its own
-- clock: deletes need no notification.
CREATE TRIGGER revocations_notify AFTER INSERT OR UPDATE ON revocations
    FOR EACH ROW EXECUTE FUNCTION tokend_notify_revocation();
