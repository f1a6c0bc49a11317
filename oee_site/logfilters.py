"""Logging filters of the LOGGING setting."""

from __future__ import annotations

import logging


class WithoutLostConnections(logging.Filter):
    """Drops asyncua's records of a connection that was lost, which the collector reports itself.

    asyncua logs a session whose server went away (a PLC switched off, the simulator stopped
    first at Ctrl-C) as an ERROR with a traceback from its publish loop; the collector already
    says so in one line ("session lost") and reconnects.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("asyncua.") and record.exc_info and isinstance(record.exc_info[1], ConnectionError)
        )
