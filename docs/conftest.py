"""Run every example of the documentation once per backend, with its shown output checked.

Each page is parsed by one Sybil per backend (numpy, array_api_strict, torch, jax), so
an example becomes one test item per backend, named ``sybil:<backend>,line:N,column:M``.
The only thing injected into a page's namespace is ``backend``, the backend's name; the
pages make ``xp = xpnet.namespace(backend)`` themselves, as a reader would.

Examples are ``pycon`` code blocks, ``>>>`` sessions whose shown output is checked as in
a doctest (an output may hold blank lines, as NumPy prints 3-D arrays); ``python`` blocks
are run too. Dask, lazy, runs only the blocks marked for it (see ``MARKED_ONLY``).
The code block that follows ``<!-- only-on: torch -->`` (any comma-separated
backend names; blank lines may separate them) runs only on those backends: that is how a
page shows the error message each backend raises for the same mistake. A backend that
is not installed is skipped, never failed.

JAX runs with ``jax_enable_x64`` on while a page is tested (the examples show float64
values) and with its traceback filtering off (its note would follow an error message);
both are put back as they were afterwards.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import sybil.parsers.abstract.doctest
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer
from sybil.sybil import SybilCollection

import xpnet

PATTERNS = ["*.md"]
OPTIONFLAGS = doctest.NORMALIZE_WHITESPACE
# x64 for the float64 examples; no traceback filtering, whose note would hide the last
# line of an error message that a page shows.
JAX_CONFIG = {"jax_enable_x64": True, "jax_traceback_filtering": "off"}
#: Lazy backends run only the blocks marked for them: the pages show eager results (arrays
#: printed, values read with ``float``), which a lazy array shows only once computed. Dask's
#: page is "Scaling out", whose blocks are marked ``only-on: dask``.
MARKED_ONLY = {"dask"}
ONLY_ON = re.compile(r"<!--\s*only-on:\s*(?P<names>[\w ,]+?)\s*-->[ \t]*\n")


def _blocks_only_on(document: Document) -> list[tuple[int, int, set[str]]]:
    """The spans of the code blocks marked ``<!-- only-on: ... -->`` and their backends."""
    blocks = [(region.start, region.end) for region in FencedCodeBlockLexer(".*")(document)]
    marked = []
    for match in ONLY_ON.finditer(document.text):
        names = {name.strip() for name in match.group("names").split(",")}
        unknown = names - set(xpnet.BACKENDS)
        if unknown:
            raise ValueError(f"{document.path}: unknown backend(s) {sorted(unknown)} in only-on")
        following = [(start, end) for start, end in blocks if start >= match.end()]
        gap = document.text[match.end() : following[0][0]] if following else "missing"
        if gap.strip():
            raise ValueError(
                f"{document.path}: '{match.group(0).strip()}' must be followed by a code block"
            )
        marked.append((*following[0], names))
    return marked


class DocTestStringParser(sybil.parsers.abstract.doctest.DocTestStringParser):
    """Doctest, except that an output may hold blank lines (NumPy prints 3-D arrays so).

    Inside a fenced code block there is no prose, so a blank line followed by a line
    that is not a ``>>>`` prompt belongs to the output: no ``<BLANKLINE>`` needed.
    """

    _EXAMPLE_RE = re.compile(
        r"""
        (?P<source>
            (?:^(?P<indent> [ ]*) >>>    .*)    # PS1 line
            (?:\n           [ ]*  \.\.\. .*)*)  # PS2 lines
        \n?
        (?P<want> (?:(?![ ]*$)(?![ ]*>>>).+$\n?            # an output line
                   |(?:[ ]*\n)+(?=[ ]*(?!>>>)[^ \n])       # blank lines inside the output
                  )*)
        """,
        re.MULTILINE | re.VERBOSE,
    )


class BackendParser:
    """``pycon`` blocks (``>>>`` sessions, checked like doctests) and ``python`` blocks (run),
    minus the blocks marked for other backends."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.parsers = []
        for language in ("pycon", "python"):
            parser = PythonCodeBlockParser(doctest_optionflags=OPTIONFLAGS)
            parser.doctest_parser = DocTestStringParser(DocTestEvaluator(OPTIONFLAGS))
            parser.codeblock_parser = CodeBlockParser(language, PythonEvaluator(()))
            self.parsers.append(parser)

    def __call__(self, document: Document) -> Iterable[Region]:
        marked = _blocks_only_on(document)
        for parser in self.parsers:
            for region in parser(document):
                owners = [names for start, end, names in marked if start <= region.start < end]
                mine = self.backend in owners[0] if owners else self.backend not in MARKED_ONLY
                if mine:
                    yield region


class SkipParser:
    """Every example of a backend that is not installed, each skipped with the reason."""

    def __init__(self, parser: Callable[[Document], Iterable[Region]], reason: str) -> None:
        self.parser = parser
        self.reason = reason

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.parser(document):
            region.evaluator = self.skip
            yield region

    def skip(self, example: Example) -> None:
        pytest.skip(self.reason)


def _setup(backend: str) -> Callable[[dict[str, Any]], None]:
    def setup(namespace: dict[str, Any]) -> None:
        namespace["backend"] = backend
        if backend == "jax" and importlib.util.find_spec("jax") is not None:
            import jax

            namespace["__jax_config__"] = {name: getattr(jax.config, name) for name in JAX_CONFIG}
            for name, value in JAX_CONFIG.items():
                jax.config.update(name, value)

    return setup


def _teardown(namespace: dict[str, Any]) -> None:
    if "__jax_config__" in namespace:
        import jax

        for name, value in namespace["__jax_config__"].items():
            jax.config.update(name, value)


def _sybil(backend: str) -> Sybil:
    parser: Callable[[Document], Iterable[Region]] = BackendParser(backend)
    if backend not in xpnet.available_backends():
        parser = SkipParser(parser, f"backend {backend!r} is not installed")
    return Sybil(
        parsers=[parser],
        patterns=PATTERNS,
        setup=_setup(backend),
        teardown=_teardown,
        name=backend,
    )


pytest_collect_file = SybilCollection(_sybil(name) for name in xpnet.BACKENDS).pytest()
