"""The generated codec: betterproto2's bytes, betterproto2's objects, Google's reading of the wire.

Every check goes through the seam (:func:`mmplugin.wire.codec.encode` / ``decode``) and compares
with two references: betterproto2 itself (bytes and instances must be identical) and Google's
upb (our bytes must mean the same to it, and what it writes must decode to the same message).
"""

from __future__ import annotations

import copy
import dataclasses
import doctest
import importlib
import os
import pickle
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import betterproto2
import grpc
import pytest
from google.protobuf.message import DecodeError as GoogleDecodeError
from google_protos import google_message_classes
from grpclib.client import Channel
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, messages

from mmplugin.proto import all_message_classes, goplugin, health, pb, wkt
from mmplugin.wire import codec, compiler
from mmplugin.wire.codec import DecodeError, MessageCodec, decode, encode
from mmplugin.wire.endpoints import WireServer
from mmplugin.wire.limits import FILE_RECEIVE_LIMIT
from mmplugin.wire.schema import MessagePlan, plan_message

SAMPLE_PROTOS = Path(__file__).resolve().parent / "protos"
HOT = [
    pb.MessageWillBePostedRequest, pb.MessageWillBePostedResponse, pb.ServeHttpRequest,
    pb.ServeHttpResponse, pb.ImplementedResponse, pb.GetUserResponse, pb.KvSetRequest,
    pb.KvGetResponse, wkt.Struct,
]


@pytest.fixture(scope="session")
def google() -> Callable[[type], Any]:
    return google_message_classes()


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """betterproto2 classes generated from tests/protos/fastcodec_sample.proto by the pinned compiler."""
    out = tmp_path_factory.mktemp("sample")
    package = out / "fastcodec_sample_pkg"
    package.mkdir()
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{SAMPLE_PROTOS}",
         f"--python_betterproto2_out={package}", "fastcodec_sample.proto"],
        check=True, cwd=SAMPLE_PROTOS, env=env, capture_output=True, text=True,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("fastcodec_sample_pkg.fcsample")
    finally:
        sys.path.remove(str(out))


@pytest.fixture(scope="session")
def google_sample() -> Callable[[type], Any]:
    return google_message_classes(SAMPLE_PROTOS)


def assert_same_as_references(message: betterproto2.Message, google_cls: Any) -> bytes:
    """Our bytes are betterproto2's; both decoders agree; upb reads and writes the same values."""
    cls = type(message)
    wire = encode(message)
    assert wire == bytes(message)
    ours = decode(cls, wire)
    assert ours == message
    theirs = cls.parse(wire)
    assert ours == theirs
    assert repr(ours) == repr(theirs)
    assert vars(ours).keys() == vars(theirs).keys()
    assert decode(cls, google_cls.FromString(wire).SerializeToString()) == message
    return wire


# --- hand-picked cases ------------------------------------------------------------------------

def tricky_messages() -> list[betterproto2.Message]:
    struct = wkt.Struct.from_dict({
        "": "", "null": None, "zero": 0.0, "neg": -1.5, "no": False, "list": [[], {}, [None, "x"]],
        "deep": {"a": {"b": {"c": [1.0, {"d": "é✓😀"}]}}},
    })
    return [
        pb.AppError(status_code=-1, message="x" * 127, id="y" * 128, params=struct),
        pb.AppError(status_code=-(2**31), detailed_error="é" * 2000),
        pb.Post(id="", create_at=-1, update_at=2**63 - 1, delete_at=-(2**63), remote_id="",
                is_following=False, file_ids=["", "a", ""], props=wkt.Struct(), metadata=pb.PostMetadata()),
        pb.Post(message="\u2028\x00\U0010ffff", participants=[pb.User(), pb.User(id="u")],
                metadata=pb.PostMetadata(images={"": pb.PostImage(), "i": pb.PostImage(width=1, height=2)})),
        pb.User(props={"": "", "k": "v" * 300}, notify_props={"é": "😀"}, timezone={}, last_login=1 << 40),
        pb.Channel(type=pb.ChannelType.PRIVATE, group_constrained=False, shared=True),
        pb.RemoteCluster(options=2**32 - 1),
        pb.FilesLimits(total_storage=0), pb.FilesLimits(total_storage=-(2**63)), pb.FilesLimits(),
        pb.MessagesLimits(history=-5), pb.TeamsLimits(active=2**31 - 1),
        pb.ServeHttpRequest(body_chunk=b"\x00" * 2047, body_complete=True),
        pb.ServeHttpRequest(body_chunk=b"\xff" * 2048),
        pb.ServeHttpResponse(body_chunk=bytes(range(256)) * 256, flush=True),
        pb.KvSetRequest(key="k", value=b""), pb.KvGetResponse(error=pb.AppError(), value=b"v"),
        pb.ImplementedResponse(hooks=["OnActivate", ""]),
        wkt.Value(null_value=wkt.NullValue.NULL_VALUE), wkt.Value(number_value=-0.0),
        wkt.Value(number_value=float("inf")), wkt.Value(bool_value=False), wkt.Value(string_value=""),
        wkt.Value(list_value=wkt.ListValue()), wkt.Value(struct_value=wkt.Struct()), wkt.Value(),
        wkt.DoubleValue(value=1e-300), wkt.FloatValue(value=0.5), wkt.UInt64Value(value=2**64 - 1),
        wkt.Empty(), health.HealthCheckResponse(status=health.HealthCheckResponseServingStatus.SERVING),
        goplugin.StdioData(channel=goplugin.StdioDataChannel.STDERR, data=b"log line\n"),
    ]


