"""Reading the user's data files for ``fit`` and ``predict``: CSV with a header, or ``.npz``.

Every problem is a :class:`UsageError` that begins with ``DATA:`` (or the option that
chose the columns) and says where: the line, the column, the value.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._options import UsageError, readable_file, warn

__all__ = ["Table", "labels", "numeric_columns", "read_npz", "read_table", "separator"]

#: Cells that mean "no value here" (compared lower-cased, stripped).
MISSING = ("", "na", "n/a", "nan", "null", "none", "?")


def separator(text: str) -> str:
    """``--sep``: one character; ``\\t`` or ``tab`` for a tab."""
    if text in ("\\t", "tab", "TAB"):
        return "\t"
    if len(text) != 1:
        import argparse

        raise argparse.ArgumentTypeError(
            f"expected one character (or \\t for a tab), got {text!r}"
        )
    return text


@dataclass
class Table:
    """A CSV file's column names and its rows of text cells (line numbers kept)."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def column(self, name: str) -> list[str]:
        where = self.header.index(name)
        return [row[where] for row in self.rows]


def read_table(path: Path, sep: str = ",") -> Table:
    """Header and rows of a CSV file, or a ``DATA:`` UsageError saying what is wrong."""
    readable_file(path, "DATA")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"DATA: {str(path)!r} is not a text (UTF-8) CSV file: byte {raw[exc.start]:#04x} "
            f"at position {exc.start}; fit and predict read CSV with a header row, or .npz"
        ) from None
    if "\0" in text:
        raise UsageError(f"DATA: {str(path)!r} holds NUL bytes; it is not a CSV file")
    if not text.strip():
        raise UsageError(f"DATA: {str(path)!r} is empty")
    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                records.append((reader.line_num, row))
    except csv.Error as exc:
        raise UsageError(f"DATA: line {reader.line_num} of {str(path)!r}: {exc}") from None
    header = [name.strip() for name in records[0][1]]
    if len(header) == 1 and sep == ",":
        for other, shown in ((";", ";"), ("\t", "\\t")):
            if other in header[0]:
                raise UsageError(
                    f"DATA: {str(path)!r} has one column named {header[0][:40]!r}; if its "
                    f"columns are separated by {shown!r}, say so with --sep '{shown}'"
                )
    _name_unnamed(header, path)
    body = records[1:]
    if not body:
        raise UsageError(f"DATA: {str(path)!r} has a header but no rows")
    for number, row in body:
        if len(row) != len(header):
            raise UsageError(
                f"DATA: line {number} of {str(path)!r} has {len(row)} fields, "
                f"the header has {len(header)}"
            )
    return Table(path, header, [row for _, row in body], [number for number, _ in body])


def _name_unnamed(header: list[str], path: Path) -> None:
    """Name empty column names as pandas does (``Unnamed: 0``); warn about an unnamed first
    column, which is usually the index that ``DataFrame.to_csv`` writes."""
    for i, name in enumerate(header):
        if not name:
            header[i] = f"Unnamed: {i}"
    seen = set()
    for name in header:
        if name in seen:
            raise UsageError(f"DATA: the column name {name!r} appears twice in {str(path)!r}")
        seen.add(name)
    if header[0] == "Unnamed: 0":
        warn(
            f"DATA: the first column of {str(path)!r} has no name (pandas writes its index "
            "so: to_csv(index=False) leaves it out); it is read as the feature 'Unnamed: 0'; "
            "--drop 'Unnamed: 0' leaves it out"
        )


def numeric_columns(table: Table, columns: list[str]) -> np.ndarray:
    """The ``columns`` of ``table`` as an ``(n, len(columns))`` float64 array."""
    out = np.empty((len(table.rows), len(columns)))
    for j, name in enumerate(columns):
        for i, text in enumerate(table.column(name)):
            line = table.lines[i]
            if text.strip().lower() in MISSING:
                raise UsageError(
                    f"DATA: column {name!r} has a missing value (line {line}: {text!r}); the "
                    f"network needs every value: fill it in, or leave the column out with "
                    f"--drop '{name}'"
                )
            try:
                out[i, j] = float(text)
            except ValueError:
                raise UsageError(
                    f"DATA: column {name!r} is not numeric (line {line}: {text!r}); leave it "
                    f"out with --drop '{name}'"
                ) from None
            if not math.isfinite(out[i, j]):
                raise UsageError(f"DATA: column {name!r} has an infinite value (line {line})")
    return out


def labels(table: Table, target: str) -> np.ndarray:
    """The target column: numbers when every value is one, else the stripped strings."""
    values = table.column(target)
    for text, line in zip(values, table.lines):
        if text.strip().lower() in MISSING:
            raise UsageError(
                f"DATA: the target column {target!r} has a missing value (line {line}: {text!r})"
            )
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return np.array([v.strip() for v in values])
    if not np.all(np.isfinite(numbers)):
        raise UsageError(f"DATA: the target column {target!r} has an infinite value")
    if np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


def read_npz(path: Path, *, need_y: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` (and ``y``) of an ``.npz`` file, or a ``DATA:`` UsageError."""
    readable_file(path, "DATA")
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = archive.files
            if "X" not in files or (need_y and "y" not in files):
                need = "the arrays 'X' and 'y'" if need_y else "the array 'X'"
                raise UsageError(f"DATA: {str(path)!r} must hold {need} (it holds {files})")
            X = np.asarray(archive["X"])
            y = np.asarray(archive["y"]) if "y" in files else None
    except (ValueError, OSError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"DATA: {str(path)!r} is not a readable .npz file ({exc})") from None
    if X.dtype.kind not in "biuf":
        raise UsageError(f"DATA: X must hold numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise UsageError(f"DATA: X must be (n, d) with n > 0 rows, got shape {X.shape}")
    if y is not None and y.shape[0] != X.shape[0]:
        raise UsageError(f"DATA: X has {X.shape[0]} rows but y has {y.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise UsageError("DATA: X has missing (NaN) or infinite values")
    return X, y
