"""The ServeHTTP state machines on their own: fed messages, no stream (SEMANTICS §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmplugin.proto import pb
from mmplugin.wire.servehttp import (
    CHUNK_SIZE,
    RequestDecoder,
    RequestProtocolError,
    ResponseEncoder,
    ResponseError,
    encode_headers,
    header_pairs,
)

INIT = pb.ServeHttpRequestInit(method="POST", url="/echo")


def test_a_request_without_body_is_one_message() -> None:
    decoder = RequestDecoder()
    assert decoder.feed(pb.ServeHttpRequest(init=INIT, body_complete=True)) == b""
    assert decoder.init is INIT
    assert decoder.body_complete
    assert decoder.feed(None) == b""


def test_the_first_message_may_carry_body_bytes_and_the_last_may_be_empty() -> None:
    decoder = RequestDecoder()
    assert decoder.feed(pb.ServeHttpRequest(init=INIT, body_chunk=b"ab")) == b"ab"
    assert not decoder.body_complete
    assert decoder.feed(pb.ServeHttpRequest(body_chunk=b"cd")) == b"cd"
    assert decoder.feed(pb.ServeHttpRequest(body_complete=True)) == b""
    assert decoder.body_complete


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([None], "ended before its init"),
        ([pb.ServeHttpRequest(body_chunk=b"x")], "first ServeHTTPRequest message carries no init"),
        ([pb.ServeHttpRequest(init=INIT), pb.ServeHttpRequest(init=INIT)], "carries init again"),
        ([pb.ServeHttpRequest(init=INIT), None], "ended before body_complete"),
        (
            [pb.ServeHttpRequest(init=INIT, body_complete=True), pb.ServeHttpRequest(body_chunk=b"x")],
            "after body_complete",
        ),
        (
            [pb.ServeHttpRequest(init=INIT, body_complete=True), None, pb.ServeHttpRequest()],
            "after body_complete",
        ),
    ],
)
def test_request_streams_that_break_the_rules_raise_a_protocol_error(
    messages: list[pb.ServeHttpRequest | None], error: str
) -> None:
    decoder = RequestDecoder()
    *valid, bad = messages
    for message in valid:
        decoder.feed(message)
    with pytest.raises(RequestProtocolError, match=error):
        decoder.feed(bad)


# A message as (has_init, chunk, body_complete); None is the end of the stream.
_message = st.one_of(st.none(), st.tuples(st.booleans(), st.binary(max_size=8), st.booleans()))


@given(st.lists(_message, max_size=8))
def test_any_sequence_is_accepted_exactly_when_it_follows_the_rules(
    sequence: list[tuple[bool, bytes, bool] | None],
) -> None:
    decoder = RequestDecoder()
    body = b""
    # The model: init first and only first, nothing after body_complete but the end of the stream.
    seen_init = complete = False
    for item in sequence:
        if item is None:
            valid = seen_init and complete
        else:
            has_init, _, _ = item
            valid = not complete and has_init == (not seen_init)
        message = (
            None
            if item is None
            else pb.ServeHttpRequest(
                init=INIT if item[0] else None, body_chunk=item[1], body_complete=item[2]
            )
        )
        if not valid:
            with pytest.raises(RequestProtocolError):
                decoder.feed(message)
            return
        body += decoder.feed(message)
        if item is not None:
            seen_init, complete = True, item[2]
    assert decoder.body_complete == complete
    assert body == b"".join(item[1] for item in sequence if item is not None)


def test_a_response_is_init_alone_then_chunks_with_body_complete_on_the_last() -> None:
    encoder = ResponseEncoder()
    first = encoder.start(201, [("X-A", "1"), ("x-a", "2"), ("Content-Type", "text/plain")])
    assert first.init is not None
    assert (first.body_chunk, first.body_complete, first.flush) == (b"", False, False)
    assert first.init.status_code == 201
    assert [(h.key, h.values) for h in first.init.headers] == [
        ("X-A", ["1", "2"]),
        ("Content-Type", ["text/plain"]),
    ]
    body = bytes(range(256)) * (CHUNK_SIZE // 128) + b"tail"  # two full chunks and 4 bytes
    messages = list(encoder.end(body))
    assert [len(m.body_chunk) for m in messages] == [CHUNK_SIZE, CHUNK_SIZE, 4]
    assert [m.body_complete for m in messages] == [False, False, True]
    assert all(m.init is None and not m.flush for m in messages)
    assert b"".join(m.body_chunk for m in messages) == body
    assert encoder.ended


def test_flush_rides_on_the_last_message_of_a_write_and_alone_when_there_are_no_bytes() -> None:
    encoder = ResponseEncoder()
    encoder.start(200)
    messages = list(encoder.body(b"x" * (CHUNK_SIZE + 1), flush=True))
    assert [m.flush for m in messages] == [False, True]
    assert list(encoder.body(b"")) == []
    [lone] = encoder.body(b"", flush=True)
    assert (lone.flush, lone.body_chunk, lone.body_complete) == (True, b"", False)
    [last] = encoder.end()
    assert (last.body_complete, last.body_chunk) == (True, b"")


def test_exactly_one_chunk_of_body_is_one_message() -> None:
    encoder = ResponseEncoder()
    encoder.start(200)
    body = b"y" * CHUNK_SIZE
    [only] = encoder.end(body)
    assert only.body_chunk == body
    assert only.body_complete


@pytest.mark.parametrize("status", [0, 99, 1000, -200, True, 200.0, "200"])
def test_a_status_outside_100_to_999_is_refused_before_anything_is_sent(status: object) -> None:
    encoder = ResponseEncoder()
    with pytest.raises(ResponseError, match=r"100\.\.999"):
        encoder.start(status)  # type: ignore[arg-type]
    assert not encoder.started


@pytest.mark.parametrize("status", [100, 200, 599, 999])
def test_statuses_at_the_edges_are_accepted(status: int) -> None:
    assert ResponseEncoder().start(status).init.status_code == status  # type: ignore[union-attr]


def test_response_calls_out_of_order_raise() -> None:
    encoder = ResponseEncoder()
    with pytest.raises(ResponseError, match="cannot write body bytes: the response is not started"):
        encoder.body(b"x")
    with pytest.raises(ResponseError, match="cannot end the response: the response is not started"):
        encoder.end()
    encoder.start(200)
    with pytest.raises(ResponseError, match="cannot start the response: the response is started"):
        encoder.start(200)
    encoder.end()
    with pytest.raises(ResponseError, match="the response is ended"):
        encoder.body(b"x")
    with pytest.raises(ResponseError, match="the response is ended"):
        encoder.end()


def test_headers_must_be_text() -> None:
    with pytest.raises(ResponseError, match="must be a pair of str"):
        encode_headers([("X-Bytes", b"v")])  # type: ignore[list-item]


def test_header_pairs_flatten_every_value_in_order() -> None:
    headers = [pb.HttpHeader(key="Accept", values=["a", "b"]), pb.HttpHeader(key="X-Empty", values=[])]
    assert list(header_pairs(headers)) == [("Accept", "a"), ("Accept", "b")]
