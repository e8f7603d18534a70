"""Mattermost-style ids: 26 characters of lower-case base32 (``model.NewId``)."""

from __future__ import annotations

import base64
import os


def new_id() -> str:
    """A new random 26-character id like the ones the Mattermost server generates."""
    return base64.b32encode(os.urandom(16)).decode("ascii").lower().rstrip("=")[:26]


__all__ = ["new_id"]
