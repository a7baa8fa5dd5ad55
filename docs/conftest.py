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
is not installed is skipped, never failed; so is a block after ``<!-- requires: ndonnx -->``
(module names) where one of those modules is missing, with the extra that brings it.

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
from xpnet._optional import install_hint, installed

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
#: ``<!-- requires: ndonnx, onnxruntime -->`` before a code block: it runs only where those
#: modules are installed, and is skipped (with the extra that brings them) elsewhere.
REQUIRES = re.compile(r"<!--\s*requires:\s*(?P<names>[\w ,.]+?)\s*-->[ \t]*\n")
DIRECTIVE = re.compile(r"<!--\s*(?:only-on|requires):[^>]*-->")


def _marked_blocks(
    document: Document, pattern: re.Pattern[str]
) -> list[tuple[int, int, set[str]]]:
    """The spans of the code blocks that a directive of ``pattern`` marks, with its names.

    A directive marks the code block that follows it; only blank space and other
    directives may stand between them.
    """
    blocks = [(region.start, region.end) for region in FencedCodeBlockLexer(".*")(document)]
    marked = []
    for match in pattern.finditer(document.text):
        names = {name.strip() for name in match.group("names").split(",")}
        following = [(start, end) for start, end in blocks if start >= match.end()]
        gap = document.text[match.end() : following[0][0]] if following else "missing"
        if DIRECTIVE.sub("", gap).strip():
            raise ValueError(
                f"{document.path}: '{match.group(0).strip()}' must be followed by a code block"
            )
        marked.append((*following[0], names))
    return marked


def _blocks_only_on(document: Document) -> list[tuple[int, int, set[str]]]:
    """The spans of the code blocks marked ``<!-- only-on: ... -->`` and their backends."""
    marked = _marked_blocks(document, ONLY_ON)
    for _, _, names in marked:
        unknown = names - set(xpnet.BACKENDS)
        if unknown:
            raise ValueError(f"{document.path}: unknown backend(s) {sorted(unknown)} in only-on")
    return marked


def _missing_modules(document: Document) -> list[tuple[int, int, list[str]]]:
    """The spans of the blocks marked ``<!-- requires: ... -->`` whose modules are missing."""
    return [
        (start, end, sorted(name for name in names if not installed(name)))
        for start, end, names in _marked_blocks(document, REQUIRES)
        if not all(installed(name) for name in names)
    ]


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
        missing = _missing_modules(document)
        for parser in self.parsers:
            for region in parser(document):
                owners = [names for start, end, names in marked if start <= region.start < end]
                mine = self.backend in owners[0] if owners else self.backend not in MARKED_ONLY
                if not mine:
                    continue
                absent = [names for start, end, names in missing if start <= region.start < end]
                if absent:
                    hints = ", ".join(f"{name} ({install_hint(name)})" for name in absent[0])
                    region.evaluator = SkipParser.skipper(f"needs {hints}")
                else:
                    region.evaluator = _keeping_generators(region.evaluator)
                yield region


def _keeping_generators(evaluator: Callable[[Example], Any]) -> Callable[[Example], Any]:
    """``evaluator`` run with Python's and NumPy's global random generators as the page's
    previous example left them.

    pytest-randomly reseeds them before each test so that tests do not depend on each
    other's draws; a page's examples are one session though (``np.random.seed(42)`` in one
    example, ``np.random.randint`` in the next).
    """

    def evaluate(example: Example) -> Any:
        import random

        import numpy as np

        states = example.document.namespace.setdefault("__generators__", {})
        if states:
            random.setstate(states["random"])
            np.random.set_state(states["numpy"])  # noqa: NPY002 (the page's own generator)
        try:
            return evaluator(example)
        finally:
            states["random"] = random.getstate()
            states["numpy"] = np.random.get_state()  # noqa: NPY002

    return evaluate


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

    @staticmethod
    def skipper(reason: str) -> Callable[[Example], None]:
        def skip(example: Example) -> None:
            pytest.skip(reason)

        return skip


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each page's examples together and in the page's order, wherever a random order put
    the page.

    The examples of a page build on each other (a name made in one is used in the next,
    a backend registered and then unregistered), so after pytest-randomly's shuffle, which
    runs first, each page (per backend) runs as one block, at the place of its first example;
    the pages and the tests stay shuffled.
    """
    pages: dict[int, list[pytest.Item]] = {}
    for item in items:
        example = getattr(item, "example", None)
        if example is not None and getattr(example, "document", None) is not None:
            pages.setdefault(id(example.document), []).append(item)
    if not pages:
        return
    ordered: list[pytest.Item] = []
    for item in items:
        example = getattr(item, "example", None)
        page = pages.pop(id(example.document), None) if example is not None else None
        if example is None or getattr(example, "document", None) is None:
            ordered.append(item)
        elif page is not None:
            ordered += sorted(page, key=lambda it: it.example.start)
    items[:] = ordered
