"""Keep h2 from hex-encoding every DATA frame it receives.

h2 (4.x) writes a trace line for each received frame, and builds its text, ``repr(frame)``,
before it knows whether anyone listens. hyperframe's repr of a DATA frame hex-encodes the whole
body and then keeps the first 20 characters: for a 64 KiB ServeHTTP chunk that is a 128 KiB
string made and thrown away, about a third of the receiving side's time on a streamed download
(``benchmarks/``, cProfile of the host: ``binascii.hexlify``).

:func:`install` gives ``DataFrame`` a repr that encodes only the bytes those 20 characters show.
The text is unchanged, character for character (``tests/test_endpoints.py`` compares the two), so
nothing that logs frames can tell the difference.
"""

from __future__ import annotations

from hyperframe import frame

#: Bytes whose hex form covers the 20 characters hyperframe keeps, plus one to keep its "...".
_SHOWN = 11


def _data_frame_body_repr(self: frame.DataFrame) -> str:
    # The first bytes of what serialize_body() would join (pad length, data, padding), without
    # copying the whole chunk to get them.
    head = self.serialize_padding_data() + bytes(self.data[:_SHOWN]) + b"\0" * min(self.pad_length, _SHOWN)
    return frame._raw_data_repr(head[:_SHOWN])


def install() -> None:
    """Replace ``DataFrame``'s body repr; idempotent, and a no-op on a hyperframe that lacks it."""
    if hasattr(frame, "_raw_data_repr") and "_body_repr" not in frame.DataFrame.__dict__:
        frame.DataFrame._body_repr = _data_frame_body_repr  # type: ignore[method-assign,assignment]
