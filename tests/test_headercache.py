"""The HPACK header cache (mmplugin.wire.headercache) gives exactly what hpack gives.

Each property runs one operation sequence through hpack's own Encoder/Decoder and through the
caching ones side by side: header lists drawn from a small pool, so lists repeat and fields hit the
dynamic table; table size changes small enough to evict; never-indexed fields; lowered limits.
Scenario tests pin each of those cases, and one test shows the cache in use on both ends of a real
connection.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import hpack
import pytest
from api_hosts import GrpclibHost, serve_grpclib
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mmplugin.api import AsyncPluginAPI
from mmplugin.wire import headercache
from mmplugin.wire.headercache import RepeatDecoder, RepeatEncoder

NAMES = [b":method", b":path", b"content-type", b"grpc-timeout", b"x-custom", b"authorization"]
VALUES = [b"POST", b"/a/B", b"application/grpc", b"30S", b"599m", b"v" * 40, b""]

fields = st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES))
#: Lists a connection would repeat, the same fields plain and never-indexed among them.
REPEATED = [
    [(b":method", b"POST"), (b":path", b"/a/B"), (b"grpc-timeout", b"30S")],
    [(b":method", b"POST"), (b":path", b"/a/B"), (b"grpc-timeout", b"599m")],
    [(b"content-type", b"application/grpc"), (b"x-custom", b"v" * 40)],
    [hpack.NeverIndexedHeaderTuple(b"authorization", b"v" * 40)],
    [(b"authorization", b"v" * 40)],
    [hpack.HeaderTuple(b"x-custom", b"")],
    [(b":method", b"POST")],  # static table only: never changes the dynamic one
    [],
]
header_lists = st.one_of(
    st.sampled_from(REPEATED),
    st.lists(st.one_of(fields, fields.map(lambda f: hpack.NeverIndexedHeaderTuple(*f))), max_size=6))
table_sizes = st.sampled_from([0, 40, 100, 256, 4096])


def outcome(call: Any, *args: Any) -> Any:
    """The result, or the type of the error raised: both sides must agree on either."""
    try:
        return list(call(*args))
    except hpack.HPACKError as exc:
        return type(exc)


class EncoderPair(RuleBasedStateMachine):
    """hpack's Encoder and a RepeatEncoder fed the same operations produce the same bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.plain, self.cached = hpack.Encoder(), RepeatEncoder()
        self.last: list[tuple[bytes, bytes]] = []

    @rule(headers=header_lists)
    def encode(self, headers: list[tuple[bytes, bytes]]) -> None:
        assert self.cached.encode(iter(headers)) == self.plain.encode(headers)
        self.last = headers

    @rule()
    def encode_again(self) -> None:  # what a connection does most
        self.encode(self.last)

    @rule(size=table_sizes)
    def resize(self, size: int) -> None:
        self.plain.header_table_size = size
        self.cached.header_table_size = size

    @invariant()
    def same_table(self) -> None:
        assert list(self.cached.header_table.dynamic_entries) == list(self.plain.header_table.dynamic_entries)