@pytest.mark.parametrize("message", tricky_messages(), ids=lambda m: type(m).__name__)
def test_tricky_messages_match_betterproto2_and_upb(message: betterproto2.Message, google: Any) -> None:
    assert_same_as_references(message, google(type(message)))


def test_the_codec_docstring_example_runs() -> None:
    assert doctest.testmod(codec).failed == 0


def test_negative_int32_and_enum_take_ten_bytes(sample: ModuleType) -> None:
    assert encode(pb.AppError(status_code=-1)) == b"\x28" + b"\xff" * 9 + b"\x01"
    assert encode(sample.Scalars(colour=sample.Colour.NEGATIVE)) == b"\x70" + b"\xfe" + b"\xff" * 8 + b"\x01"


def test_presence_fields_are_written_when_set_to_their_zero_value() -> None:
    assert encode(pb.Post(remote_id="", is_following=False)) == b"\x9a\x01\x00\xb8\x01\x00"
    assert encode(pb.FilesLimits(total_storage=0)) == b"\x0a\x00"
    assert encode(pb.MessageWillBePostedResponse(modified_post=pb.Post())) == b"\x0a\x00"
    assert encode(pb.Post(remote_id=None, props=None)) == b""


def test_every_scalar_type_matches_betterproto2_and_upb(sample: ModuleType, google_sample: Any) -> None:
    s = sample
    full = s.Scalars(
        i32=-7, i64=-(2**63), u32=2**32 - 1, u64=2**64 - 1, s32=-(2**31), s64=2**63 - 1, fx32=2**32 - 1,
        fx64=2**64 - 1, sfx32=-(2**31), sfx64=-(2**63), fl=1.5, db=-2.5e300, flag=True, colour=s.Colour.RED,
        text="t", blob=b"b", r_i32=[0, -1, 2**31 - 1], r_i64=[-(2**63), 5], r_u32=[0, 2**32 - 1],
        r_u64=[2**64 - 1], r_s32=[-1, 1, 0], r_s64=[-(2**63)], r_fx32=[1, 2], r_fx64=[3], r_sfx32=[-4],
        r_sfx64=[-5, 5], r_fl=[0.25, -0.0], r_db=[1e-300, 0.0], r_flag=[True, False, True],
        r_colour=[s.Colour.NEGATIVE, s.Colour.UNSET, s.Colour(7)], r_text=["", "x"], r_blob=[b"", b"\x00"],
        o_i32=0, o_text="", o_colour=s.Colour.UNSET, int_map={0: "", -1: "m"},
        colour_map={"": s.Colour.NEGATIVE, "r": s.Colour.RED}, bool_map={False: b"", True: b"t"},
        num_map={-(2**63): 0.0, 1: -1.0},
    )
    for message in (full, s.Scalars(), s.Scalars(o_i32=-1, s32=1, db=float("-inf")), s.Holder(
        one=s.Scalars(), many=[s.Scalars(), full], by_name={"a": full, "": s.Scalars()}, pick_scalars=full,
        count=-3, far="far",
    ), s.Holder(pick_text=""), s.Holder(pick_number=0)):
        assert_same_as_references(message, google_sample(type(message)))


