import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvalidReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVALID_REASON_UNSPECIFIED: _ClassVar[InvalidReason]
    INVALID_REASON_MALFORMED: _ClassVar[InvalidReason]
    INVALID_REASON_UNSUPPORTED_ALGORITHM: _ClassVar[InvalidReason]
    INVALID_REASON_UNKNOWN_KEY: _ClassVar[InvalidReason]
    INVALID_REASON_BAD_SIGNATURE: _ClassVar[InvalidReason]
    INVALID_REASON_EXPIRED: _ClassVar[InvalidReason]
    INVALID_REASON_NOT_YET_VALID: _ClassVar[InvalidReason]
    INVALID_REASON_LIFETIME_TOO_LONG: _ClassVar[InvalidReason]
    INVALID_REASON_MISSING_CLAIM: _ClassVar[InvalidReason]
    INVALID_REASON_AUDIENCE_MISMATCH: _ClassVar[InvalidReason]
    INVALID_REASON_UNKNOWN_APP: _ClassVar[InvalidReason]
    INVALID_REASON_APP_MISMATCH: _ClassVar[InvalidReason]
    INVALID_REASON_APP_DISABLED: _ClassVar[InvalidReason]
    INVALID_REASON_REVOKED: _ClassVar[InvalidReason]
INVALID_REASON_UNSPECIFIED: InvalidReason
INVALID_REASON_MALFORMED: InvalidReason
INVALID_REASON_UNSUPPORTED_ALGORITHM: InvalidReason
INVALID_REASON_UNKNOWN_KEY: InvalidReason
INVALID_REASON_BAD_SIGNATURE: InvalidReason
INVALID_REASON_EXPIRED: InvalidReason
INVALID_REASON_NOT_YET_VALID: InvalidReason
INVALID_REASON_LIFETIME_TOO_LONG: InvalidReason
INVALID_REASON_MISSING_CLAIM: InvalidReason
INVALID_REASON_AUDIENCE_MISMATCH: InvalidReason
INVALID_REASON_UNKNOWN_APP: InvalidReason
INVALID_REASON_APP_MISMATCH: InvalidReason
INVALID_REASON_APP_DISABLED: InvalidReason
INVALID_REASON_REVOKED: InvalidReason

class IssueTokenRequest(_message.Message):
    __slots__ = ("app_id", "subject", "ttl", "not_before_delay", "audience", "claims", "issue_refresh_token")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_DELAY_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    ISSUE_REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    subject: str
    ttl: _duration_pb2.Duration
    not_before_delay: _duration_pb2.Duration
    audience: _containers.RepeatedScalarFieldContainer[str]
    claims: _struct_pb2.Struct
    issue_refresh_token: bool
    def __init__(self, app_id: _Optional[str] = ..., subject: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., not_before_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., audience: _Optional[_Iterable[str]] = ..., claims: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., issue_refresh_token: _Optional[bool] = ...) -> None: ...

