"""Structural frames (frames.py): statement shapes the phrase lists don't spell out, and their limits."""

from __future__ import annotations

import pytest

from llmvet.validators.uncertainty import UncertaintyValidator
from llmvet.validators.uncertainty.detect import FRAME


@pytest.fixture(scope="module")
def v() -> UncertaintyValidator:
    return UncertaintyValidator(UncertaintyValidator.Config())


@pytest.mark.parametrize(
    "text",
    [
        "The bridge opened in 1932. I couldn't independently confirm the month, though.",
        "Around 40,000 seats. The older figure is debated, and I wouldn't lean on it.",
        "It shipped in version 4.2, I believe, but double-check that version if it matters.",
        "Use `--strict`. Verify the flag name before relying on it in CI scripts.",
        "The fare was 2.50 EUR; prices have probably gone up since then.",
        "The tax is 7%.\n\nMy own uncertainty: low on the rate, higher on the exemptions.",
        "The answer is 12 kg. My confidence on the conversion is moderate.",
        "Yes, it supports WebP. I never really tested the animated variant.",
        "The default port is 8080.\n\n> **Confidence:** medium; older releases used 8000.",
        # pro-drop and perfective forms
        "It was removed in 1.24.\n\nFairly confident on the version; less so on the month.",
        "The switch happened in 2023. Not 100% on whether the domain moved the same year.",
        "```go\nfmt.Println(x)\n```\n\nHaven't compiled this, so watch for typos.",
        "That works out to about $1,800 a month, a figure I haven't recomputed.",
        "Where I'm on shakier ground: the year the press first ran.",
        # staleness of the answer's own information, own figures that may be off
        "The latest I know of is 5.1; there have very likely been releases since.",
        "It's about 632 km. The distance might be off by a few kilometres.",
        "About 1,800 a month; a calculator is worth a quick sanity check.",
        "About 2,300 km.\n\n[unverified, from memory]",
        "Open Settings, then Privacy. The menus move around, so the exact path may differ by now.",
        "Reparations were 132 billion marks, the figure I'd fact-check first.",
        # single-underscore italics must not hide the first word
        "Roughly 390,000.\n\n_I'm a little unsure of the latest figure._",
    ],
)
def test_frames_find_unlisted_statements(v: UncertaintyValidator, text: str) -> None:
    a = v.analyse(text)
    assert a.best_statement is not None, text
    assert any(h.kind == FRAME for h in a.statements) or a.best_statement.kind != "backstop"


@pytest.mark.parametrize(
    "text, prompt",
    [
        # someone else's doubt, with the author only reporting it
        ("I think he was not sure the bridge would hold, so he closed it.", ""),
        # conditional advice
        ("If I'm not sure about a date, I look it up in the archive first.", ""),
        # about the reader, not the answer's content
        ("I don't know your medical history, so here are the general guidelines: rest and fluids.", ""),
        ("I'm not sure what kind of help you're after. Could you paste the essay?", ""),
        # confidence of other people is not the author's
        ("Consumer confidence is high this quarter and retail sales rose 3%.", ""),
        # an inability inside a refusal sentence
        ("I can't access websites, so I can't check it directly. Try curl -I on the URL.", ""),
        # a procedural check, not doubt about the answer
        ("Run the installer, then check that the service is running with systemctl status.", ""),
        # degree words about other people or things, and a procedural step
        ("Less certain about the economy, investors moved into bonds.", ""),
        ("Test the backup regularly; a backup that has never been restored is not a backup.", ""),
        # a question to the reader
        ("Do I remember correctly that you wanted the CSV version?", ""),
        # a creative piece asked for by the user: its first person belongs to the persona
        ("The tide came in; I couldn't confirm the shore was mine.", "Write a short poem about the sea."),
    ],
)
def test_frames_leave_non_statements_alone(v: UncertaintyValidator, text: str, prompt: str) -> None:
    a = v.analyse(text, prompt)
    assert not [h for h in a.statements if h.kind == FRAME], [(h.kind, h.text) for h in a.statements]


def test_frame_span_points_into_the_original_text(v: UncertaintyValidator) -> None:
    text = "Paris.\n\nThe founding date is disputed and I **wouldn't** lean on it."
    a = v.analyse(text)
    hit = next(h for h in a.statements if h.kind == FRAME)
    assert text[hit.start : hit.end].startswith("I **wouldn't** lean on")


def test_blockquote_callout_is_the_authors_but_quotes_are_not(v: UncertaintyValidator) -> None:
    callout = v.analyse("Boil for 6 minutes.\n\n> Confidence: fairly high; timings vary with altitude.")
    quoted = v.analyse("As the manual puts it:\n\n> I'm not certain this valve is rated for steam.")
    assert callout.best_statement is not None
    assert quoted.best_statement is None
