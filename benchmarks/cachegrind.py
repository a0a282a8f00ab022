"""One command's user-space instructions, counted by valgrind's cachegrind (the *_instructions.py benchmarks).

On the shared two-core development machine CPU time moves by 5-10 % with the other processes' load; the
number of instructions a run executes barely moves, so changes of 1-3 % can be told from noise. The
hash seed is fixed (dict and set layouts, so the work, stay the same from run to run).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]


def instructions(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """(instructions, its standard output) of `python ARGS` under cachegrind, with `env` added."""
    out = subprocess.run(
        [*VALGRIND, sys.executable, *args],
        env={**os.environ, "PYTHONHASHSEED": "0", **env},
        capture_output=True,
        text=True,
    )
    ir = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or ir is None:
        raise SystemExit(f"no count from valgrind for {args}:\n{out.stdout[-1000:]}\n{out.stderr[-3000:]}")
    return int(ir.group(1).replace(",", "")), out.stdout


def per_pass(script: str, src: str, passes: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(instructions a pass, KB a pass reads) of `script --inner N`, which runs its setup and N passes and
    prints "KB <size>": counted with no pass and with `passes`, `src` first on the path."""

    def run(n: int) -> tuple[int, float]:
        ir, out = instructions([script, "--inner", str(n)], {"PYTHONPATH": src, **(env or {})})
        kb = re.search(r"^KB ([\d.]+)$", out, re.M)
        if kb is None:
            raise SystemExit(f"no KB from {src}:\n{out[-2000:]}")
        return ir, float(kb.group(1))

    idle, _ = run(0)
    busy, kb = run(passes)
    return (busy - idle) / passes, kb


def pass_line(src: str, per: float, kb: float, base: float) -> str:
    return f"  {src}: {per / 1e6:8.1f} M instructions a pass ({kb:.1f} KB), {per / kb / 1e3:7.1f} k a KB, ratio {per / base:.4f}"


def pass_arguments(passes: int) -> argparse.Namespace:
    """SRC folders to compare (the first is the base), --passes, and the child's hidden --inner N."""
    ap = argparse.ArgumentParser()
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("src", nargs="*", default=[str(root / "src")], help="src folders to compare (the first: base)")
    ap.add_argument("--passes", type=int, default=passes)
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    return ap.parse_args()