class IssueTokenResponse(_message.Message):
    __slots__ = ("access_token", "token_id", "key_id", "expires_at", "refresh_token", "refresh_token_expires_at")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    token_id: str
    key_id: str
    expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_token_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, access_token: _Optional[str] = ..., token_id: _Optional[str] = ..., key_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefreshTokenRequest(_message.Message):
    __slots__ = ("refresh_token", "ttl", "idempotency_key")
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    ttl: _duration_pb2.Duration
    idempotency_key: str
    def __init__(self, refresh_token: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RefreshTokenResponse(_message.Message):
    __slots__ = ("access_token", "token_id", "key_id", "expires_at", "refresh_token", "refresh_token_expires_at")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    token_id: str
    key_id: str
    expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_token_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, access_token: _Optional[str] = ..., token_id: _Optional[str] = ..., key_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ValidateTokenRequest(_message.Message):
    __slots__ = ("token", "audience", "app_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    audience: str
    app_id: str
    def __init__(self, token: _Optional[str] = ..., audience: _Optional[str] = ..., app_id: _Optional[str] = ...) -> None: ...

class ValidateTokenResponse(_message.Message):
    __slots__ = ("valid", "reason", "detail", "claims", "key_id", "server_time")
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reason: InvalidReason
    detail: str
    claims: Claims
    key_id: str
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, valid: _Optional[bool] = ..., reason: _Optional[_Union[InvalidReason, str]] = ..., detail: _Optional[str] = ..., claims: _Optional[_Union[Claims, _Mapping]] = ..., key_id: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Claims(_message.Message):
    __slots__ = ("subject", "app_id", "issuer", "audience", "issued_at", "not_before", "expires_at", "token_id", "extra")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    subject: str
    app_id: str
    issuer: str
    audience: _containers.RepeatedScalarFieldContainer[str]
    issued_at: _timestamp_pb2.Timestamp
    not_before: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    token_id: str
    extra: _struct_pb2.Struct
    def __init__(self, subject: _Optional[str] = ..., app_id: _Optional[str] = ..., issuer: _Optional[str] = ..., audience: _Optional[_Iterable[str]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token_id: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id", "refresh_token", "subject", "app_id", "reason")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    refresh_token: str
    subject: str
    app_id: str
    reason: str
    def __init__(self, token_id: _Optional[str] = ..., refresh_token: _Optional[str] = ..., subject: _Optional[str] = ..., app_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("revoked_refresh_tokens",)
    REVOKED_REFRESH_TOKENS_FIELD_NUMBER: _ClassVar[int]
    revoked_refresh_tokens: int
    def __init__(self, revoked_refresh_tokens: _Optional[int] = ...) -> None: ...

class GetJWKSRequest(_message.Message):
    __slots__ = ("app_id",)
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    def __init__(self, app_id: _Optional[str] = ...) -> None: ...

class GetJWKSResponse(_message.Message):
    __slots__ = ("jwks_json", "apps")
    JWKS_JSON_FIELD_NUMBER: _ClassVar[int]
    APPS_FIELD_NUMBER: _ClassVar[int]
    jwks_json: str
    apps: _containers.RepeatedCompositeFieldContainer[WatchedApp]
    def __init__(self, jwks_json: _Optional[str] = ..., apps: _Optional[_Iterable[_Union[WatchedApp, _Mapping]]] = ...) -> None: ...

class WatchKeysRequest(_message.Message):
    __slots__ = ("app_id", "resume_version")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_VERSION_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    resume_version: int
    def __init__(self, app_id: _Optional[str] = ..., resume_version: _Optional[int] = ...) -> None: ...

class WatchKeysResponse(_message.Message):
    __slots__ = ("version", "full_snapshot", "apps", "revocations")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FULL_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    APPS_FIELD_NUMBER: _ClassVar[int]
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    version: int
    full_snapshot: bool
    apps: _containers.RepeatedCompositeFieldContainer[WatchedApp]
    revocations: _containers.RepeatedCompositeFieldContainer[Revocation]
    def __init__(self, version: _Optional[int] = ..., full_snapshot: _Optional[bool] = ..., apps: _Optional[_Iterable[_Union[WatchedApp, _Mapping]]] = ..., revocations: _Optional[_Iterable[_Union[Revocation, _Mapping]]] = ...) -> None: ...

class WatchedApp(_message.Message):
    __slots__ = ("app_id", "enabled", "max_token_ttl", "jwks_json", "deleted", "key_verify_until")
    class KeyVerifyUntilEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _timestamp_pb2.Timestamp
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    JWKS_JSON_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    KEY_VERIFY_UNTIL_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    enabled: bool
    max_token_ttl: _duration_pb2.Duration
    jwks_json: str
    deleted: bool
    key_verify_until: _containers.MessageMap[str, _timestamp_pb2.Timestamp]
    def __init__(self, app_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., max_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., jwks_json: _Optional[str] = ..., deleted: _Optional[bool] = ..., key_verify_until: _Optional[_Mapping[str, _timestamp_pb2.Timestamp]] = ...) -> None: ...

class Revocation(_message.Message):
    __slots__ = ("app_id", "token_id", "subject", "revoked_at", "expires_at")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    token_id: str
    subject: str
    revoked_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, app_id: _Optional[str] = ..., token_id: _Optional[str] = ..., subject: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
