"""Sans-IO pieces of the process contract: the handshake line and stderr log lines."""

from __future__ import annotations

import json

import pytest

from mmplugin.wire.handshake import Handshake, HandshakeError
from mmplugin.wire.logline import format_line, hclog_level, parse_line


def test_handshake_line_round_trips() -> None:
    shake = Handshake("127.0.0.1", 4242)
    assert shake.line() == "1|1|tcp|127.0.0.1:4242|grpc"
    assert Handshake.parse(shake.line() + "\n") == shake


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("1|1|tcp|127.0.0.1:4242", "5 '|'-separated fields"),
        ("2|1|tcp|127.0.0.1:4242|grpc", "core protocol version '2'"),
        ("1|3|tcp|127.0.0.1:4242|grpc", "app protocol version '3'"),
        ("1|1|unix|/tmp/sock|grpc", "network 'unix'"),
        ("1|1|tcp|127.0.0.1:4242|netrpc", "plugin protocol 'netrpc'"),
        ("1|1|tcp|127.0.0.1|grpc", "malformed address '127.0.0.1'"),
        ("1|1|tcp|127.0.0.1:99999|grpc", "malformed address"),
        ("hello world", "5 '|'-separated fields"),
    ],
)
def test_malformed_handshake_names_the_problem(line: str, complaint: str) -> None:
    with pytest.raises(HandshakeError, match="(?s).*" + complaint.replace("|", r"\|").replace(".", r"\.")):
        Handshake.parse(line)


def test_python_levels_map_to_hclog_names() -> None:
    assert [hclog_level(n) for n in (5, 10, 20, 30, 40, 50)] == ["trace", "debug", "info", "warn", "error", "error"]


def test_json_log_line_keeps_level_message_and_fields() -> None:
    line = format_line("warn", "disk “low”", {"free_mb": 12, "path": object.__name__})
    record = json.loads(line)
    assert record["@level"] == "warn"
    assert record["@message"] == "disk “low”"
    assert record["free_mb"] == 12
    parsed = parse_line(line + "\n")
    assert (parsed.level, parsed.message, parsed.fields) == ("warn", "disk “low”", {"free_mb": 12, "path": "object"})


@pytest.mark.parametrize(
    ("line", "level", "message"),
    [
        ("[ERROR] it broke", "error", "it broke"),
        ("[WARN] careful", "warn", "careful"),
        ("WARNING: python style", "debug", "WARNING: python style"),
        ("{not json", "debug", "{not json"),
        ('{"no_level": 1}', "debug", '{"no_level": 1}'),
        ('{"@level": "warning", "@message": "m"}', "debug", '{"@level": "warning", "@message": "m"}'),
    ],
)
def test_plain_lines_are_classified_like_the_host_does(line: str, level: str, message: str) -> None:
    parsed = parse_line(line)
    assert (parsed.level, parsed.message) == (level, message)


def test_unserialisable_field_values_become_strings() -> None:
    record = json.loads(format_line("info", "x", {"obj": frozenset()}))
    assert record["obj"] == "frozenset()"
