"""Our codec against Google's protobuf, message type by message type.

Every message compiled from ``protos/`` (all of ``mattermost.pluginapi.v1``, the go-plugin services
and the ``google.protobuf`` types they import) gets its own test. Hypothesis draws a value tree from
the message's descriptor — unicode strings, bytes, integer extremes, known and unknown enum numbers,
``optional`` fields set to zero, repeated messages, maps, nested ``Struct``/``Value`` to a bounded
depth — and both sides build their message from that same tree:

(a) our message, encoded by :func:`mmplugin.wire.codec.encode`, parses in Google into exactly
    Google's message;
(b) Google's message, with unknown fields of every wire type added at every level (a newer peer),
    decodes through :func:`mmplugin.wire.codec.decode` into our message, and re-encoding that keeps
    the unknown fields, so Google reads back exactly what it sent.

"Exactly" is Google's deterministic serialisation, byte for byte: it tells ``-0.0`` from ``0.0``,
compares NaN payloads and includes unknown fields, where ``==`` would not. Where betterproto2
disagrees with Google, a ``test_divergence_*`` test holds the minimal case and the trees leave that
corner out, saying so where they do.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import betterproto2
import pytest
from google.protobuf import descriptor_pb2, message_factory, text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as GoogleMessage
from hypothesis import given
from hypothesis import strategies as st

from mmplugin.proto import all_message_classes, goplugin, wkt
from mmplugin.wire.codec import DecodeError as CodecDecodeError
from mmplugin.wire.codec import decode, encode

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"

MAX_DEPTH = 2  # message levels below the top one
JSON_DEPTH = 6  # the same for Struct, Value and ListValue themselves: JSON nested three objects deep
MAX_ITEMS = 2  # elements of a repeated field, entries of a map
FIELDS_SET = 6  # fields a message has set, on average, when it has more than twice as many
MAX_FIELD_NUMBER = (1 << 29) - 1
RESERVED_FIELD_NUMBERS = (19000, 19999)

OUR_CLASSES: dict[str, type[betterproto2.Message]] = all_message_classes()


# --- the Google peer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GooglePeer:
    """Google's message classes for everything in ``protos/``, from a private descriptor pool."""

    pool: DescriptorPool
    message_names: frozenset[str]

    def message_class(self, full_name: str) -> type[GoogleMessage]:
        cls: type[GoogleMessage] = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))
        return cls


def _nested(descriptor: Descriptor) -> Iterator[Descriptor]:
    yield descriptor
    for nested in descriptor.nested_types:
        yield from _nested(nested)


def compile_google_peer(descriptor_set: Path) -> GooglePeer:
    """Compile every proto below ``protos/`` (with its imports) and load it into a fresh pool."""
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", "--include_imports",
         f"--descriptor_set_out={descriptor_set}", *files],
        check=True, cwd=PROTOS, capture_output=True,
    )
    files_compiled = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    pool = DescriptorPool()
    for file in files_compiled:
        pool.Add(file)
    names = frozenset(
        message.full_name
        for file in files_compiled
        for top in pool.FindFileByName(file.name).message_types_by_name.values()
        for message in _nested(top)
        if not message.GetOptions().map_entry
    )
    return GooglePeer(pool, names)


@pytest.fixture(scope="session")
def peer(tmp_path_factory: pytest.TempPathFactory) -> GooglePeer:
    return compile_google_peer(tmp_path_factory.mktemp("google-peer") / "protos.binpb")


