"""reStructuredText: install lines and imports in literal blocks (`.. code-block::`, `.. code::`,
`::`, doctest and prompt blocks) are read as code, at the file's own line and column; imports in
prose and in non-code directives are not."""

from __future__ import annotations

import json

from tests.cli.scan.conftest import line_of, scan

RST = """\
Setup
=====

Install it:

.. code-block:: console
   :caption: shell

   $ pip install fastapi-turbo-utils

Use it:

.. code-block:: python
   :linenos:

   import requests
   from numpyx_fast import go

   def main():
       import pandaz_core
       return go()

Or, shorter::

    >>> import torchy_magic

.. highlight:: python

Last::

\timport tabbed_pkgx

.. code:: python

   import codedir_pkgq

.. doctest::

   >>> import doctestpkg_zz

.. note::

   You can import notreadpkg_q in prose; it is not code.

You could also import prose_only_pkg by hand.

.. prompt:: bash $

   npm install lodahs

A doctest block needs no directive:

>>> import bare_doctest_pkgz
"""
CODE = ["fastapi-turbo-utils", "numpyx_fast", "pandaz_core", "torchy_magic", "tabbed_pkgx", "codedir_pkgq",
        "doctestpkg_zz", "lodahs", "bare_doctest_pkgz"]  # fmt: skip


def _where(text: str, needle: str) -> tuple[int, int]:
    """Line and column of `needle`, found in the source text, independently of the scanner."""
    line = line_of(text, needle)
    return line, text.splitlines()[line - 1].index(needle) + 1


def test_literal_blocks_are_read_as_code_at_file_line_and_column(tmp_path, packages_policy):
    for name, text in (("guide.rst", RST), ("crlf.rst", RST.replace("\n", "\r\n"))):
        path = tmp_path / name
        path.write_bytes(text.encode())
        r = scan(name, "--policy", str(packages_policy), "--format", "json", cwd=tmp_path,
                 store=f"sqlite:///{tmp_path}/s.db")  # fmt: skip
        assert r.returncode == 1, r.stderr
        found = json.loads(r.stdout)["findings"]
        got = {(f["evidence"]["name"], f["location"]["line"], f["location"]["column"]) for f in found}
        assert got == {(n, *_where(text, n)) for n in CODE}, name
        for f in found:  # spans are offsets into the file itself
            a, b = f["span"]
            assert text[a:b] == f["evidence"]["name"]
        assert all(f["fails"] and f["location"]["path"] == name for f in found)


def test_an_rst_file_with_no_literal_block_reads_as_prose(tmp_path, packages_policy):
    (tmp_path / "notes.rst").write_text("Notes\n=====\n\nRun ``pip install reqeusts`` first.\n")
    r = scan("notes.rst", "--policy", str(packages_policy), "--format", "github", cwd=tmp_path,
             store=f"sqlite:///{tmp_path}/s.db")  # fmt: skip
    line, col = _where("Notes\n=====\n\nRun ``pip install reqeusts`` first.\n", "reqeusts")
    assert r.returncode == 1 and f"file=notes.rst,line={line},col={col}," in r.stdout
