import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Caller(_message.Message):
    __slots__ = ("caller_id", "name", "roles", "app_ids", "mtls_identity", "created_at")
    CALLER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    APP_IDS_FIELD_NUMBER: _ClassVar[int]
    MTLS_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    caller_id: str
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    app_ids: _containers.RepeatedScalarFieldContainer[str]
    mtls_identity: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, caller_id: _Optional[str] = ..., name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., app_ids: _Optional[_Iterable[str]] = ..., mtls_identity: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCallerRequest(_message.Message):
    __slots__ = ("name", "roles", "app_ids", "mtls_identity")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    APP_IDS_FIELD_NUMBER: _ClassVar[int]
    MTLS_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    app_ids: _containers.RepeatedScalarFieldContainer[str]
    mtls_identity: str
    def __init__(self, name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., app_ids: _Optional[_Iterable[str]] = ..., mtls_identity: _Optional[str] = ...) -> None: ...

class CreateCallerResponse(_message.Message):
    __slots__ = ("caller", "api_key")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    api_key: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...

class ListCallersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCallersResponse(_message.Message):
    __slots__ = ("callers",)
    CALLERS_FIELD_NUMBER: _ClassVar[int]
    callers: _containers.RepeatedCompositeFieldContainer[Caller]
    def __init__(self, callers: _Optional[_Iterable[_Union[Caller, _Mapping]]] = ...) -> None: ...

class DeleteCallerRequest(_message.Message):
    __slots__ = ("caller_id",)
    CALLER_ID_FIELD_NUMBER: _ClassVar[int]
    caller_id: str
    def __init__(self, caller_id: _Optional[str] = ...) -> None: ...

class DeleteCallerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateCallerKeyRequest(_message.Message):
    __slots__ = ("caller_id", "grace_period")
    CALLER_ID_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    caller_id: str
    grace_period: _duration_pb2.Duration
    def __init__(self, caller_id: _Optional[str] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateCallerKeyResponse(_message.Message):
    __slots__ = ("api_key", "previous_keys_expire_at")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_KEYS_EXPIRE_AT_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    previous_keys_expire_at: _timestamp_pb2.Timestamp
    def __init__(self, api_key: _Optional[str] = ..., previous_keys_expire_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