# --- value trees ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One message's worth of values, keyed by field number, independent of either library.

    A value is a scalar, an enum number, a nested ``Node``, a list (repeated) or a dict (map).
    ``unknown`` is wire bytes of fields a newer peer added; only the Google side carries them.
    """

    fields: Mapping[int, Any]
    unknown: bytes = b""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


WIRE_TYPES = (0, 1, 2, 3, 5)  # varint, 64-bit, length-delimited, group (start 3 ... end 4), 32-bit
FIELD_BYTES = 16  # random bytes an unknown field is cut from


@dataclass(frozen=True)
class UnknownFields:
    """Cuts unknown fields of a message whose field numbers are ``used`` out of random bytes.

    Each field comes from FIELD_BYTES bytes of one Hypothesis draw, not from a draw per number and
    payload: the per-draw cost made these fields most of the run time for small messages.
    """

    skipped: tuple[tuple[int, int], ...]  # sorted, disjoint ranges of numbers not to use
    free: int  # how many numbers are left

    @classmethod
    def outside(cls, used: frozenset[int]) -> UnknownFields:
        skipped = tuple(sorted([(n, n) for n in used] + [RESERVED_FIELD_NUMBERS]))
        return cls(skipped, MAX_FIELD_NUMBER - sum(last - first + 1 for first, last in skipped))

    def number(self, raw: bytes) -> int:
        """A free number, spread over every tag length (``raw``: 5 bytes)."""
        nth = 1 + (int.from_bytes(raw[:4], "little") >> raw[4] % 32) % self.free
        for first, last in self.skipped:
            if first > nth:
                break
            nth += last - first + 1
        return nth

    def field(self, wire_type: int, raw: bytes) -> bytes:
        number, payload = self.number(raw[:5]), raw[5:13]
        if wire_type == 0:
            return _tag(number, 0) + _varint(int.from_bytes(payload, "little"))
        if wire_type == 2:
            size = raw[13] % (len(payload) + 1)
            return _tag(number, 2) + _varint(size) + payload[:size]
        if wire_type == 3:
            # Only free numbers inside: test_divergence_known_number_inside_an_unknown_group.
            inner = self.number(raw[11:16])
            return _tag(number, 3) + _tag(inner, 0) + _varint(raw[5]) + _tag(number, 4)
        return _tag(number, wire_type) + payload[: 8 if wire_type == 1 else 4]

    def every_wire_type(self, raw: bytes) -> bytes:
        return b"".join(self.field(w, raw[i * FIELD_BYTES:]) for i, w in enumerate(WIRE_TYPES))

    def at_most_one(self, raw: bytes) -> bytes:
        choice = raw[FIELD_BYTES] % (len(WIRE_TYPES) + 1)  # 0: none
        return self.field(WIRE_TYPES[choice - 1], raw) if choice else b""


def unknown_fields(used: frozenset[int], *, every_wire_type: bool) -> st.SearchStrategy[bytes]:
    """Wire bytes of fields whose numbers ``used`` does not contain: one of every wire type, or at
    most one field of any."""
    cut = UnknownFields.outside(used)
    if every_wire_type:
        size = FIELD_BYTES * len(WIRE_TYPES)
        return st.binary(min_size=size, max_size=size).map(cut.every_wire_type)
    return st.binary(min_size=FIELD_BYTES + 1, max_size=FIELD_BYTES + 1).map(cut.at_most_one)


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = sorted({low, high, 0, 1, min(max(-1, low), high)})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


_INT32, _INT64 = (-(1 << 31), (1 << 31) - 1), (-(1 << 63), (1 << 63) - 1)
_UINT32, _UINT64 = (0, (1 << 32) - 1), (0, (1 << 64) - 1)
SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: st.text(max_size=8),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=8),
    FieldDescriptor.TYPE_DOUBLE: st.floats(),
    FieldDescriptor.TYPE_FLOAT: st.floats(width=32),
    **{t: _integers(*_INT32) for t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32,
                                       FieldDescriptor.TYPE_SFIXED32)},
    **{t: _integers(*_INT64) for t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64,
                                       FieldDescriptor.TYPE_SFIXED64)},
    **{t: _integers(*_UINT32) for t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32)},
    **{t: _integers(*_UINT64) for t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64)},
}


def _positive_zero(value: float) -> float:
    return 0.0 if value == 0 else value


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_wrapper(message: Descriptor) -> bool:
    return message.file.name == "google/protobuf/wrappers.proto"


def _holds_messages(field: FieldDescriptor) -> bool:
    if _is_map(field):
        return _holds_messages(field.message_type.fields_by_number[2])
    return field.type == FieldDescriptor.TYPE_MESSAGE


def _single_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        # betterproto2 unwraps wrapper-typed fields to plain Python values, which have nowhere to keep
        # unknown fields; the wrappers are frozen, so no newer peer sends any there.
        return message_trees(field.message_type, depth - 1, unknown=not _is_wrapper(field.message_type))
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = st.sampled_from([value.number for value in field.enum_type.values])
        return st.one_of(known, st.integers(*_INT32))  # proto3 enums are open: any int32 is valid
    values = SCALARS[field.type]
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT) and not field.has_presence:
        # An implicit-presence -0.0 is test_divergence_negative_zero.
        return values.map(_positive_zero)
    return values


def _field_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if _is_map(field):
        entry = field.message_type.fields_by_number
        return st.dictionaries(_single_values(entry[1], depth), _single_values(entry[2], depth),
                               max_size=MAX_ITEMS)
    if field.is_repeated:
        return st.lists(_single_values(field, depth), max_size=MAX_ITEMS)
    return _single_values(field, depth)


def _real_oneofs(message: Descriptor) -> list[list[FieldDescriptor]]:
    """The members of each oneof that is not the synthetic one of a proto3 ``optional`` field."""
    proto = descriptor_pb2.DescriptorProto()
    message.CopyToProto(proto)
    synthetic = {f.oneof_index for f in proto.field if f.proto3_optional}
    return [list(oneof.fields) for oneof in message.oneofs if oneof.index not in synthetic]


FieldChoices = tuple[tuple[int, st.SearchStrategy[Any]], ...]


@st.composite
def _nodes(draw: st.DrawFn, singles: FieldChoices, picks: st.SearchStrategy[bytes], cutoff: int,
           oneofs: tuple[tuple[st.SearchStrategy[int], FieldChoices], ...],
           unknown: st.SearchStrategy[bytes]) -> Node:
    chosen_singles = [choice for choice, pick in zip(singles, draw(picks), strict=True) if pick >= cutoff]
    fields = {number: draw(values) for number, values in chosen_singles}
    for chosen_member, members in oneofs:
        chosen = draw(chosen_member)  # 0: no member set
        if chosen:
            number, values = members[chosen - 1]
            fields[number] = draw(values)
    return Node(fields, draw(unknown))


@functools.cache
def message_trees(
    message: Descriptor, depth: int, *, unknown: bool, top: bool = False
) -> st.SearchStrategy[Node]:
    """Trees for ``message``: any subset of its fields, at most one member per oneof.

    Message-typed fields only appear while ``depth`` is positive. ``unknown`` adds unknown fields;
    ``top`` makes that one field of every wire type.
    """
    def choices(fields: list[FieldDescriptor]) -> FieldChoices:
        allowed = [f for f in fields if depth > 0 or not _holds_messages(f)]
        return tuple((f.number, _field_values(f, depth)) for f in allowed)

    oneofs = _real_oneofs(message)
    in_oneof = {f.number for members in oneofs for f in members}
    singles = choices([f for f in message.fields if f.number not in in_oneof])
    # One byte per field, drawn at once, decides which fields are set: a boolean per field costs most
    # of the time in the wide messages (User, Post, Channel have 30-40 fields). A field is set with
    # probability FIELDS_SET / width (at most 1/2); shrinking (towards zero bytes) unsets it.
    cutoff = 256 - min(128, 256 * FIELDS_SET // max(len(singles), 1))
    used = frozenset(f.number for f in message.fields)
    return _nodes(
        singles,
        st.binary(min_size=len(singles), max_size=len(singles)),
        cutoff,
        tuple((st.integers(0, len(c)), c) for c in map(choices, oneofs)),
        unknown_fields(used, every_wire_type=top) if unknown else st.just(b""),
    )


# --- building each side's message from a tree ----------------------------------------------------------


def fill_google(message: GoogleMessage, node: Node, *, unknown: bool) -> None:
    """Set ``node`` on Google's ``message`` (present even when empty), with its unknown fields if asked."""
    message.SetInParent()
    fields = message.DESCRIPTOR.fields_by_number
    for number, value in node.fields.items():
        name = fields[number].name
        if isinstance(value, dict):
            entries = getattr(message, name)
            for key, item in value.items():
                if isinstance(item, Node):
                    fill_google(entries[key], item, unknown=unknown)
                else:
                    entries[key] = item
        elif isinstance(value, list):
            items = getattr(message, name)
            for item in value:
                if isinstance(item, Node):
                    fill_google(items.add(), item, unknown=unknown)
                else:
                    items.append(item)
        elif isinstance(value, Node):
            fill_google(getattr(message, name), value, unknown=unknown)
        else:
            setattr(message, name, value)
    if unknown:
        message.MergeFromString(node.unknown)


