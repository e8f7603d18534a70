"""Struct and ListValue fields decode on first read (mmplugin.wire.lazy) and then behave as eager ones."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from google_protos import google_message_classes
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, messages

from mmplugin.proto import pb, wkt
from mmplugin.wire import codec, lazy
from mmplugin.wire.codec import decode, encode

PROPS = {
    "from_webhook": "true",
    "mentions": {"town-square": {"display_name": "Town Square"}},
    "attachments": [{"fallback": "build passed", "fields": [{"title": "Duration", "short": True}]}],
    "count": 3.0,
}


@pytest.fixture(scope="module")
def google() -> Callable[[type], Any]:
    return google_message_classes()


def eager_post() -> pb.Post:
    return pb.Post(id="p", message="hello", props=wkt.Struct.from_dict(PROPS))


def received_post() -> pb.Post:
    """A post as a plugin receives it: decoded from the wire by the codec."""
    return decode(pb.Post, encode(eager_post()))


def is_shell(value: Any) -> bool:
    return type(value) is not lazy.base_class(type(value))


def test_a_received_struct_is_a_shell_until_read_and_then_a_plain_struct() -> None:
    post = received_post()
    props = post.props
    assert isinstance(props, wkt.Struct)
    assert is_shell(props)
    assert vars(props) == {lazy.WIRE: encode(eager_post().props)}
    assert props.fields["from_webhook"].string_value == "true"
    assert type(props) is wkt.Struct
    nested = props.fields["mentions"].struct_value
    listed = props.fields["attachments"].list_value
    assert is_shell(nested)
    assert is_shell(listed)
    assert isinstance(listed, wkt.ListValue)
    assert listed.values[0].struct_value.fields["fields"].list_value.values[0].struct_value.to_dict() == {
        "title": "Duration", "short": True}
    assert type(listed) is wkt.ListValue
    assert props.to_dict() == PROPS


@pytest.mark.parametrize("use", [
    pytest.param(lambda post, eager: post == eager, id="eq"),
    pytest.param(lambda post, eager: eager == post, id="eq reflected"),
    pytest.param(lambda post, eager: post.props == eager.props and eager.props == post.props, id="eq of the shell"),
    pytest.param(lambda post, eager: (post.props != eager.props) is False, id="ne"),
    pytest.param(lambda post, eager: repr(post) == repr(eager), id="repr"),
    pytest.param(lambda post, eager: bool(post.props), id="bool"),
    pytest.param(lambda post, eager: copy.copy(post.props) == eager.props, id="copy"),
    pytest.param(lambda post, eager: copy.deepcopy(post) == eager, id="deepcopy"),
    pytest.param(lambda post, eager: pickle.loads(pickle.dumps(post)) == eager, id="pickle"),
    pytest.param(lambda post, eager: pickle.loads(pickle.dumps(post.props)) == eager.props, id="pickle shell"),
    pytest.param(lambda post, eager: bytes(post) == bytes(eager), id="betterproto2 bytes"),
    pytest.param(lambda post, eager: post.to_dict() == eager.to_dict(), id="to_dict"),
    pytest.param(lambda post, eager: dataclasses.asdict(post.props) == dataclasses.asdict(eager.props), id="asdict"),
    pytest.param(lambda post, eager: dataclasses.replace(post.props) == eager.props, id="replace"),
])
def test_a_shell_behaves_as_the_decoded_struct(use: Any) -> None:
    assert use(received_post(), eager_post())


def test_a_different_struct_is_not_equal() -> None:
    other = eager_post()
    other.props.fields["count"] = wkt.Value(number_value=4.0)
    assert received_post() != other
    assert received_post().props != other.props


def test_writing_a_field_of_a_shell_keeps_the_write() -> None:
    post = received_post()
    post.props.fields = {"only": wkt.Value(string_value="this")}
    assert type(post.props) is wkt.Struct
    assert post.props.to_dict() == {"only": "this"}
    post = received_post()
    post.props._unknown_fields = b""
    assert post.props.to_dict() == PROPS


def test_an_unread_shell_is_encoded_from_its_bytes_without_being_decoded() -> None:
    post = received_post()
    wire = encode(eager_post())
    assert encode(post) == wire
    assert is_shell(post.props)
    assert encode(post.props) == encode(eager_post().props)
    assert is_shell(post.props)
    again = decode(type(post.props), encode(post.props))  # the shell class decodes as its message class
    assert type(again) is wkt.Struct
    assert again == eager_post().props


def test_a_read_and_changed_struct_is_encoded_with_the_change(google: Callable[[type], Any]) -> None:
    post = received_post()
    post.props.fields["from_webhook"] = wkt.Value(string_value="false")
    changed = eager_post()
    changed.props.fields["from_webhook"] = wkt.Value(string_value="false")
    assert encode(post) == bytes(changed)
    assert google(pb.Post).FromString(encode(post)).props["from_webhook"] == "false"


def test_a_struct_field_met_twice_is_merged_as_google_merges_it(google: Callable[[type], Any]) -> None:
    first = encode(pb.Post(props=wkt.Struct.from_dict({"a": "1", "b": "2"})))
    second = encode(pb.Post(props=wkt.Struct.from_dict({"b": "3", "c": [1.0]})))
    merged = decode(pb.Post, first + second)
    google_post = google(pb.Post).FromString(first + second)
    assert merged.props.to_dict() == {"a": "1", "b": "3", "c": [1.0]}
    assert encode(merged) == google_post.SerializeToString(deterministic=True)


def test_threads_reading_one_shell_share_one_decoded_struct(monkeypatch: pytest.MonkeyPatch) -> None:
    post = received_post()
    decoding = codec.decode

    def slow_decode(cls: type, data: bytes) -> Any:
        time.sleep(0.02)  # long enough for every thread to arrive while the first decodes
        return decoding(cls, data)

    monkeypatch.setattr(codec, "decode", slow_decode)
    start = threading.Barrier(8)
    seen: list[dict[str, wkt.Value]] = []

    def read() -> None:
        start.wait()
        seen.append(post.props.fields)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 8
    assert all(fields is seen[0] for fields in seen)


def test_a_shell_made_by_its_constructor_is_a_plain_struct() -> None:
    shell_class = lazy.shell_class(wkt.Struct)
    made = shell_class(fields={"k": wkt.Value(bool_value=True)})
    assert type(made) is wkt.Struct
    assert made.to_dict() == {"k": True}


def test_only_struct_and_list_value_are_lazy() -> None:
    assert lazy.is_lazy(wkt.Struct)
    assert lazy.is_lazy(wkt.ListValue)
    assert not lazy.is_lazy(wkt.Value)
    assert not lazy.is_lazy(pb.Post)
    assert lazy.base_class(lazy.shell_class(wkt.Struct)) is wkt.Struct
    assert lazy.base_class(pb.Post) is pb.Post


@pytest.mark.parametrize("cls", [pb.MessageWillBePostedRequest, pb.AppError, wkt.Value],
                         ids=lambda cls: cls.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_unread_and_read_shells_encode_what_google_reads_back(
        cls: type, data: st.DataObject, google: Callable[[type], Any]) -> None:
    message = data.draw(messages(cls))
    wire = encode(message)
    received = decode(cls, wire)
    assert encode(received) == wire  # unread shells are copied as they came
    google_cls = google(cls)
    upb_wire = google_cls.FromString(wire).SerializeToString()
    from_upb = decode(cls, upb_wire)
    assert google_cls.FromString(encode(from_upb)) == google_cls.FromString(wire)
    assert received == message  # the comparison reads (and decodes) every shell
    assert from_upb == message
    assert encode(received) == wire  # and encoding the decoded Structs gives the same bytes
