"""The live stream (DESIGN.md §7): messages built once per line, pushed to the screens watching it.

`build` makes the messages, `tiles` draws them, `encode` makes each page's text of them once,
`publish` sends and caches them, and `consumers` hands them to the browsers.
"""

from monitoring.live.build import line_messages, machine_message  # noqa: F401
from monitoring.live.publish import (  # noqa: F401
    PLANT_GROUP,
    UPDATE_EVENT,
    broadcast_machines,
    groups_of,
    line_group,
    line_snapshot,
    line_snapshots,
    machine_group,
    publish_all,
    publish_in_background,
)
from monitoring.live.tiles import in_language as tiles_in  # noqa: F401
from planning.lib.instants import iso  # noqa: F401