def google_message(cls: type[GoogleMessage], node: Node, *, unknown: bool) -> GoogleMessage:
    message = cls()
    fill_google(message, node, unknown=unknown)
    return message


def _our_value(meta: betterproto2.FieldMetadata, value_type: type, value: Any) -> Any:
    if isinstance(value, Node):
        if meta.unwrap is not None:
            return our_message(meta.unwrap(), value).to_wrapped()
        return our_message(value_type, value)
    if meta.proto_type == betterproto2.TYPE_ENUM:
        return value_type(value)
    return value


def our_message(cls: type[betterproto2.Message], node: Node) -> betterproto2.Message:
    """Our dataclass for ``node``, fields found by number in betterproto2's metadata."""
    proto = cls._betterproto  # field metadata and field classes, as betterproto2 itself uses them
    values: dict[str, Any] = {}
    for number, value in node.fields.items():
        name = proto.field_name_by_number[number]
        meta = proto.meta_by_field_name[name]
        if meta.map_meta is not None:
            value_type = proto.cls_by_field[f"{name}.value"]
            values[name] = {k: _our_value(meta.map_meta[1], value_type, v) for k, v in value.items()}
        elif meta.repeated:
            values[name] = [_our_value(meta, proto.cls_by_field[name], v) for v in value]
        else:
            values[name] = _our_value(meta, proto.cls_by_field[name], value)
    return cls(**values)


