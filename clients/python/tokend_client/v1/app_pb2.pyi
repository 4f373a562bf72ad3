import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_STATE_UNSPECIFIED: _ClassVar[KeyState]
    KEY_STATE_NEXT: _ClassVar[KeyState]
    KEY_STATE_ACTIVE: _ClassVar[KeyState]
    KEY_STATE_VERIFY_ONLY: _ClassVar[KeyState]
    KEY_STATE_RETIRED: _ClassVar[KeyState]
KEY_STATE_UNSPECIFIED: KeyState
KEY_STATE_NEXT: KeyState
KEY_STATE_ACTIVE: KeyState
KEY_STATE_VERIFY_ONLY: KeyState
KEY_STATE_RETIRED: KeyState

class App(_message.Message):
    __slots__ = ("app_id", "name", "description", "region", "enabled", "max_token_ttl", "created_at", "default_token_ttl", "updated_at", "refresh_token_idle_ttl", "refresh_family_ttl", "key_rotation_period")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_IDLE_TTL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FAMILY_TTL_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    description: str
    region: str
    enabled: bool
    max_token_ttl: _duration_pb2.Duration
    created_at: _timestamp_pb2.Timestamp
    default_token_ttl: _duration_pb2.Duration
    updated_at: _timestamp_pb2.Timestamp
    refresh_token_idle_ttl: _duration_pb2.Duration
    refresh_family_ttl: _duration_pb2.Duration
    key_rotation_period: _duration_pb2.Duration
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., region: _Optional[str] = ..., enabled: _Optional[bool] = ..., max_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., default_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token_idle_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_family_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., key_rotation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class AppKey(_message.Message):
    __slots__ = ("key_id", "app_id", "algorithm", "public_jwk", "state", "created_at", "verify_until", "activates_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_JWK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERIFY_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ACTIVATES_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    app_id: str
    algorithm: str
    public_jwk: str
    state: KeyState
    created_at: _timestamp_pb2.Timestamp
    verify_until: _timestamp_pb2.Timestamp
    activates_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., app_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., public_jwk: _Optional[str] = ..., state: _Optional[_Union[KeyState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verify_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., activates_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAppRequest(_message.Message):
    __slots__ = ("name", "description", "region", "algorithm", "max_token_ttl", "default_token_ttl", "refresh_token_idle_ttl", "refresh_family_ttl", "key_rotation_period")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_IDLE_TTL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FAMILY_TTL_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    region: str
    algorithm: str
    max_token_ttl: _duration_pb2.Duration
    default_token_ttl: _duration_pb2.Duration
    refresh_token_idle_ttl: _duration_pb2.Duration
    refresh_family_ttl: _duration_pb2.Duration
    key_rotation_period: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., region: _Optional[str] = ..., algorithm: _Optional[str] = ..., max_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_token_idle_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_family_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., key_rotation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateAppResponse(_message.Message):
    __slots__ = ("app", "key", "private_key_pem")
    APP_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    app: App
    key: AppKey
    private_key_pem: str
    def __init__(self, app: _Optional[_Union[App, _Mapping]] = ..., key: _Optional[_Union[AppKey, _Mapping]] = ..., private_key_pem: _Optional[str] = ...) -> None: ...

class GetAppRequest(_message.Message):
    __slots__ = ("app_id",)
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    def __init__(self, app_id: _Optional[str] = ...) -> None: ...

class GetAppResponse(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: App
    def __init__(self, app: _Optional[_Union[App, _Mapping]] = ...) -> None: ...

class ListAppsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAppsResponse(_message.Message):
    __slots__ = ("apps", "next_page_token")
    APPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedCompositeFieldContainer[App]
    next_page_token: str
    def __init__(self, apps: _Optional[_Iterable[_Union[App, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAppRequest(_message.Message):
    __slots__ = ("app_id", "enabled", "description", "max_token_ttl", "default_token_ttl", "refresh_token_idle_ttl", "refresh_family_ttl", "key_rotation_period")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_IDLE_TTL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FAMILY_TTL_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    enabled: bool
    description: str
    max_token_ttl: _duration_pb2.Duration
    default_token_ttl: _duration_pb2.Duration
    refresh_token_idle_ttl: _duration_pb2.Duration
    refresh_family_ttl: _duration_pb2.Duration
    key_rotation_period: _duration_pb2.Duration
    def __init__(self, app_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., description: _Optional[str] = ..., max_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_token_idle_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_family_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., key_rotation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class UpdateAppResponse(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: App
    def __init__(self, app: _Optional[_Union[App, _Mapping]] = ...) -> None: ...

class RotateAppKeyRequest(_message.Message):
    __slots__ = ("app_id", "algorithm", "activation_delay")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_DELAY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    algorithm: str
    activation_delay: _duration_pb2.Duration
    def __init__(self, app_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., activation_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateAppKeyResponse(_message.Message):
    __slots__ = ("key", "private_key_pem", "warning")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    key: AppKey
    private_key_pem: str
    warning: str
    def __init__(self, key: _Optional[_Union[AppKey, _Mapping]] = ..., private_key_pem: _Optional[str] = ..., warning: _Optional[str] = ...) -> None: ...

class ListAppKeysRequest(_message.Message):
    __slots__ = ("app_id",)
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    def __init__(self, app_id: _Optional[str] = ...) -> None: ...

class ListAppKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[AppKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[AppKey, _Mapping]]] = ...) -> None: ...

class RevokeAppKeyRequest(_message.Message):
    __slots__ = ("app_id", "key_id", "reason")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    key_id: str
    reason: str
    def __init__(self, app_id: _Optional[str] = ..., key_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeAppKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: AppKey
    def __init__(self, key: _Optional[_Union[AppKey, _Mapping]] = ...) -> None: ...

class RegisterAppKeyRequest(_message.Message):
    __slots__ = ("app_id", "public_key", "algorithm")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    public_key: str
    algorithm: str
    def __init__(self, app_id: _Optional[str] = ..., public_key: _Optional[str] = ..., algorithm: _Optional[str] = ...) -> None: ...

class RegisterAppKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: AppKey
    def __init__(self, key: _Optional[_Union[AppKey, _Mapping]] = ...) -> None: ...
