"""The plugin side of the ServeHTTP stream as two plain state machines (SEMANTICS §3), no IO.

:class:`RequestDecoder` is fed the ``ServeHTTPRequest`` messages the host sends and checks their
order; :class:`ResponseEncoder` turns a handler's response into ``ServeHTTPResponse`` messages.

Errors, all :class:`ServeHTTPError`::

    ServeHTTPError
    ├── RequestProtocolError   the host's request stream broke the rules (answered with 400)
    ├── ResponseError          the handler misused the response (answered with 500 if nothing was sent)
    └── ClientDisconnected     the host closed the stream while the response was being written (OSError)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping

from mmplugin.proto import pb

CHUNK_SIZE = 64 * 1024
"""Largest ``body_chunk`` sent in one response message, the size the Go host uses for requests."""

MIN_STATUS, MAX_STATUS = 100, 999

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]
"""Response headers: a mapping (a multidict gives every value) or ``(name, value)`` pairs."""


class ServeHTTPError(Exception):
    """Base of every error raised by the ServeHTTP machinery."""


class RequestProtocolError(ServeHTTPError):
    """The host's ``ServeHTTPRequest`` stream broke the ServeHTTP rules; the message says how."""


class ResponseError(ServeHTTPError):
    """The handler asked for a response the protocol cannot carry, or in the wrong order."""


class ClientDisconnected(ServeHTTPError, OSError):
    """The host closed the ServeHTTP stream (its HTTP client went away) while the response was written."""


class _RequestState(enum.Enum):
    AWAIT_INIT = "awaiting init"
    BODY = "receiving body"
    BODY_COMPLETE = "body complete"
    CLOSED = "closed"


class RequestDecoder:
    """Checks the order of the host's request messages and hands out their body bytes.

    The first message must carry ``init`` (and may carry body bytes), later ones only body bytes;
    ``body_complete`` ends the body, and only the end of the stream may follow it.
    """

    def __init__(self) -> None:
        self._state = _RequestState.AWAIT_INIT
        self.init: pb.ServeHttpRequestInit | None = None

    @property
    def body_complete(self) -> bool:
        """True once the message with ``body_complete`` has been fed."""
        return self._state in (_RequestState.BODY_COMPLETE, _RequestState.CLOSED)

    def feed(self, message: pb.ServeHttpRequest | None) -> bytes:
        """Take the next read from the stream and return the body bytes it carries.

        ``message`` is what grpclib's ``recv_message`` returned: ``None`` means the host half-closed.
        """
        if message is None:
            self._end_of_stream()
            return b""
        if self._state is _RequestState.AWAIT_INIT:
            if message.init is None:
                raise RequestProtocolError("the first ServeHTTPRequest message carries no init")
            self.init = message.init
        elif self._state is _RequestState.BODY:
            if message.init is not None:
                raise RequestProtocolError("a ServeHTTPRequest message after the first carries init again")
        else:
            raise RequestProtocolError("a ServeHTTPRequest message arrived after body_complete")
        self._state = _RequestState.BODY_COMPLETE if message.body_complete else _RequestState.BODY
        return message.body_chunk

    def _end_of_stream(self) -> None:
        if self._state is _RequestState.AWAIT_INIT:
            raise RequestProtocolError("the request stream ended before its init message")
        if self._state is _RequestState.BODY:
            raise RequestProtocolError("the request stream ended before body_complete: body truncated")
        self._state = _RequestState.CLOSED


class _ResponseState(enum.Enum):
    IDLE = "not started"
    STARTED = "started"
    ENDED = "ended"


class ResponseEncoder:
    """Builds the ``ServeHTTPResponse`` messages of one response: init, body chunks, body_complete.

    ``init`` always travels alone in the first message (the Go host reads nothing else from it),
    body bytes are cut into chunks of at most :data:`CHUNK_SIZE`, and ``body_complete`` rides on
    the last chunk. State changes happen when a method is called, not when its messages are used.
    """

    def __init__(self) -> None:
        self._state = _ResponseState.IDLE

    @property
    def started(self) -> bool:
        return self._state is not _ResponseState.IDLE

    @property
    def ended(self) -> bool:
        return self._state is _ResponseState.ENDED

    def start(self, status: int, headers: HeadersLike = ()) -> pb.ServeHttpResponse:
        """The first message: status and headers. Status must lie in 100..999."""
        self._require(_ResponseState.IDLE, "start the response")
        if isinstance(status, bool) or not isinstance(status, int) or not MIN_STATUS <= status <= MAX_STATUS:
            raise ResponseError(f"response status {status!r} is not an integer in {MIN_STATUS}..{MAX_STATUS}")
        header_list = encode_headers(headers)
        self._state = _ResponseState.STARTED
        return pb.ServeHttpResponse(init=pb.ServeHttpResponseInit(status_code=status, headers=header_list))

    def body(self, data: bytes, *, flush: bool = False) -> Iterator[pb.ServeHttpResponse]:
        """Messages carrying ``data``; with ``flush`` the last one asks the host to flush to its client.

        An empty ``data`` yields nothing, or a lone flush message when ``flush`` is set.
        """
        self._require(_ResponseState.STARTED, "write body bytes")
        return _chunks(data, flush=flush, complete=False)

    def end(self, data: bytes = b"") -> Iterator[pb.ServeHttpResponse]:
        """Messages carrying the last body bytes, the final one with ``body_complete``."""
        self._require(_ResponseState.STARTED, "end the response")
        self._state = _ResponseState.ENDED
        return _chunks(data, flush=False, complete=True)

    def _require(self, state: _ResponseState, action: str) -> None:
        if self._state is not state:
            raise ResponseError(f"cannot {action}: the response is {self._state.value}")


def _chunks(data: bytes, *, flush: bool, complete: bool) -> Iterator[pb.ServeHttpResponse]:
    if not data:
        if flush or complete:
            yield pb.ServeHttpResponse(flush=flush, body_complete=complete)
        return
    view = memoryview(data)
    size = len(view)
    for offset in range(0, size, CHUNK_SIZE):
        last = offset + CHUNK_SIZE >= size
        whole = size <= CHUNK_SIZE and type(data) is bytes
        piece = data if whole else bytes(view[offset : offset + CHUNK_SIZE])
        yield pb.ServeHttpResponse(body_chunk=piece, flush=flush and last, body_complete=complete and last)


def encode_headers(headers: HeadersLike) -> list[pb.HttpHeader]:
    """One ``HTTPHeader`` per name (compared case-insensitively, first spelling kept), values in order."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    by_name: dict[str, pb.HttpHeader] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise ResponseError(f"response header {name!r}: {value!r} must be a pair of str")
        entry = by_name.get(name.lower())
        if entry is None:
            by_name[name.lower()] = pb.HttpHeader(key=name, values=[value])
        else:
            entry.values.append(value)
    return list(by_name.values())


def header_pairs(headers: Iterable[pb.HttpHeader]) -> Iterator[tuple[str, str]]:
    """``(name, value)`` for every value of every header, in message order."""
    for header in headers:
        for value in header.values:
            yield header.key, value