def assert_google_equal(actual: GoogleMessage, expected: GoogleMessage, what: str) -> None:
    if actual.SerializeToString(deterministic=True) != expected.SerializeToString(deterministic=True):
        def show(m: GoogleMessage) -> str:
            return text_format.MessageToString(m, print_unknown_fields=True) or "(empty)\n"
        pytest.fail(f"{what}\n--- Google read:\n{show(actual)}--- expected:\n{show(expected)}")


# --- tests ---------------------------------------------------------------------------------------------


def test_every_message_of_the_protos_and_the_contract_is_checked(peer: GooglePeer) -> None:
    assert peer.message_names == OUR_CLASSES.keys()
    contract = json.loads((ROOT.parent / "shared" / "contract" / "pluginapi_v1.json").read_text())
    assert {m["full_name"] for f in contract["files"] for m in f["messages"]} <= OUR_CLASSES.keys()


@pytest.mark.parametrize("name", sorted(OUR_CLASSES))
def test_codec_agrees_with_google(name: str, peer: GooglePeer) -> None:
    ours = OUR_CLASSES[name]
    google = peer.message_class(name)

    depth = JSON_DEPTH if google.DESCRIPTOR.file.name == "google/protobuf/struct.proto" else MAX_DEPTH

    @given(message_trees(google.DESCRIPTOR, depth, unknown=True, top=True))
    def check(node: Node) -> None:
        expected = our_message(ours, node)
        assert_google_equal(google.FromString(encode(expected)), google_message(google, node, unknown=False),
                            f"our encoding of {expected!r}")

        newer = google_message(google, node, unknown=True)
        decoded = decode(ours, newer.SerializeToString())
        assert decoded == expected
        assert_google_equal(google.FromString(encode(decoded)), newer, f"our re-encoding of {decoded!r}")

    check()


# --- wire cases where stock betterproto2 0.10 and Google disagree ----------------------------------------
# Our codec (mmplugin.wire.codec) follows Google on all but negative zero, where it stays byte-identical
# with betterproto2. None of these matters on the Mattermost wire: Go's protobuf never writes such bytes
# and the contract has no field they would touch. The trees above still avoid the last two cases.


def test_oneof_member_seen_twice_last_wins(peer: GooglePeer) -> None:
    """Spec: of a oneof's members on the wire the last one wins (stock betterproto2 keeps both)."""
    google = peer.message_class("google.protobuf.Value")
    data = encode(wkt.Value(string_value="a")) + encode(wkt.Value(number_value=2.0))
    assert google.FromString(data).WhichOneof("kind") == "number_value"
    assert betterproto2.which_one_of(decode(wkt.Value, data), "kind") == ("number_value", 2.0)


def test_message_field_seen_twice_is_merged(peer: GooglePeer) -> None:
    """Spec: a singular message field seen twice is merged (stock betterproto2 keeps the last)."""
    data = (encode(goplugin.ConnInfo(knock=goplugin.ConnInfoKnock(knock=True)))
            + encode(goplugin.ConnInfo(knock=goplugin.ConnInfoKnock(error="x"))))
    google = peer.message_class("plugin.ConnInfo").FromString(data)
    assert (google.knock.knock, google.knock.error) == (True, "x")
    assert decode(goplugin.ConnInfo, data).knock == goplugin.ConnInfoKnock(knock=True, error="x")


def test_divergence_negative_zero(peer: GooglePeer) -> None:
    """Google writes an implicit-presence -0.0 (its bits are not zero); we skip it as the default,
    byte-identical with betterproto2, so the peer reads +0.0. The contract has no plain double or
    float field."""
    assert peer.message_class("google.protobuf.DoubleValue")(value=-0.0).SerializeToString() != b""
    assert encode(wkt.DoubleValue(value=-0.0)) == b""


def test_unknown_group_is_skipped_whole(peer: GooglePeer) -> None:
    """An unknown group is skipped with everything inside it, known field numbers included."""
    data = _tag(100, 3) + _tag(3, 2) + _varint(1) + b"z" + _tag(100, 4)
    assert peer.message_class("google.protobuf.Value").FromString(data).WhichOneof("kind") is None
    assert betterproto2.which_one_of(decode(wkt.Value, data), "kind") == ("", None)


@pytest.mark.parametrize("data", [b"\x0a\x05ab", b"\x0f"], ids=["length-past-the-end", "wire-type-7"])
def test_corrupt_input_is_refused_like_google(data: bytes, peer: GooglePeer) -> None:
    with pytest.raises(DecodeError):
        peer.message_class("google.protobuf.Value").FromString(data)
    with pytest.raises(CodecDecodeError):
        decode(wkt.Value, data)
