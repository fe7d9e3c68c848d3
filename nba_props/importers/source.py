"""Reading import files defensively (CSV or JSON) and collecting every bad row before any write."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_PROBLEMS = 50
MAX_JSON_DEPTH = 64


class ImportRefused(ValueError):
    """The file cannot be imported; the message says why in one line per problem."""


@dataclass(frozen=True)
class Problem:
    file: str
    where: str  # "line 12" for CSV, a JSON path for JSON
    column: str | None
    message: str

    def __str__(self) -> str:
        column = f", column {self.column}" if self.column else ""
        return f"{self.file}, {self.where}{column}: {self.message}"


@dataclass
class Problems:
    """Every bad row of a file, reported together (up to `MAX_PROBLEMS`, then a count)."""

    file: str
    found: list[Problem] = field(default_factory=list)

    def add(self, where: str, column: str | None, message: str) -> None:
        self.found.append(Problem(self.file, where, column, message))

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_if_any(self) -> None:
        if not self.found:
            return
        shown = [str(p) for p in self.found[:MAX_PROBLEMS]]
        if len(self.found) > MAX_PROBLEMS:
            shown.append(f"... and {len(self.found) - MAX_PROBLEMS} more")
        raise ImportRefused("\n".join(shown))


@dataclass(frozen=True)
class Row:
    """One CSV record: its physical line, and its cells keyed by the lower-cased header."""

    line: int
    cells: dict[str, str]

    @property
    def where(self) -> str:
        return f"line {self.line}"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refused in one line when it is missing, too big, empty or not text."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportRefused(f"{path}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} an import accepts")
    data = path.read_bytes()
    if not data.strip():
        raise ImportRefused(f"{path}: file is empty")
    if b"\x00" in data:
        raise ImportRefused(f"{path}: binary data (a NUL byte), not a CSV or JSON text file")
    return data


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text without its BOM; invalid bytes (lone surrogates among them) name their line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportRefused(f"{path}, line {line}: not UTF-8 text ({exc.reason})") from None


def is_json(path: Path, text: str) -> bool:
    return path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "[")


def read_csv(path: Path, text: str, required: tuple[str, ...], problems: Problems | None = None) -> list[Row]:
    """Records with their physical line (blank lines and quoted newlines counted); a record whose
    field count differs from the header's is a problem (raised at once without ``problems``); a header
    lacking a required column is refused."""
    own = problems is None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header: list[str] | None = None
    rows: list[Row] = []
    problems = Problems(str(path)) if problems is None else problems
    end = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if header is None:
                header = [c.strip().lower() for c in record]
                missing = [c for c in required if c not in header]
                if missing:
                    raise ImportRefused(f"{path}, line {start}: missing columns {', '.join(missing)}")
                if len(set(header)) != len(header):
                    raise ImportRefused(f"{path}, line {start}: the header names a column twice")
                continue
            if len(record) != len(header):
                problems.add(
                    f"line {start}", None, f"{len(record)} fields where the header has {len(header)}"
                )
                continue
            rows.append(Row(start, {k: v.strip() for k, v in zip(header, record, strict=True)}))
    except csv.Error as exc:
        raise ImportRefused(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from None
    if own:
        problems.raise_if_any()
    if not rows and not problems:
        raise ImportRefused(f"{path}: no rows")
    return rows


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: Path, text: str) -> Any:
    """The parsed document; NaN/Infinity, nesting deeper than `MAX_JSON_DEPTH` and lone surrogates
    are refused in one line."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ImportRefused(f"{path}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ImportRefused(
            f"{path}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except ValueError as exc:
        raise ImportRefused(f"{path}: not valid JSON ({exc})") from None
    for where, value in _walk(document, "$", 0, path):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ImportRefused(f"{path}, {where}: a lone surrogate, not text") from None
    return document


def _walk(value: Any, where: str, depth: int, path: Path) -> Iterator[tuple[str, Any]]:
    if depth > MAX_JSON_DEPTH:
        raise ImportRefused(f"{path}, {where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}", depth + 1, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]", depth + 1, path)
    else:
        yield where, value


# -- cell parsers: each returns None after recording the problem ------------------------------------


def text(problems: Problems, where: str, column: str, value: Any, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(where, column, "missing value")
        return None
    if not isinstance(value, str):
        problems.add(where, column, f"not text (got {value!r})")
        return None
    return value.strip()


def number(problems: Problems, where: str, column: str, value: Any, *, required: bool = True) -> float | None:
    if value is None or value == "":
        if required:
            problems.add(where, column, "missing value")
        return None
    if isinstance(value, bool):
        problems.add(where, column, f"not a number (got {value!r})")
        return None
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        problems.add(where, column, f"not a number (got {value!r})")
        return None
    if not math.isfinite(parsed):
        problems.add(where, column, f"not a finite number (got {value!r})")
        return None
    return parsed


def json_number(problems: Problems, where: str, column: str, value: Any) -> float | None:
    """A JSON number: text that looks like one is a wrong type, not a number."""
    if isinstance(value, str):
        problems.add(where, column, f"not a number (got {value!r})")
        return None
    return number(problems, where, column, value)


def integer(problems: Problems, where: str, column: str, value: Any, *, required: bool = True) -> int | None:
    parsed = number(problems, where, column, value, required=required)
    if parsed is None:
        return None
    if not parsed.is_integer():
        problems.add(where, column, f"not a whole number (got {value!r})")
        return None
    return int(parsed)


def day(problems: Problems, where: str, column: str, value: Any, *, required: bool = True) -> date | None:
    raw = text(problems, where, column, value, required=required)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        problems.add(where, column, f"not a date YYYY-MM-DD (got {raw!r})")
        return None


def instant(
    problems: Problems, where: str, column: str, value: Any, *, required: bool = True, naive_zone: str = "UTC"
) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime; a time without an offset is in ``naive_zone``."""
    raw = text(problems, where, column, value, required=required)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        problems.add(where, column, f"not an ISO-8601 time (got {raw!r})")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(naive_zone))
    return parsed.astimezone(UTC)


def items(problems: Problems, where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        problems.add(where, None, f"expected a list, got {type(value).__name__}")
        return []
    return value


def fields(problems: Problems, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.add(where, None, f"expected an object, got {type(value).__name__}")
        return {}
    return value
