"""Read what a rendered page shows: its elements with their attributes, text and enclosing elements."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: list[Element]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    def within(self, **attrs: str) -> bool:
        """Whether this element or an enclosing one has all these attributes (data_machine= for data-machine)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        chain = [self, *self.ancestors]
        return all(any(e.attrs.get(name) == value for e in chain) for name, value in wanted.items())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, list(reversed(self.open)))
        self.elements.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.parts.append(data)


def elements(html: str | bytes) -> list[Element]:
    collector = _Collector()
    collector.feed(html.decode() if isinstance(html, bytes) else html)
    return collector.elements


def find(html_or_elements, tag: str | None = None, within: dict | None = None, **attrs: str) -> list[Element]:
    """Elements with `tag` and these attributes (data_field= for data-field), inside elements with `within`."""
    found = elements(html_or_elements) if isinstance(html_or_elements, (str, bytes)) else html_or_elements
    wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
    return [
        e for e in found
        if (tag is None or e.tag == tag)
        and all(e.attrs.get(name) == value for name, value in wanted.items())
        and (not within or e.within(**within))
    ]


def one(html_or_elements, tag: str | None = None, within: dict | None = None, **attrs: str) -> Element:
    matches = find(html_or_elements, tag, within, **attrs)
    assert len(matches) == 1, f"expected one element {tag or ''}{attrs} within {within}, found {len(matches)}"
    return matches[0]


_REMOTE = re.compile(
    r"<(?:script[^>]*\bsrc|link[^>]*\bhref)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE,
)


def remote_assets(html: str) -> list[str]:
    """Script and stylesheet tags that load from another host (a plant network has no internet)."""
    return [match.group(0) for match in _REMOTE.finditer(html)]
