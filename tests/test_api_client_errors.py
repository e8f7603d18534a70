"""SEMANTICS §4: both error conventions map to one exception tree, code by code, through a real host."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_hosts import GrpclibHost, serve_grpclib
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from mmplugin.api import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncPluginAPI,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PluginAPIError,
    RateLimitedError,
    TooLargeError,
    UnavailableError,
    UnimplementedError,
)
from mmplugin.proto import pb


@pytest.fixture
async def host() -> GrpclibHost:
    return GrpclibHost()


@pytest.fixture
async def api(host: GrpclibHost) -> AsyncIterator[AsyncPluginAPI]:
    async with serve_grpclib(host) as target, AsyncPluginAPI(target) as client:
        yield client


# HTTP status of an embedded AppError → (exception, the gRPC code the Go server would send).
HTTP_CASES = [
    (400, InvalidInputError, Status.INVALID_ARGUMENT),
    (401, PermissionDeniedError, Status.UNAUTHENTICATED),
    (403, PermissionDeniedError, Status.PERMISSION_DENIED),
    (404, NotFoundError, Status.NOT_FOUND),
    (409, ConflictError, Status.ALREADY_EXISTS),
    (413, TooLargeError, Status.RESOURCE_EXHAUSTED),
    (429, RateLimitedError, Status.RESOURCE_EXHAUSTED),
    (500, PluginAPIError, Status.INTERNAL),
    (501, UnimplementedError, Status.UNIMPLEMENTED),
    (503, UnavailableError, Status.UNAVAILABLE),
    (418, PluginAPIError, Status.INTERNAL),
]

# gRPC status → (exception, the HTTP status it stands for).
GRPC_CASES = [
    (Status.INVALID_ARGUMENT, InvalidInputError, 400),
    (Status.UNAUTHENTICATED, PermissionDeniedError, 401),
    (Status.PERMISSION_DENIED, PermissionDeniedError, 403),
    (Status.NOT_FOUND, NotFoundError, 404),
    (Status.ALREADY_EXISTS, ConflictError, 409),
    (Status.RESOURCE_EXHAUSTED, TooLargeError, 413),
    (Status.UNIMPLEMENTED, UnimplementedError, 501),
    (Status.UNAVAILABLE, UnavailableError, 503),
    *((status, PluginAPIError, 500) for status in (
        Status.INTERNAL, Status.UNKNOWN, Status.CANCELLED, Status.DEADLINE_EXCEEDED,
        Status.FAILED_PRECONDITION, Status.ABORTED, Status.OUT_OF_RANGE, Status.DATA_LOSS)),
]


@pytest.mark.parametrize(("status_code", "exception", "grpc_status"), HTTP_CASES)
async def test_embedded_app_error(
    api: AsyncPluginAPI, host: GrpclibHost,
    status_code: int, exception: type[PluginAPIError], grpc_status: Status,
) -> None:
    host.kv_delete_error = pb.AppError(
        id="app.plugin.kv.delete.app_error", message="it failed", detailed_error="sql: boom",
        status_code=status_code, where="KVDelete", request_id="r1",
    )
    with pytest.raises(exception) as raised:
        await api.kv_delete(key="k")
    error = raised.value
    assert type(error) is exception
    assert (error.id, error.message, error.detailed_error, error.where) == (
        "app.plugin.kv.delete.app_error", "it failed", "sql: boom", "KVDelete")
    assert (error.status_code, error.grpc_status, error.method) == (status_code, grpc_status, "KVDelete")
    label = f"[{status_code} {grpc_status.name}]"
    assert str(error) == f"KVDelete: app.plugin.kv.delete.app_error {label} it failed"


@pytest.mark.parametrize(("grpc_status", "exception", "status_code"), GRPC_CASES)
async def test_grpc_status(
    api: AsyncPluginAPI, host: GrpclibHost,
    grpc_status: Status, exception: type[PluginAPIError], status_code: int,
) -> None:
    host.team_error = GRPCError(grpc_status, "app.team.get.find.app_error: We couldn't find the team: t1")
    with pytest.raises(exception) as raised:
        await api.get_team(team_id="t1")
    error = raised.value
    assert type(error) is exception
    assert (error.id, error.message) == ("app.team.get.find.app_error", "We couldn't find the team: t1")
    assert (error.status_code, error.grpc_status, error.method, error.where) == (
        status_code, grpc_status, "GetTeam", "")


@pytest.mark.parametrize(
    "status_message",
    ["post is required", "grpc: received message larger than max (5 vs. 4)", "", "a b: c", None],
)
async def test_a_status_message_without_an_error_id_is_kept_whole(
    api: AsyncPluginAPI, host: GrpclibHost, status_message: str | None
) -> None:
    host.team_error = GRPCError(Status.INVALID_ARGUMENT, status_message)
    with pytest.raises(InvalidInputError) as raised:
        await api.get_team(team_id="t1")
    assert (raised.value.id, raised.value.message) == ("", status_message or "")


async def test_an_embedded_error_without_an_id_is_no_error(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    host.kv_delete_error = pb.AppError(status_code=500, message="ignored")
    assert await api.kv_delete(key="k") is None


async def test_an_embedded_error_without_a_status_code_is_500(api: AsyncPluginAPI, host: GrpclibHost) -> None:
    host.kv_delete_error = pb.AppError(id="app.x.y")
    with pytest.raises(PluginAPIError) as raised:
        await api.kv_delete(key="k")
    assert (type(raised.value), raised.value.status_code, raised.value.grpc_status) == (
        PluginAPIError, 500, Status.INTERNAL)


async def test_an_unimplemented_method_raises_unimplemented(api: AsyncPluginAPI) -> None:
    with pytest.raises(UnimplementedError) as raised:
        await api.get_session(session_id="s1")
    assert raised.value.method == "GetSession"


async def test_a_timeout_is_a_connection_error_not_a_host_answer(host: GrpclibHost) -> None:
    async with serve_grpclib(host) as target, AsyncPluginAPI(target, timeout=0.2) as api:
        with pytest.raises(APITimeoutError, match=r"GetChannel: no answer from the host within 0\.2 s"):
            await api.get_channel(channel_id="c1")
        host.release.set()


def test_the_tree() -> None:
    for cls in (InvalidInputError, PermissionDeniedError, NotFoundError, ConflictError, TooLargeError,
                RateLimitedError, UnimplementedError, UnavailableError):
        assert cls.__bases__ == (PluginAPIError,)
    assert PluginAPIError.__bases__ == (APIError,)
    assert APIConnectionError.__bases__ == (APIError,)
    assert APITimeoutError.__bases__ == (APIConnectionError,)
