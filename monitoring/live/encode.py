"""What each page gets of a machine's live message, encoded once for every screen that shows it.

A message holds the HTML of every tile (`monitoring.live.tiles`); a page gets only those it
draws. The publisher encodes each message once per page (`texts`) and sends those texts to the
groups whose screens draw them (`update_events`), so a thousand screens cost one encoding, not a
thousand; the consumer forwards the text as it is.
"""

from __future__ import annotations

import json

from monitoring.live import tiles

UPDATE_EVENT = "machine.update"
"""The channel-layer event of a machine's new message (handled by the consumer's `machine_update`)."""

# Which tiles each page draws from a machine's message (the others are not sent to it).
PAGE_TILES = {"plant": ("tile", "line"), "line": ("panel",), "machine": ("card",)}
OPERATED_LINE = "line_operate"
"""The line screen of those who may operate the line: its panels offer reasons and scrap."""
BASE_VIEWS = ("plant", "line", OPERATED_LINE, "machine")
VIEWS = BASE_VIEWS + tuple(f"{view}@{language}" for language in tiles.languages()[1:] for view in BASE_VIEWS)
"""Each page's view in the default language, and as `view@language` in each other language."""


def view_of(kind: str, operates: bool, language: str | None = None) -> str:
    """The view a screen of page `kind` gets in `language` (the default if None or unknown): one of VIEWS."""
    view = OPERATED_LINE if kind == "line" and operates else kind
    language = tiles.language_of(language)
    return view if language in (None, tiles.languages()[0]) else f"{view}@{language}"


def shaped(message: dict, view: str) -> dict:
    """The message as screens of `view` get it: only the HTML of the tiles they draw, in their language."""
    view, _, language = view.partition("@")
    html = ((message.get("html_in") or {}).get(language) if language else None) or message.get("html") or {}
    if view == OPERATED_LINE:
        if "panel_operate" in html:
            html = {**html, "panel": html["panel_operate"]}
        view = "line"
    shown = {key: value for key, value in message.items() if key != "html_in"}
    return {**shown, "html": {name: html[name] for name in PAGE_TILES[view] if name in html}}


def texts(message: dict) -> dict[str, str]:
    """The message as each view gets it, as JSON text."""
    return {view: json.dumps(shaped(message, view)) for view in VIEWS}


def update_events(message: dict, encoded: dict[str, str], groups: dict[str, tuple[str, ...]]) -> list[tuple[str, dict]]:
    """(group, channel-layer event) for each of `groups` (group → the views its screens have, in every
    language), with their texts.

    An event carries what a consumer needs to decide (machine, line, ts), the group it is sent to
    (`hub` hands it to that group's screens) and the text to send.
    """
    head = {"type": UPDATE_EVENT, "machine": message["machine"], "line": message["line"], "ts": message["ts"]}
    return [(group, {**head, "group": group,
                     "texts": {view: text for view, text in encoded.items() if view.partition("@")[0] in views}})
            for group, views in groups.items()]


def snapshot_text(parts: list[str]) -> str:
    """The snapshot message of these machines' texts, as `json.dumps` would write it."""
    return '{"type": "snapshot", "machines": [' + ", ".join(parts) + "]}"
