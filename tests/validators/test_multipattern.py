"""multipattern.py: the one multi-pattern engine of the validators, and the miss it was chosen to avoid."""

from __future__ import annotations

import re
import threading

import pytest

from llmvet.validators import multipattern
from llmvet.validators.multipattern import CASELESS, MULTILINE, PREFILTER, SINGLEMATCH, SOM_LEFTMOST, CompileError
from llmvet.validators.uncertainty.cues import load

pytestmark = pytest.mark.skipif(not multipattern.available(), reason="no pyperscan")

# Two gates of the shipped cues (prefilter.py's supersets of frame.pro_drop_degree and frame.pro_drop),
# as they were when the `hyperscan` 0.9.1 wheel (vectorscan 5.4.12) was found to report neither in
# _MISSED_IN, while it reports the first with the first alone: the words "fairly confident" first stand
# where the opening does not match, then "not certain the" after "; ", where it does.
_OPENING = (
    rb"(?:^[\x09\x20\x23\x2a\x2d\x3e-\x3f\x5f]*[\x09\x20\x29\x2e0-9\x3f]*|(?:[\x21\x28\x2e\x3a-\x3b\x3f]\x20)"
    rb"|(?:[\x28\x3f])|(?:\x2c\x20but\x20)|(?:\x20but\x20)|(?:\x2c\x20and\x20)|(?:\x2c\x20so\x20))"
)
_DEGREE = _OPENING + (
    rb"(?:(?:pretty|fairly|reasonably|quite|moderately|very|highly|less|least|only\x20somewhat|somewhat"
    rb"|not[\x20\x250-1ac-fh-il-rt-uy]*)\x20(?:sure|certain|confident|positive)\x20(?:on|about|of|that|whether"
    rb"|if|regarding|in|here|this|the)|not\x20(?:100\x25|a\x20hundred\x20percent|one\x20hundred\x20percent"
    rb"|entirely|fully|totally|completely)\x20(?:on|about|whether|if|that))"
)
_PRO_DROP = _OPENING + (
    rb"(?:haven\x27t|have\x20not|didn\x27t|did\x20not|never)\x20[\x20aceln-pr-uy]*(?:tested|compiled|run|ran"
    rb"|tried|executed|benchmarked|measured|verified|checked|confirmed)\x20(?:it|this|that|on|with|in|myself)"
)
_MISSED_IN = b"i'm fairly confident; not certain the defaults"
_GATE = SINGLEMATCH | PREFILTER | MULTILINE


def reported(db: multipattern.Database, data: bytes) -> list[tuple[int, int, int]]:
    hits: list[tuple[int, int, int]] = []
    db.scan(data, lambda i, start, end: hits.append((i, start, end)))
    return hits


def test_a_gate_is_reported_in_a_database_of_two_as_alone():
    alone = multipattern.Database([_DEGREE], [_GATE])
    pair = multipattern.Database([_DEGREE, _PRO_DROP], [_GATE, _GATE])
    assert re.search(_DEGREE.decode(), _MISSED_IN.decode(), re.M)  # (a real match, by plain re)
    assert [i for i, _, _ in reported(alone, _MISSED_IN)] == [0]
    assert [i for i, _, _ in reported(pair, _MISSED_IN)] == [0]


def test_the_shipped_cues_open_the_gate_of_a_frame_that_matches():
    cues = load("en")
    assert cues.starts is not None and cues.starts.literal is not None and cues.starts.literal.gated
    view = "ing yet.\n\ni'm fairly confident about this approach; not certain the defaults are the same."
    pattern = dict(cues.indexed)["frame.pro_drop_degree"]
    assert pattern.search(view)
    assert "frame.pro_drop_degree" in cues.starts.starts(view).opened()


def test_indexes_flags_and_leftmost_starts():
    db = multipattern.Database(
        [b"pip install", b"requirements\\.txt", b"^import"], [SOM_LEFTMOST, SOM_LEFTMOST | CASELESS, MULTILINE]
    )
    text = b"run pip install x, then REQUIREMENTS.txt\nimport os"
    assert sorted(reported(db, text)) == [(0, 4, 15), (1, 24, 40), (2, 0, 47)]
    assert reported(db, b"nothing here") == []


def test_an_expression_the_engine_does_not_take_raises_compile_error():
    with pytest.raises(CompileError):
        multipattern.Database([b"fine", b"(unclosed"], [0, 0])


def test_threads_scan_one_database_at_once():
    # (a scanner serves one thread at a time: each thread gets its own)
    db = multipattern.Database([b"ab", b"cd"], [0, 0])
    errors: list[BaseException] = []
    counts: list[int] = []

    def work(data: bytes) -> None:
        try:
            n = 0
            for _ in range(3000):
                n += len(reported(db, data))
            counts.append(n)
        except BaseException as exc:  # (asserted below: a thread's error must not vanish)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in (b"abab cd", b"cd cd cd ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(counts) == [3000 * 3, 3000 * 4]


def test_an_error_in_the_callback_reaches_the_caller_and_the_next_scan_works():
    db = multipattern.Database([b"ab"], [0])

    def fail(_i: int, _s: int, _e: int) -> None:
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        db.scan(b"xxab", fail)
    assert reported(db, b"ab") == [(0, 0, 2)]