class DecoderPair(RuleBasedStateMachine):
    """hpack's Decoder and a RepeatDecoder fed the same blocks (from one encoder) agree, errors included."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = hpack.Encoder()
        self.plain, self.cached = hpack.Decoder(), RepeatDecoder()
        self.broken = False  # after a decoding error the HPACK state is undefined; hpack says stop
        self.last: list[tuple[bytes, bytes]] = []

    @rule(headers=header_lists, raw=st.booleans(), twice=st.booleans())
    def decode(self, headers: list[tuple[bytes, bytes]], raw: bool, twice: bool) -> None:
        self.last = headers
        if self.broken:
            return
        block = self.encoder.encode(headers)
        for _ in range(1 + twice):
            expected = outcome(self.plain.decode, block, raw)
            assert outcome(self.cached.decode, memoryview(block), raw) == expected
            self.broken = isinstance(expected, type)

    @rule()
    def decode_again(self) -> None:  # the same list encoded anew: a block the cache keeps
        self.decode(self.last, raw=True, twice=False)

    @rule(size=table_sizes)
    def resize(self, size: int) -> None:
        self.encoder.header_table_size = size

    @rule(limit=st.sampled_from([20, 60, 200, 65536]))
    def limit_header_list(self, limit: int) -> None:
        self.plain.max_header_list_size = limit
        self.cached.max_header_list_size = limit

    @rule(limit=st.sampled_from([0, 100, 4096]))
    def limit_table(self, limit: int) -> None:
        self.plain.max_allowed_table_size = limit
        self.cached.max_allowed_table_size = limit


TestEncoderPair = EncoderPair.TestCase
TestDecoderPair = DecoderPair.TestCase

AUTH = (b"authorization", b"v" * 40)
PATH = [(b":path", b"/a/B"), (b"content-type", b"application/grpc")]


@pytest.mark.parametrize("steps", [
    pytest.param([PATH, PATH, [(b"x-new", b"1")], PATH], id="a field added since moves the indexes"),
    pytest.param([[hpack.NeverIndexedHeaderTuple(*AUTH)], [AUTH], [AUTH]], id="never-indexed, then the same plain"),
    pytest.param([[AUTH], [AUTH], [hpack.NeverIndexedHeaderTuple(*AUTH)]], id="plain, then the same never-indexed"),
    pytest.param([[(*AUTH, True)], [(*AUTH, True)], [AUTH], [AUTH], [(*AUTH, True)], [(*AUTH, False)]],
                 id="sensitive triples and plain pairs"),
    pytest.param([PATH, PATH, 60, PATH, 4096, PATH], id="a smaller table evicts"),
    pytest.param([PATH, PATH, 0, PATH], id="an empty table"),
    pytest.param([[(b":method", b"POST")], 100, [(b":method", b"POST")], [(b":method", b"POST")]],
                 id="a size update goes out once, in front of a static-only list"),
    pytest.param([[], 0, [], []], id="a size update goes out once, alone"),
    pytest.param([[hpack.NeverIndexedHeaderTuple(*AUTH)]] * 2 + ["no huffman", [hpack.NeverIndexedHeaderTuple(*AUTH)]],
                 id="huffman off"),
])
def test_encoder_steps(steps: list[Any]) -> None:
    plain, cached, huffman = hpack.Encoder(), RepeatEncoder(), True
    for step in steps:
        if isinstance(step, int):
            plain.header_table_size = cached.header_table_size = step
        elif step == "no huffman":
            huffman = False
        else:
            assert cached.encode(step, huffman) == plain.encode(step, huffman)


@pytest.mark.parametrize("steps", [
    pytest.param([PATH, PATH, [(b"x-new", b"1")], PATH], id="a field added since moves the indexes"),
    pytest.param([PATH, PATH, ("header list", 40), PATH], id="a lower header list limit"),
    pytest.param([PATH, PATH, ("table", 60), PATH], id="a lower table limit"),
    pytest.param([PATH, PATH, 60, PATH, PATH], id="a smaller table evicts"),
])
def test_decoder_steps(steps: list[Any]) -> None:
    encoder, plain, cached = hpack.Encoder(), hpack.Decoder(), RepeatDecoder()
    for step in steps:
        if isinstance(step, int):
            encoder.header_table_size = step
        elif isinstance(step, tuple):
            setting = "max_header_list_size" if step[0] == "header list" else "max_allowed_table_size"
            setattr(plain, setting, step[1])
            setattr(cached, setting, step[1])
        else:
            block = encoder.encode(step)
            expected = outcome(plain.decode, block)
            assert outcome(cached.decode, block) == expected


def test_large_header_lists_are_not_kept() -> None:
    encoder, decoder = RepeatEncoder(), RepeatDecoder()
    large = [(b"x-large", b"v" * headercache.MAX_KEPT_SIZE)]
    for _ in range(3):
        decoder.decode(encoder.encode(large))
    assert not encoder._kept
    assert not decoder._kept
    small = [(b"x-small", b"v")]
    for _ in range(3):
        decoder.decode(encoder.encode(small))
    assert encoder._kept
    assert decoder._kept


def test_shrinking_the_table_without_adding_changes_its_version() -> None:
    table = headercache.VersionedTable()
    table.add(b"a", b"1")
    before = table.version
    table.maxsize = 10  # evicts "a"
    assert table.version != before


@given(headers=header_lists)
def test_a_decoded_list_is_the_callers_own(headers: list[tuple[bytes, bytes]]) -> None:
    encoder, plain, cached = hpack.Encoder(), hpack.Decoder(), RepeatDecoder()
    first = encoder.encode(headers)
    assert cached.decode(first, True) == plain.decode(first, True)
    again = encoder.encode(headers)  # fields now come from the table: usually a block the cache keeps
    for _ in range(3):
        decoded = cached.decode(again, True)
        assert decoded == plain.decode(again, True)
        assert isinstance(decoded, list)
        decoded.append(hpack.HeaderTuple(b"added", b"by the caller"))


def test_a_repeated_list_is_encoded_once_while_the_table_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = []
    original = hpack.Encoder.encode
    monkeypatch.setattr(hpack.Encoder, "encode", lambda self, *a: encoded.append(1) or original(self, *a))
    encoder = RepeatEncoder()
    headers = [(b":path", b"/a/B"), (b"content-type", b"application/grpc")]
    blocks = {encoder.encode(headers) for _ in range(5)}
    assert len(encoded) == 2  # the first adds both fields to the table; the second finds them indexed
    assert len(blocks) == 2
    encoder.header_table_size = 0  # empties the table: the list must be worked out again
    encoder.encode(headers)
    assert len(encoded) == 3


async def test_both_ends_of_a_connection_reuse_repeated_header_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    worked_out = {"encode": 0, "decode": 0}

    def counting(name: str) -> Any:
        original = getattr(hpack.Decoder if name == "decode" else hpack.Encoder, name)

        def count(self: Any, *args: Any) -> Any:
            worked_out[name] += 1
            return original(self, *args)
        return count

    monkeypatch.setattr(hpack.Encoder, "encode", counting("encode"))
    monkeypatch.setattr(hpack.Decoder, "decode", counting("decode"))
    host = GrpclibHost()
    host.kv["k"] = b"v"
    calls = 20
    async with serve_grpclib(host) as target, AsyncPluginAPI(target) as api:
        for _ in range(calls):
            assert await api.kv_get(key="k") == b"v"
    # Per call the client encodes one block (request) and decodes two (headers, trailers), and the
    # server the reverse: 6 blocks a call, worked out by hpack only during the first calls.
    blocks_per_call, first_calls = 6, 3
    assert 0 < worked_out["encode"] + worked_out["decode"] < blocks_per_call * first_calls


def test_install_keeps_the_connections_settings() -> None:
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.decoder.max_header_list_size = 1234
    connection.encoder.header_table_size = 100
    headercache.install(connection)
    assert isinstance(connection.encoder, RepeatEncoder)
    assert isinstance(connection.decoder, RepeatDecoder)
    assert connection.decoder.max_header_list_size == 1234
    assert connection.encoder.header_table_size == 100
    assert connection.encoder.table_size_changes == [100]  # the pending size update still goes out