def test_nan_survives_a_round_trip(sample: ModuleType) -> None:
    message = sample.Scalars(db=float("nan"), fl=float("nan"))
    assert encode(message) == bytes(message)
    assert decode(sample.Scalars, encode(message)) == message


# --- decoding what other encoders may send ---------------------------------------------------

def varint(value: int) -> bytes:
    """An independent varint writer for hand-made wire bytes."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def test_repeated_scalars_decode_packed_and_unpacked(sample: ModuleType, google_sample: Any) -> None:
    expected = sample.Scalars(r_i32=[1, -1, 300], r_s64=[-2, 2], r_db=[0.5, -1.0], r_fx32=[7],
                              r_colour=[sample.Colour.RED, sample.Colour.NEGATIVE, 9], r_flag=[True, False])
    unpacked = b"".join([
        key(17, 0), varint(1), key(17, 0), varint(-1), key(17, 0), varint(300),
        key(22, 0), varint(3), key(22, 0), varint(4),
        key(28, 1), struct.pack("<d", 0.5), key(28, 1), struct.pack("<d", -1.0),
        key(23, 5), struct.pack("<I", 7),
        key(30, 0), varint(1), key(30, 0), varint(-2), key(30, 0), varint(9),
        key(29, 0), varint(1), key(29, 0), varint(0),
    ])
    packed = encode(expected)
    assert len(packed) < len(unpacked)
    google_cls = google_sample(sample.Scalars)
    for wire in (unpacked, packed):
        assert decode(sample.Scalars, wire) == expected == sample.Scalars.parse(wire)
        assert decode(sample.Scalars, google_cls.FromString(wire).SerializeToString()) == expected
    doubled = decode(sample.Scalars, unpacked + packed)
    assert doubled.r_i32 == expected.r_i32 * 2
    assert doubled.r_colour == expected.r_colour * 2


def test_unknown_fields_are_skipped_and_kept_like_betterproto2(google: Any) -> None:
    known = encode(pb.KvSetRequest(key="k", value=b"v"))
    unknown = b"".join([
        key(3, 0), varint(-1), key(4, 1), b"8bytes!!", key(5, 5), b"4byt", length_delimited(6, b"nested"),
        key(2047, 0), varint(1), key(536870911, 2), varint(0),
    ])
    wire = known[:3] + unknown + known[3:]
    ours = decode(pb.KvSetRequest, wire)
    theirs = pb.KvSetRequest.parse(wire)
    assert ours == pb.KvSetRequest(key="k", value=b"v") == theirs
    assert ours._unknown_fields == unknown
    assert encode(ours) == bytes(ours) == known + unknown
    assert decode(pb.KvSetRequest, google(pb.KvSetRequest).FromString(wire).SerializeToString()) == ours


def test_unknown_groups_are_skipped_whole(google: Any) -> None:
    inner_group = key(8, 3) + length_delimited(2, b"in group") + key(8, 4)
    group = key(7, 3) + key(1, 0) + varint(5) + inner_group + key(7, 4)
    wire = group + length_delimited(1, b"k")
    ours = decode(pb.KvSetRequest, wire)
    assert ours == pb.KvSetRequest(key="k")
    assert ours._unknown_fields == group
    assert decode(pb.KvSetRequest, google(pb.KvSetRequest).FromString(wire).SerializeToString()) == ours


def test_a_field_with_an_unexpected_wire_type_is_kept_as_unknown(google: Any) -> None:
    wire = key(1, 0) + varint(5) + length_delimited(2, b"v") + key(2, 0) + varint(1)
    ours = decode(pb.KvSetRequest, wire)
    assert ours == pb.KvSetRequest(value=b"v")
    assert ours._unknown_fields == key(1, 0) + varint(5) + key(2, 0) + varint(1)
    assert decode(pb.KvSetRequest, google(pb.KvSetRequest).FromString(wire).SerializeToString()) == ours


def test_repeated_occurrences_follow_protobuf_rules(google: Any) -> None:
    props = wkt.Struct.from_dict({"a": 1.0, "b": "x"})
    first = encode(pb.Post(id="a", create_at=1, file_ids=["x"], props=props))
    second = encode(pb.Post(id="b", file_ids=["y"], props=wkt.Struct.from_dict({"b": "y", "c": True})))
    wire = (length_delimited(3, first) + length_delimited(2, encode(pb.PluginContext(session_id="s")))
            + length_delimited(3, second))
    ours = decode(pb.MessageWillBePostedRequest, wire)
    assert ours.post == pb.Post(id="b", create_at=1, file_ids=["x", "y"],
                                props=wkt.Struct.from_dict({"a": 1.0, "b": "y", "c": True}))
    google_cls = google(pb.MessageWillBePostedRequest)
    assert decode(pb.MessageWillBePostedRequest, google_cls.FromString(wire).SerializeToString()) == ours


def test_oneof_keeps_the_last_member_set(google: Any) -> None:
    wire = encode(wkt.Value(string_value="s")) + encode(wkt.Value(bool_value=True))
    assert decode(wkt.Value, wire) == wkt.Value(bool_value=True)
    google_wire = google(wkt.Value).FromString(wire).SerializeToString()
    assert decode(wkt.Value, google_wire) == wkt.Value(bool_value=True)


def test_map_entries_with_missing_parts_get_defaults(google: Any) -> None:
    def entry(*parts: bytes) -> bytes:
        return length_delimited(1, b"".join(parts))

    wire = b"".join([
        entry(length_delimited(1, b"no value")),
        entry(length_delimited(2, encode(wkt.Value(bool_value=True)))),
        entry(length_delimited(1, b"dup"), length_delimited(2, encode(wkt.Value(string_value="1")))),
        entry(length_delimited(1, b"dup"), length_delimited(2, encode(wkt.Value(string_value="2")))),
    ])
    ours = decode(wkt.Struct, wire)
    assert ours.fields == {
        "no value": wkt.Value(), "": wkt.Value(bool_value=True), "dup": wkt.Value(string_value="2"),
    }
    assert decode(wkt.Struct, google(wkt.Struct).FromString(wire).SerializeToString()) == ours


def test_overlong_varints_are_accepted() -> None:
    wire = b"\x8a\x80\x00" + b"\x81\x80\x80\x00" + b"k" + b"\x10\x80\x80\x00"
    assert decode(pb.AppError, wire) == pb.AppError(id="k")


def test_decoded_messages_behave_like_parsed_ones() -> None:
    message = pb.GetUserResponse(user=pb.User(id="u", props={"a": "b"}), error=pb.AppError(status_code=5))
    wire = encode(message)
    ours, theirs = decode(pb.GetUserResponse, wire), pb.GetUserResponse.parse(wire)
    assert vars(ours) == vars(theirs)
    assert copy.copy(ours) == copy.deepcopy(ours) == pickle.loads(pickle.dumps(ours)) == theirs
    assert ours.to_dict() == theirs.to_dict()
    assert ours.user is not None
    assert ours.user.is_set("props")
    assert not ours.user.is_set("email")
    assert bool(decode(pb.GetUserResponse, b"")) is False
    assert decode(pb.GetUserResponse, bytearray(wire)) == message
    assert decode(pb.GetUserResponse, memoryview(wire)) == message


# --- malformed input ---------------------------------------------------------------------------

def test_every_truncation_is_rejected_exactly_when_upb_rejects_it(google: Any) -> None:
    message = pb.MessageWillBePostedRequest(
        context=pb.RequestContext(plugin_id="p"), plugin_context=pb.PluginContext(user_agent="ua" * 70),
        post=pb.Post(id="i", create_at=1 << 40, message="m" * 200, file_ids=["f"], is_following=True,
                     props=wkt.Struct.from_dict({"a": [1.0, {"b": None}], "c": "d"})),
    )
    wire = encode(message)
    google_cls = google(pb.MessageWillBePostedRequest)
    for end in range(len(wire)):
        try:
            google_cls.FromString(wire[:end])
        except GoogleDecodeError:
            with pytest.raises(DecodeError, match="MessageWillBePostedRequest"):
                decode(pb.MessageWillBePostedRequest, wire[:end])
        else:
            decode(pb.MessageWillBePostedRequest, wire[:end])


@pytest.mark.parametrize(("wire", "reason"), [
    (key(1, 2) + varint(1 << 34), "AppError.id has length 17179869184 but only 0 bytes remain"),
    (key(4, 2) + varint(2**31) + b"x", "AppError.request_id has length 2147483648 but only 1 bytes remain"),
    (key(1, 0) + b"\xff" * 11, "varint longer than 10 bytes"),
    (key(9, 6), "invalid wire type 6"),
    (key(9, 7), "invalid wire type 7"),
    (key(0, 0) + b"\x00", "field number 0"),
    (key(9, 4), "end-group tag of field 9 outside a group"),
    (key(9, 3) + key(1, 0) + b"\x01", "group 9 is not closed"),
    (key(9, 3) + key(8, 4), "group 9 closed by end-group tag of field 8"),
    (key(1, 2) + b"\x02\xc3\x28", "not valid UTF-8"),
    (key(5, 0) + b"\x80", "input ends inside a field"),
    (key(9, 1) + b"1234567", "field 9 runs past the end"),
    (varint((1 << 29) << 3) + b"\x01", "field number 536870912 is out of range"),
    (b"\x88\x80\x80\x80\x80\x00\x01", "tag longer than 5 bytes"),
    (key(1, 2) + b"\x81" + b"\x80" * 8 + b"\x00k", "length prefix longer than 5 bytes"),
])
def test_malformed_input_raises_decode_error(wire: bytes, reason: str, google: Any) -> None:
    with pytest.raises(DecodeError, match=reason) as caught:
        decode(pb.AppError, wire)
    assert isinstance(caught.value, ValueError)
    assert caught.value.message_type == "AppError"
    with pytest.raises(GoogleDecodeError):
        google(pb.AppError).FromString(wire)


@pytest.mark.parametrize(("wire", "reason"), [
    (length_delimited(7, key(1, 2) + varint(1 << 33)), "Struct.fields has length 8589934592"),
    (length_delimited(7, key(1, 2) + varint(9) + b"abc"), "Struct.fields has length 9 but only 3 bytes remain"),
    (length_delimited(7, length_delimited(1, b"\xf8\xff\xff\xff\x7f\x01")), "field number 4294967295"),
    (length_delimited(7, length_delimited(1, length_delimited(1, b"\xff"))), "not valid UTF-8"),
])
def test_malformed_struct_raises_decode_error_when_first_read(wire: bytes, reason: str, google: Any) -> None:
    # A Struct field is decoded on first read (mmplugin.wire.lazy), so its errors surface there.
    message = decode(pb.AppError, wire)
    for _ in range(2):
        with pytest.raises(DecodeError, match=reason) as caught:
            message.params.fields  # noqa: B018
        assert caught.value.message_type == "Struct"
    with pytest.raises(DecodeError, match=reason):
        repr(message)
    with pytest.raises(GoogleDecodeError):
        google(pb.AppError).FromString(wire)


def test_length_past_the_enclosing_message_is_rejected_even_when_the_buffer_has_more() -> None:
    inner = key(1, 2) + varint(10) + b"abc"
    wire = length_delimited(1, inner) + b"0123456789"
    with pytest.raises(DecodeError, match=r"RequestContext\.plugin_id has length 10 but only 3 bytes remain"):
        decode(pb.MessageWillBePostedRequest, wire)


def test_varint_running_past_a_nested_message_is_rejected() -> None:
    wire = length_delimited(1, key(5, 0) + b"\x80") + b"\x00"
    with pytest.raises(DecodeError, match="last field of AppError runs past its end"):
        decode(pb.KvGetResponse, wire)
    wire = length_delimited(1, key(9, 0) + b"\x80") + b"\x00"
    with pytest.raises(DecodeError, match="field 9 runs past the end of its message"):
        decode(pb.KvGetResponse, wire)


def test_nesting_beyond_the_recursion_limit_is_a_decode_error(sample: ModuleType) -> None:
    wire = b""
    for _ in range(sys.getrecursionlimit()):
        wire = length_delimited(1, wire)
    with pytest.raises(DecodeError, match="nested too deeply"):
        decode(sample.Tree, wire)


def test_a_struct_nested_beyond_the_recursion_limit_is_read_one_level_at_a_time() -> None:
    depth = sys.getrecursionlimit() + 10
    wire = b""
    for _ in range(depth):
        wire = length_delimited(1, length_delimited(1, b"k") + length_delimited(2, length_delimited(5, wire)))
    struct = decode(wkt.Struct, wire)
    levels = 0
    while struct.fields:
        struct = struct.fields["k"].struct_value
        levels += 1
    assert levels == depth


# --- property tests on the hot messages --------------------------------------------------------

@pytest.mark.parametrize("cls", HOT, ids=lambda cls: cls.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_hot_messages_round_trip(cls: type, data: st.DataObject, google: Any) -> None:
    assert_same_as_references(data.draw(messages(cls)), google(cls))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_corrupted_input_is_rejected_exactly_when_upb_rejects_it(data: st.DataObject, google: Any) -> None:
    cls = data.draw(st.sampled_from([pb.MessageWillBePostedRequest, pb.GetUserResponse, pb.ServeHttpRequest]))
    wire = bytearray(encode(data.draw(messages(cls))))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, max(len(wire) - 1, 0)))
        wire[position:position + data.draw(st.integers(0, 2))] = data.draw(st.binary(max_size=3))
    try:
        expected = google(cls).FromString(bytes(wire)).SerializeToString()
    except GoogleDecodeError:
        with pytest.raises(DecodeError):
            # repr reads every field: Struct and ListValue fields are decoded when first read.
            repr(decode(cls, wire))
    else:
        assert decode(cls, wire) == decode(cls, expected)


# --- coverage of the generated classes -------------------------------------------------------

def generated_classes() -> list[type]:
    all_message_classes()  # the lazy modules create the rest
    return [cls for module in (pb, wkt, health, goplugin) for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, betterproto2.Message)]


def test_field_plans_name_the_classes_and_defaults_betterproto2_does() -> None:
    # The plans read each class's type hints once; betterproto2's own table is the reference.
    checked = 0
    for cls in generated_classes():
        table = cls._betterproto
        for field in plan_message(cls).fields:
            if field.python_type is not None and not field.unwrap:
                assert field.python_type is table.cls_by_field[field.name], (cls, field.name)
                checked += 1
            if not field.repeated and field.entry is None:
                expected = table.default_gen[field.name]()
                assert (field.default, type(field.default)) == (expected, type(expected)), (cls, field.name)
    assert checked > 600


def entry_facts(plan: MessagePlan) -> list[tuple[Any, ...]]:
    # An enum value's default is left out: betterproto2's entry class computes it with a closure
    # over a loop variable, so it gets the default of the class's last map value type (Scalars'
    # colour_map gets 0.0); it is checked on its own below.
    return [(f.name, f.number, f.proto_type, f.presence, f.python_type, f.unwrap,
             *(() if f.proto_type == "enum" else (f.default, type(f.default)))) for f in plan.fields]


def test_map_entry_plans_match_the_entry_classes_betterproto2_makes(sample: ModuleType) -> None:
    # The plans declare a map's entry from the field's metadata; betterproto2's own entry class
    # (``cls_by_field``, which costs a read of every type hint per field) is the reference.
    checked = set()
    for cls in [*generated_classes(), sample.Scalars, sample.Holder]:
        for field in plan_message(cls).fields:
            if field.entry is not None:
                reference = plan_message(cls._betterproto.cls_by_field[field.name])
                assert entry_facts(field.entry) == entry_facts(reference), (cls, field.name)
                key_field, value = field.entry.fields
                if value.proto_type == "enum":
                    assert value.python_type is not None
                    assert (value.default, type(value.default)) == (value.python_type(0), value.python_type)
                checked.add((key_field.proto_type, value.proto_type, value.unwrap))
    assert {("string", "message", True), ("string", "enum", False), ("int32", "string", False)} <= checked


def test_sample_map_entries_with_missing_parts_get_defaults(sample: ModuleType, google_sample: Any) -> None:
    wire = b"".join([
        length_delimited(37, length_delimited(1, b"no colour")),  # colour_map
        length_delimited(36, key(2, 2) + varint(1) + b"v"),  # int_map without a key
    ])
    expected = sample.Scalars(colour_map={"no colour": sample.Colour.UNSET}, int_map={0: "v"})
    assert decode(sample.Scalars, wire) == expected == sample.Scalars.parse(wire)
    assert type(decode(sample.Scalars, wire).colour_map["no colour"]) is sample.Colour
    wrapped = length_delimited(7, length_delimited(1, b"none")) + length_delimited(
        7, length_delimited(1, b"some") + length_delimited(2, length_delimited(1, b"text")))
    assert decode(sample.Holder, wrapped) == sample.Holder.parse(wrapped)
    assert decode(sample.Holder, wrapped).wrapped == {"none": None, "some": "text"}
    assert_same_as_references(sample.Holder(wrapped={"": "", "x": "y"}), google_sample(sample.Holder))


def test_every_generated_class_compiles_without_falling_back() -> None:
    classes = generated_classes()
    assert len(classes) > 600
    for cls in classes:
        compiler.message_encoder_for(cls)
        compiler.decoder_for(cls)
    assert not set(compiler.fallbacks()) & set(classes)


@dataclasses.dataclass(eq=False, repr=False)
class Trimmed(betterproto2.Message):
    """A hand-written message whose __post_init__ the generated decoder could not run."""

    name: str = betterproto2.field(1, betterproto2.TYPE_STRING)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = self.name.strip()


def test_an_unsupported_class_falls_back_to_betterproto2() -> None:
    assert encode(Trimmed(name=" a ")) == b"\x0a\x01a"
    assert decode(Trimmed, b"\x0a\x01a") == Trimmed(name="a")
    assert "__post_init__" in compiler.fallbacks()[Trimmed]


# --- on the wire, with grpcio as the foreign peer ---------------------------------------------

HOOK = "/mattermost.pluginapi.v1.PluginHooks/MessageWillBePosted"


def rich_request() -> pb.MessageWillBePostedRequest:
    props = wkt.Struct.from_dict({"from_bot": "true", "count": 3.0, "nested": {"list": [None, True, "x"]}})
    return pb.MessageWillBePostedRequest(
        context=pb.RequestContext(plugin_id="com.example"), plugin_context=pb.PluginContext(session_id="s"),
        post=pb.Post(id="p", message="é" * 300, create_at=-1, props=props, file_ids=["a", ""]),
    )


class EchoHooks(pb.PluginHooksBase):
    async def message_will_be_posted(
        self, message: pb.MessageWillBePostedRequest
    ) -> pb.MessageWillBePostedResponse:
        return pb.MessageWillBePostedResponse(modified_post=message.post, rejection_reason="checked")


async def test_grpcio_client_reads_what_the_codec_serves(google: Any) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = WireServer([EchoHooks()], codec=MessageCodec(), max_receive=FILE_RECEIVE_LIMIT)
    await server.start(sock=sock)
    request_cls, response_cls = google(pb.MessageWillBePostedRequest), google(pb.MessageWillBePostedResponse)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sock.getsockname()[1]}") as channel:
            call = channel.unary_unary(HOOK, request_serializer=request_cls.SerializeToString,
                                       response_deserializer=response_cls.FromString)
            reply = await call(request_cls.FromString(bytes(rich_request())), timeout=10)
    finally:
        server.close()
        await server.wait_closed()
    expected = pb.MessageWillBePostedResponse(modified_post=rich_request().post, rejection_reason="checked")
    assert decode(pb.MessageWillBePostedResponse, reply.SerializeToString()) == expected


async def test_codec_reads_what_a_grpcio_server_sends(google: Any) -> None:
    request_cls, response_cls = google(pb.MessageWillBePostedRequest), google(pb.MessageWillBePostedResponse)

    async def handle(request: Any, context: Any) -> Any:
        return response_cls(modified_post=request.post, rejection_reason="checked")

    method = grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=request_cls.FromString,
        response_serializer=response_cls.SerializeToString,
    )
    service = grpc.method_handlers_generic_handler(
        "mattermost.pluginapi.v1.PluginHooks", {"MessageWillBePosted": method},
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([service])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = Channel("127.0.0.1", port, codec=MessageCodec())
    try:
        reply = await pb.PluginHooksStub(channel).message_will_be_posted(rich_request(), timeout=10)
    finally:
        channel.close()
        await server.stop(None)
    expected = pb.MessageWillBePostedResponse(modified_post=rich_request().post, rejection_reason="checked")
    assert reply == expected
