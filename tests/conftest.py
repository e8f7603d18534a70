"""Suite-wide test settings.

Hypothesis runs under the profile named by ``HYPOTHESIS_PROFILE``: ``ci`` (the default) is
reproducible — same examples on every run, nothing read from or written to an example database —
``dev`` is a quick local pass, and ``thorough`` explores with fresh random examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True, database=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
