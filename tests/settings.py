"""Settings of the test run: the project's own, read with DEBUG on unless the environment says otherwise.

The tests were written against the development settings (`make run`'s): DEBUG on when Django reads
them, so no HTTPS redirect and the built-in keys. pytest-django still runs each test with DEBUG off.
Subprocesses the tests start inherit the same environment.
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")

from oee_site.settings import *  # noqa: E402, F403
