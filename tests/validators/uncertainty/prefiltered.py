"""Cue sets with the RE2 prefilter over every section, for the tests of the prefilter itself."""

from __future__ import annotations

import dataclasses
import re

from llmvet.validators.uncertainty.cues import CueSet, load
from llmvet.validators.uncertainty.prefilter import Prefilter


def prefiltered_cues() -> CueSet:
    """The shipped cues with an RE2 prefilter over every section. The shipped set has none (cues.py
    says why), but the prefilter still serves the refusal categories and must stay exact wherever it
    runs, so its tests build one."""
    cues = load("en")
    sections = {s: rx for s, rx in cues.patterns.items() if isinstance(rx, re.Pattern)}
    return dataclasses.replace(cues, prefilter=Prefilter(sections))
