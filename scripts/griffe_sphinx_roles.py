"""A griffe extension for the API reference: Sphinx roles in docstrings become links.

The docstrings say ``:func:`train``` or ``:class:`~xpnet.History``` (numpydoc's habit,
and readable in ``help()``). mkdocstrings would print those roles literally; this
extension rewrites each one, once the package is loaded, into a mkdocstrings
cross-reference to the page that documents the name (``[`train`][xpnet.train]``), or
into plain code when the name is not documented (a private module, another library).

Loaded from ``mkdocs.yml`` (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"
# "::: identifier", then its indented options, of which "members: [a, b]" is kept.
DIRECTIVE = re.compile(
    r"^::: (?P<identifier>[\w.]+)[ \t]*\n(?P<options>(?:[ \t]+.*\n?)*)", re.MULTILINE
)
MEMBERS = re.compile(r"^\s+members: \[(?P<members>[^\]]*)\]", re.MULTILINE)
ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|obj|exc):`(?P<tilde>~?)(?P<name>[\w.]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`name``` in every docstring of the package into a link or code."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        documented = _documented_names(pkg)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                module = obj.module.path if obj.module else pkg.path
                obj.docstring.value = ROLE.sub(
                    lambda match, m=module: _replace(match, m, documented, pkg.path),
                    obj.docstring.value,
                )


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            found += _walk(member)
    return found


def _documented_names(pkg: griffe.Module) -> dict[str, str]:
    """Canonical path -> identifier, for every object the reference page renders.

    The page is the source of truth: each ``::: xpnet.name`` line, and the
    ``members: [...]`` listed under a ``::: xpnet.module`` line.
    """
    identifiers: list[str] = []
    for match in DIRECTIVE.finditer(REFERENCE.read_text(encoding="utf-8")):
        identifier = match.group("identifier")
        identifiers.append(identifier)
        for members in MEMBERS.finditer(match.group("options")):
            names = members.group("members").split(",")
            identifiers += [f"{identifier}.{name.strip()}" for name in names]
    documented: dict[str, str] = {}
    for identifier in identifiers:
        try:
            obj = pkg.modules_collection[identifier]
        except KeyError:
            continue
        target = obj.final_target if obj.is_alias else obj
        documented.setdefault(target.path, identifier)
        documented.setdefault(identifier, identifier)
    return documented


def _replace(match: re.Match[str], module: str, documented: dict[str, str], package: str) -> str:
    name = match.group("name")
    shown = name.rsplit(".", 1)[-1] if match.group("tilde") else name
    for candidate in (name, f"{module}.{name}", f"{package}.{name}"):
        if candidate in documented:
            return f"[`{shown}`][{documented[candidate]}]"
    return f"`{shown}`"
