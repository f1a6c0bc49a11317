"""The one renderer of every live tile: the HTML of a machine's message, for each page that shows it.

The pages include these same partials for their first paint, and the browser swaps in the
HTML of each update; what is shown, and which actions are offered, is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from monitoring.charts import TimelineRow
from planning.models import Line

# What each page shows of a machine, and the partial that draws it.
TEMPLATES = {
    "tile": "monitoring/live/machine_tile.html",           # plant overview: the machine's tile
    "line": "monitoring/live/line_kpi.html",               # plant overview: its line's figures
    "panel": "monitoring/live/machine_panel.html",         # line screen, for those who only watch
    "panel_operate": "monitoring/live/machine_panel.html",  # line screen, for the line's operators
    "card": "monitoring/live/machine_card.html",           # machine detail: the machine now
}
TIMELINE_WIDTH = 1000


@dataclass(frozen=True)
class Bar:
    """One state of the timeline, in the SVG's units across the shift."""

    x: float
    width: float
    state: str
    row: TimelineRow


def timeline_bars(rows: list[TimelineRow], shift: dict | None) -> list[Bar]:
    if not shift:
        return []
    start, end = parse_datetime(shift["start"]), parse_datetime(shift["end"])
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return max(0.0, min(TIMELINE_WIDTH, (moment - start).total_seconds() / span * TIMELINE_WIDTH))

    bars = []
    for row in rows:
        a, b = x(row.start), x(row.end)
        if b > a:
            bars.append(Bar(round(a, 2), round(max(b - a, 0.8), 2), row.state, row))
    return bars


def languages() -> tuple[str, ...]:
    """The languages every tile is drawn in: the site's default first, then the others of LANGUAGES."""
    default = settings.LANGUAGE_CODE
    return (default, *[code for code, _ in settings.LANGUAGES if code != default])


def language_of(code: str | None) -> str | None:
    """The language of `languages()` that a language code asks for ('fr-CH' → 'fr'), or None."""
    if not code:
        return None
    code = code.lower()
    for language in languages():
        if code == language or code.split("-")[0] == language:
            return language
    return None


def render_languages(line: Line, message: dict, timeline: list[TimelineRow],
                     now: datetime) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The tiles of `message` in the default language, and by language code in each other language.

    Every screen of a line shares one message, whatever its language: each language is drawn once
    here, and a screen gets its own (`encode.shaped`).
    """
    default, *others = languages()
    with translation.override(default):
        html = render(line, message, timeline, now)
    translated = {}
    for language in others:
        with translation.override(language):
            translated[language] = render(line, message, timeline, now)
    return html, translated


def in_language(message: dict, language: str | None = None) -> dict[str, str]:
    """The tiles of a message in `language` (the active one if None), for a page's first paint."""
    language = language_of(language or translation.get_language())
    return (message.get("html_in") or {}).get(language) or message.get("html") or {}


def render(line: Line, message: dict, timeline: list[TimelineRow], now: datetime) -> dict[str, str]:
    """The HTML of each tile that shows the machine of `message`, in the line's site's time zone and the
    active language."""
    context = {
        "m": message, "line": line, "thresholds": line.thresholds, "bars": timeline_bars(timeline, message["shift"]),
        "now_x": None,
    }
    if message["shift"]:
        shift_start = parse_datetime(message["shift"]["start"])
        shift_end = parse_datetime(message["shift"]["end"])
        share = (now - shift_start).total_seconds() / (shift_end - shift_start).total_seconds()
        context["now_x"] = round(max(0.0, min(1.0, share)) * TIMELINE_WIDTH - 1.5, 2)
    with timezone.override(line.area.site.zone):
        return {
            name: render_to_string(template, {**context, "operate": name == "panel_operate"})
            for name, template in TEMPLATES.items()
        }
