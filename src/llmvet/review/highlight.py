"""Show an answer as it is: cut into segments so every finding's span can be highlighted (spans may
overlap), with invisible direction controls made visible."""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

# Characters that reorder the text around them (embeddings, overrides, isolates, marks): U+202E
# shows "invoice\u202egpj.exe" as "invoiceexe.jpg". A reviewer must see the characters, not obey them.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _bidi_marker(m: re.Match[str]) -> str:
    code = f"U+{ord(m.group(0)):04X}"
    return f'<span class="bidi" title="{code} {unicodedata.name(m.group(0), "")}">[{code}]</span>'


def reveal_bidi(text: object) -> Markup:
    """`text` escaped for HTML, each direction control replaced by a visible, inert `[U+202E]`."""
    return Markup(BIDI_CONTROLS.sub(_bidi_marker, str(escape(text))))


@dataclass(slots=True)
class Segment:
    text: str
    findings: list[int] = field(default_factory=list)  # indices of the findings covering this segment
    severity: str = ""  # the highest severity among them

    @property
    def ids(self) -> str:
        return " ".join(map(str, self.findings))


RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}


def span_in_answer(finding: dict[str, Any], text: str) -> tuple[int, int] | None:
    """The finding's span in the answer under review; None when it has none or points into another choice
    (with `n` > 1 every choice is vetted, but the item keeps the first one's text)."""
    span = finding.get("span")
    if not span or (finding.get("evidence") or {}).get("choice", 0) != 0:
        return None
    return (span[0], span[1]) if 0 <= span[0] < span[1] <= len(text) else None


def segments(text: str, findings: list[dict[str, Any]]) -> list[Segment]:
    spans = []
    for i, f in enumerate(findings):
        span = span_in_answer(f, text)
        if span:
            spans.append((span[0], span[1], i))
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        covering = [i for s, e, i in spans if s <= a and b <= e]
        sev = max((findings[i].get("severity", "medium") for i in covering), key=lambda s: RANK.get(s, 2), default="")
        out.append(Segment(text[a:b], covering, sev))
    return out


def plain_bidi(text: object) -> str:
    """`text` with each direction control replaced by the plain text `[U+202E]` (for attributes)."""
    return BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group(0)):04X}]", str(text))
