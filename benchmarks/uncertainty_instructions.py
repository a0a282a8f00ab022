"""Instructions per KB of the uncertainty validator's read-once rule path, counted by valgrind, tree against tree.

    python benchmarks/uncertainty_instructions.py [--passes 2] SRC [SRC ...]
    python benchmarks/uncertainty_instructions.py /work/main/src "$PWD/src"

On a shared two-core machine CPU time moves by several per cent from run to run with the others' load,
so a change worth 1-3 % cannot be told from noise. The number of instructions a pass executes does not
move: each SRC is run under `valgrind --tool=cachegrind --cache-sim=no` (hash seed fixed), once with no
pass and once with `--passes` passes, and the difference, per pass and per KB of answer, is printed with
its ratio to the first SRC. A pass is what uncertainty_speed.py's "first read" times: `analyse` (the
rule path, no embeddings, no prompt) once over each of 1,000 distinct ~1 KB coding answers
(benchmarks/distinct.py) and each answer of the dev set (tests/data/uncertainty/dev.jsonl, mostly
prose), each text a new string (the rule path keeps no memo of texts, and a new string per pass keeps it
so). Every text is read once before the counted passes, so nothing built on first use is counted.

Both counted runs of a SRC compile the cue set's pyperscan databases (~1.4 s of CPU, validators/
multipattern.py): the same work in both, so the difference leaves it out. Instructions are not time (cache misses and
branch mispredictions are not counted): confirm a gain with uncertainty_speed.py when the machine is
quiet; use this one to tell a real 1 % from noise, and for its ratio. Spread: one tree counted twice
gave the same 2,718.1 M a pass (1,327 KB); the same commit checked out at two paths differed by 0.2 %
(a path's length moves a few counts), so compare trees against a copy of the base, and read < 0.5 %
as no change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "data" / "uncertainty" / "dev.jsonl"


def texts() -> list[str]:
    """The distinct coding answers, then the dev answers."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from distinct import distinct_answers

    dev = [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    return distinct_answers(1000) + dev


def inner(n: int) -> None:
    from llmvet.validators.uncertainty import UncertaintyValidator

    pool = texts()
    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))  # the rule path alone
    for text in pool:  # cue set loaded, database read from the cache folder, anything lazy built
        validator.analyse(text)
    for r in range(n):
        for text in [f"{t}\n\nNote {r}." for t in pool]:  # new strings, as a serving process gets
            validator.analyse(text)
    size = sum(len(f"{t}\n\nNote 0.".encode()) for t in pool) / 1000
    print(f"KB {size:.3f}")


def main() -> None:
    from cachegrind import pass_arguments

    a = pass_arguments(2)
    if a.inner is not None:
        inner(a.inner)
        return
    base = None
    print(f"read-once passes of the uncertainty rule path, instructions counted by cachegrind, {a.passes} passes")
    from cachegrind import pass_line, per_pass

    for src in a.src:
        per, kb = per_pass(__file__, src, a.passes)
        base = per if base is None else base
        print(pass_line(src, per, kb, base))


if __name__ == "__main__":
    main()
