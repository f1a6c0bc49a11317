"""What each page gets of a machine's live message, encoded once for every screen that shows it.

A message holds the HTML of every tile (`monitoring.live.tiles`); a page gets only those it
draws. The publisher encodes each message once per page (`texts`) and sends those texts to the
groups whose screens draw them (`update_events`), so a thousand screens cost one encoding, not a
thousand; the consumer forwards the text as it is.
"""

from __future__ import annotations

import json

UPDATE_EVENT = "machine.update"
"""The channel-layer event of a machine's new message (handled by the consumer's `machine_update`)."""

# Which tiles each page draws from a machine's message (the others are not sent to it).
PAGE_TILES = {"plant": ("tile", "line"), "line": ("panel",), "machine": ("card",)}
OPERATED_LINE = "line_operate"
"""The line screen of those who may operate the line: its panels offer reasons and scrap."""
VIEWS = ("plant", "line", OPERATED_LINE, "machine")


def view_of(kind: str, operates: bool) -> str:
    """The view a screen of page `kind` gets: one of VIEWS."""
    return OPERATED_LINE if kind == "line" and operates else kind


def shaped(message: dict, view: str) -> dict:
    """The message as screens of `view` get it: only the HTML of the tiles they draw."""
    html = message.get("html") or {}
    if view == OPERATED_LINE:
        if "panel_operate" in html:
            html = {**html, "panel": html["panel_operate"]}
        view = "line"
    return {**message, "html": {name: html[name] for name in PAGE_TILES[view] if name in html}}


def texts(message: dict) -> dict[str, str]:
    """The message as each view gets it, as JSON text."""
    return {view: json.dumps(shaped(message, view)) for view in VIEWS}


def update_events(message: dict, encoded: dict[str, str], groups: dict[str, tuple[str, ...]]) -> list[tuple[str, dict]]:
    """(group, channel-layer event) for each of `groups` (group → the views its screens have), with their texts.

    An event carries what a consumer needs to decide (machine, line, ts), the group it is sent to
    (`hub` hands it to that group's screens) and the text to send.
    """
    head = {"type": UPDATE_EVENT, "machine": message["machine"], "line": message["line"], "ts": message["ts"]}
    return [(group, {**head, "group": group, "texts": {view: encoded[view] for view in views}})
            for group, views in groups.items()]


def snapshot_text(parts: list[str]) -> str:
    """The snapshot message of these machines' texts, as `json.dumps` would write it."""
    return '{"type": "snapshot", "machines": [' + ", ".join(parts) + "]}"
