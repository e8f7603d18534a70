"""Errors raised by the wire codec.

::

    ValueError
    └── DecodeError      bytes that are not a valid encoding of the requested message type
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Protobuf bytes could not be decoded into ``message_type``.

    ``offset`` is the byte position in the input where the problem was found, or ``None`` when
    it is not known (for example invalid UTF-8 detected while decoding a string).
    """

    def __init__(self, message_type: str, reason: str, offset: int | None) -> None:
        where = "" if offset is None else f" at offset {offset}"
        super().__init__(f"cannot decode {message_type}: {reason}{where}")
        self.message_type = message_type
        self.reason = reason
        self.offset = offset
