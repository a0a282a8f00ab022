"""An RE2 prefilter over every shipped cue section, for the tests of the prefilter itself."""

from __future__ import annotations

import re

from llmvet.validators.uncertainty.cues import CueSet, load
from llmvet.validators.uncertainty.prefilter import Prefilter


def sections_prefilter() -> tuple[CueSet, Prefilter]:
    """The shipped cues and an RE2 prefilter over all their sections. The shipped set carries none
    (cues.py says why), but the prefilter still serves the refusal categories and must stay exact
    wherever it runs, so its tests build one over the largest set there is."""
    cues = load("en")
    return cues, Prefilter({s: rx for s, rx in cues.patterns.items() if isinstance(rx, re.Pattern)})
