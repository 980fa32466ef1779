"""Reading the trade-recon files (and Python rows) into normalised frames, with rejects.

The files are the TradeRecon project's: executions.csv and broker_confirmations.csv with
`trade_id,ticker,quantity,price,timestamp` (optional `side` and `commission`),
pnl_snapshot.csv with `trade_id,pnl_impact,commission`; columns in any order, names
trimmed and case-folded, unknown columns ignored.

A whole-file problem (no such file, empty, header only, a required column missing, not
parseable as CSV) raises ReconFileError naming the file. A malformed row does not stop
the run: it becomes a Reject (file, line, reason; the header is line 1, blank lines
count, a quoted cell spanning lines would shift the numbers after it) and is left out
of matching. Every cell is read as text and converted column-wise: a strict fast
conversion first, then a lenient one (padding, thousands separators, other ISO 8601
spellings) only for the cells the fast one refused, so the usual clean file pays for one
cast per column and a messy one still parses row by row.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from . import keys
from .rules import SCALE

DECIMAL = pl.Decimal(38, SCALE)
TIMESTAMP = pl.Datetime("ns", "UTC")

TRADE_REQUIRED = ("trade_id", "ticker", "quantity", "price", "timestamp")
TRADE_OPTIONAL = ("side", "commission")
PNL_REQUIRED = ("trade_id", "pnl_impact", "commission")

# The normalised frames every reader and frame_from_rows return (and reconcile takes).
# `line` is the row's line in its file (header = 1), or its 1-based position in a list of
# rows; `side` is BUY, SELL or SHORT, or null where the source carries none.
TRADE_SCHEMA = pl.Schema(
    {
        "trade_id": pl.String,
        "ticker": pl.String,
        "quantity": DECIMAL,
        "price": DECIMAL,
        "timestamp": TIMESTAMP,
        "side": pl.String,
        "commission": DECIMAL,
        "line": pl.Int64,
    }
)
PNL_SCHEMA = pl.Schema(
    {"trade_id": pl.String, "pnl_impact": DECIMAL, "commission": DECIMAL, "line": pl.Int64}
)

KINDS = ("executions", "confirmations", "pnl")
DEFAULT_NAMES = {
    "executions": "executions.csv",
    "confirmations": "broker_confirmations.csv",
    "pnl": "pnl_snapshot.csv",
}
SIDES = {
    "B": "BUY",
    "BUY": "BUY",
    "S": "SELL",
    "SELL": "SELL",
    "SS": "SHORT",
    "SHORT": "SHORT",
    "SELL SHORT": "SHORT",
    "SELL_SHORT": "SHORT",
}

# Every spelling of SIDES' keys as-is, lower-case and capitalised, for the fast pass.
_SIDE_CELLS = {
    spelling: side
    for key, side in SIDES.items()
    for spelling in (key, key.lower(), key.capitalize())
}
_BAD_SIDE = "?"  # marks a side cell that is none of SIDES, until the row is rejected

Source = str | os.PathLike[str] | bytes | IO[bytes]


class ReconFileError(Exception):
    """A whole file cannot be used (empty, header only, wrong header, not CSV)."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


class Reject(NamedTuple):
    """A row left out of matching, and why (line 1 is the header)."""

    file: str
    line: int
    reason: str


def _columns(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if kind == "pnl":
        return PNL_REQUIRED, ()
    if kind == "executions":
        return TRADE_REQUIRED, TRADE_OPTIONAL
    if kind == "confirmations":
        # A broker's commission is not compared; a confirmations file may carry one.
        return TRADE_REQUIRED, TRADE_OPTIONAL
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


# --------------------------------------------------------------------------- files


def read_executions(
    source: Source, name: str = "executions.csv"
) -> tuple[pl.DataFrame, list[Reject]]:
    """Our executions (fills); several rows of one trade id are fills of one order."""
    return read_file(source, kind="executions", name=name)


def read_confirmations(
    source: Source, name: str = "broker_confirmations.csv"
) -> tuple[pl.DataFrame, list[Reject]]:
    """The broker's confirmations; a trade id may (wrongly) appear more than once."""
    return read_file(source, kind="confirmations", name=name)


def read_pnl(source: Source, name: str = "pnl_snapshot.csv") -> tuple[pl.DataFrame, list[Reject]]:
    """The P&L snapshot: one row per trade id (a repeat is a reject)."""
    return read_file(source, kind="pnl", name=name)


def read_file(
    source: Source, *, kind: str, name: str | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """Read one file of `kind` (executions, confirmations, pnl): (frame, rejects).

    `source` is a path, the file's bytes, or a binary file object (an upload).
    """
    required, optional = _columns(kind)
    name = name or DEFAULT_NAMES[kind]
    data, first_line, blank = _open(source, name)
    if blank:
        raise ReconFileError(name, "the file is empty")
    header = _header(first_line, name, required, optional)
    wanted = [
        (index, column) for index, column in enumerate(header) if column in (*required, *optional)
    ]
    extra = f"_{len(header)}"
    schema = {f"_{index}": pl.String for index in range(len(header) + 1)}
    try:
        raw = pl.read_csv(
            data,
            has_header=False,
            skip_rows=1,
            schema=schema,
            columns=[index for index, _ in wanted] + [len(header)],
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReconFileError(name, f"not a readable CSV file ({reason})") from exc
    raw = raw.rename(
        {f"_{index}": f"raw_{column}" for index, column in wanted} | {extra: "raw__extra"}
    )
    raw = raw.with_columns(
        pl.lit(None, dtype=pl.String).alias(f"raw_{column}")
        for column in (*required, *optional)
        if f"raw_{column}" not in raw.columns
    )
    raw = raw.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    # A blank line reads as a row of nulls: it is no row at all (trailing newlines, mostly).
    blank = raw.select(pl.all_horizontal(pl.exclude("line").is_null())).to_series()
    if blank.any():
        raw = raw.filter(~blank)
    if raw.height == 0:
        raise ReconFileError(
            name,
            f"the file has a header but no rows: {kind} files must carry at least one row",
        )
    return _normalise(raw, kind=kind, name=name, columns=len(header))


def _open(source: Source, name: str) -> tuple[Any, bytes, bool]:
    """What polars should read, the header line, and whether the file is blank."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open("rb") as handle:
                first = handle.readline()
                blank = not first.strip(b" \t\r\n\xef\xbb\xbf") and not handle.read(65536).strip()
        except FileNotFoundError as exc:
            raise ReconFileError(name, f"no such file: {path}") from exc
        except IsADirectoryError as exc:
            raise ReconFileError(name, f"is a directory: {path}") from exc
        except OSError as exc:
            raise ReconFileError(name, f"cannot be read: {exc.strerror or exc}") from exc
        return path, first, blank
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            with contextlib.suppress(OSError, ValueError):  # a stream: read what is left
                source.seek(0)
        chunk = source.read()
        data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    else:
        raise TypeError(
            f"{name}: expected a path, bytes or a binary file, not {type(source).__name__}"
        )
    first = data.split(b"\n", 1)[0]
    return data, first, not data.strip(b" \t\r\n\xef\xbb\xbf")


def _header(
    first_line: bytes, name: str, required: Sequence[str], optional: Sequence[str]
) -> list[str]:
    text = first_line.decode("utf-8-sig", errors="replace").strip("\r\n")
    if not text.strip():
        raise ReconFileError(name, "the first line (the header) is blank")
    columns = [column.strip().lower() for column in next(csv.reader([text]))]
    known = [column for column in columns if column in (*required, *optional)]
    repeated = sorted({column for column in known if known.count(column) > 1})
    if repeated:
        raise ReconFileError(name, f"the header names {', '.join(repeated)} more than once")
    missing = [column for column in required if column not in columns]
    if missing:
        expected = ",".join(required)
        extra = f" (optional: {', '.join(optional)})" if optional else ""
        raise ReconFileError(
            name,
            f"the header lacks required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}: expected {expected}{extra}, found {text[:200]!r}",
        )
    return columns


# --------------------------------------------------------------------------- Python rows


def frame_from_rows(
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    kind: str,
    name: str | None = None,
    rejects: list[Reject] | None = None,
) -> pl.DataFrame:
    """The normalised frame of `kind` from Python rows (e.g. read from the database).

    A row is a mapping (extra keys are ignored) or a sequence in the order
    trade_id, ticker, quantity, price, timestamp[, side[, commission]] (pnl: trade_id,
    pnl_impact, commission). Numbers may be Decimal, int, float or text; timestamps aware
    datetimes (naive ones are taken as UTC, as in the files) or ISO 8601 text. Rows go
    through the same conversion as the files' cells. An invalid row raises ValueError,
    unless a `rejects` list is given: then it is appended there and the row left out
    (`line` is the row's 1-based position).
    """
    required, optional = _columns(kind)
    columns = (*required, *optional)
    cells: dict[str, list[str | None]] = {column: [] for column in columns}
    count = 0
    for row in rows:
        count += 1
        if isinstance(row, Mapping):
            values = [row.get(column) for column in columns]
        else:
            values = list(row)[: len(columns)]
            values += [None] * (len(columns) - len(values))
        for column, value in zip(columns, values, strict=True):
            cells[column].append(_text(value))
    raw = pl.DataFrame(
        {f"raw_{column}": cells[column] for column in columns},
        schema={f"raw_{column}": pl.String for column in columns},
    ).with_columns(
        line=pl.int_range(1, count + 1, dtype=pl.Int64),
        raw__extra=pl.lit(None, dtype=pl.String),
    )
    label = name or kind
    frame, found = _normalise(raw, kind=kind, name=label, columns=len(columns))
    if found:
        if rejects is None:
            first = found[0]
            raise ValueError(f"{label} row {first.line}: {first.reason}")
        rejects.extend(found)
    return frame


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()  # a date alone is rejected as a timestamp
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_rejects_csv(rejects: Iterable[Reject], path: str | os.PathLike[str]) -> int:
    """Write rejects.csv (`file,line,reason`); returns the number of rows written."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(Reject._fields)
        for reject in rejects:
            writer.writerow(reject)
            count += 1
    return count


# --------------------------------------------------------------------------- conversion


def _normalise(
    raw: pl.DataFrame, *, kind: str, name: str, columns: int
) -> tuple[pl.DataFrame, list[Reject]]:
    """raw (text cells `raw_<column>`, `line`, `raw__extra`) -> (normalised frame, rejects)."""
    if kind == "pnl":
        numbers = ("pnl_impact", "commission")
        schema = PNL_SCHEMA
    else:
        numbers = ("quantity", "price", "commission")
        schema = TRADE_SCHEMA
    exprs: dict[str, pl.Expr] = {"trade_id": _stripped("raw_trade_id")}
    for column in numbers:
        exprs[column] = pl.col(f"raw_{column}").cast(DECIMAL, strict=False)
    if kind != "pnl":
        exprs["ticker"] = _stripped("raw_ticker").str.to_uppercase()
        # The cells as written first ("BUY", "b"); padded or odd ones get _side_slow.
        exprs["side"] = pl.when(pl.col("raw_side").is_not_null()).then(
            pl.col("raw_side").replace_strict(
                _SIDE_CELLS, default=_BAD_SIDE, return_dtype=pl.String
            )
        )
    frame = raw.with_columns(**exprs)
    if kind != "pnl":
        frame = frame.with_columns(
            _timestamp_fast(frame.get_column("raw_timestamp")).alias("timestamp")
        )
    # Cells the strict conversion refused get the lenient one; usually there are none.
    slow = {column: _decimal_slow for column in numbers}
    if kind != "pnl":
        slow |= {"timestamp": _timestamp_slow, "side": _side_slow}
    refused = frame.select(_refused(column).sum().alias(column) for column in slow).row(
        0, named=True
    )
    for column, count in refused.items():
        if count:
            frame = _convert_refused(frame, column, slow[column])

    # Which rows fail, cheaply over every row; the reasons only for those (a cell of
    # spaces in an optional column is no reason: such rows are kept). Every row with the
    # bad-side mark has a reason, so no kept row carries it.
    failed = [pl.col(column).is_null() for column in ("trade_id", *_required_values(kind))]
    if kind != "pnl":
        failed += [
            pl.col("side") == _BAD_SIDE,
            pl.col("raw_commission").is_not_null() & pl.col("commission").is_null(),
        ]
    failed.append(pl.col("raw__extra").is_not_null())
    positions = frame.select(pl.arg_where(pl.any_horizontal(failed))).to_series()
    rejects: list[Reject] = []
    if positions.len():
        reasons = (
            frame[positions]
            .select(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias("at"),
                "line",
                pl.concat_str(_problems(kind, columns), separator="; ", ignore_nulls=True)
                .fill_null("")
                .alias("reason"),
            )
            .filter(pl.col("reason") != "")
        )
        rejects = [Reject(name, line, reason) for _, line, reason in reasons.iter_rows()]
        drop = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
        drop.scatter(positions.gather(reasons.get_column("at")), True)
        frame = frame.filter(~drop)
    frame = frame.select(column for column in schema.names())
    if kind == "pnl":
        frame, repeated = _pnl_repeats(frame, name)
        if repeated:
            rejects = sorted([*rejects, *repeated], key=lambda reject: reject.line)
    return frame, rejects


def _required_values(kind: str) -> tuple[str, ...]:
    """The columns (besides trade_id) a row must have a valid value in."""
    if kind == "pnl":
        return ("pnl_impact", "commission")
    return ("ticker", "quantity", "price", "timestamp")


def _stripped(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _refused(column: str) -> pl.Expr:
    """Cells the fast conversion of `column` could not read (null for a present cell;
    for sides, the bad-side mark, as a null side is a valid "none given")."""
    if column == "side":
        return pl.col("side") == _BAD_SIDE
    return pl.col(column).is_null() & pl.col(f"raw_{column}").is_not_null()


def _side_slow(cells: pl.Series) -> pl.Series:
    return (
        cells.str.strip_chars()
        .str.to_uppercase()
        .replace_strict({**SIDES, "": None}, default=_BAD_SIDE, return_dtype=pl.String)
    )


def _convert_refused(frame: pl.DataFrame, column: str, convert: Any) -> pl.DataFrame:
    positions = frame.select(pl.arg_where(_refused(column))).to_series()
    converted = convert(frame.get_column(f"raw_{column}").gather(positions))
    values = frame.get_column(column).clone()
    values.scatter(positions, converted)
    return frame.with_columns(values)


# A thousands separator is only taken as one in well-formed groups: "1,000" and
# "12,345.5" are numbers, "1,00" (a decimal comma?) is not silently read as 100.
_GROUPED = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"


def _decimal_slow(cells: pl.Series) -> pl.Series:
    text = cells.str.strip_chars()
    ok = ~text.str.contains(",", literal=True) | text.str.contains(_GROUPED)
    return (
        pl.select(pl.when(ok).then(text.str.replace_all(",", "", literal=True)))
        .to_series()
        .cast(DECIMAL, strict=False)
    )


_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_ZONE = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)$")


def _timestamp_fast(cells: pl.Series) -> pl.Series:
    """The whole column at once, when it is clean: Arrow's ISO 8601 parser (about ten
    times chrono's speed) if every cell parses, else one strict chrono format taken from
    the first well-formed cell (cells it refuses get _timestamp_slow)."""
    sample = next((c for c in cells.head(1000).drop_nulls() if _ISO.match(c)), None)
    if sample is None:
        return pl.repeat(None, cells.len(), dtype=TIMESTAMP, eager=True).alias(cells.name)
    zoned = _ZONE.search(sample) is not None
    # Arrow also takes a bare date; the files' rule is a date and a time (16+ characters).
    if cells.null_count() == 0 and (cells.str.len_bytes().min() or 0) >= 16:
        target = pa.timestamp("ns", "UTC") if zoned else pa.timestamp("ns")
        try:
            parsed = pl.Series(cells.name, pc.cast(cells.to_arrow(), target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # some cell is another spelling, or no timestamp: chrono, row by row
        else:
            return parsed if zoned else parsed.dt.replace_time_zone("UTC")
    separator = sample[10]
    base = f"%Y-%m-%d{separator}%H:%M:%S%.f"
    if sample.endswith("Z"):
        return cells.str.to_datetime(base + "Z", time_unit="ns", strict=False).dt.replace_time_zone(
            "UTC"
        )
    if re.search(r"[+-]\d{2}:\d{2}$", sample):
        return cells.str.to_datetime(
            base + "%:z", time_unit="ns", strict=False
        ).dt.convert_time_zone("UTC")
    if re.search(r"[+-]\d{4}$", sample):
        return cells.str.to_datetime(
            base + "%z", time_unit="ns", strict=False
        ).dt.convert_time_zone("UTC")
    return cells.str.to_datetime(base, time_unit="ns", strict=False).dt.replace_time_zone("UTC")


def _timestamp_slow(cells: pl.Series) -> pl.Series:
    """Any ISO 8601 date and time, row by row: T or space, seconds optional, any fraction
    to the nanosecond, Z, +hh:mm, +hhmm, +hh or no zone (UTC)."""
    text = (
        cells.str.strip_chars()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ tT](\d)", "${1}T${2}")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([^:\d]|$)", "${1}:00${2}")
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"([+-]\d{2})$", "${1}:00")
    )
    with_zone = pl.select(
        pl.when(text.str.contains(r"[+-]\d{2}:?\d{2}$")).then(text).otherwise(text + "+00:00")
    ).to_series()
    return with_zone.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", time_unit="ns", strict=False
    ).dt.convert_time_zone("UTC")


def _quoted(column: str) -> pl.Expr:
    text = pl.col(column)
    return pl.when(text.str.len_chars() > 40).then(text.str.slice(0, 40) + "...").otherwise(text)


def _problems(kind: str, columns: int) -> list[pl.Expr]:
    """One expression per check: the reason text where the row fails it, else null."""

    def number(column: str) -> pl.Expr:
        return (
            pl.when(
                pl.col(f"raw_{column}").is_null()
                | (pl.col(f"raw_{column}").str.strip_chars() == "")
            )
            .then(pl.lit(f"missing {column}"))
            .when(pl.col(column).is_null())
            .then(pl.format(f"{column} is not a number: '{{}}'", _quoted(f"raw_{column}")))
        )

    def optional_number(column: str) -> pl.Expr:
        present = pl.col(f"raw_{column}").str.strip_chars() != ""
        return pl.when(present & pl.col(column).is_null()).then(
            pl.format(f"{column} is not a number: '{{}}'", _quoted(f"raw_{column}"))
        )

    found = [
        pl.when(pl.col("trade_id").is_null()).then(pl.lit("empty trade_id")),
    ]
    if kind == "pnl":
        found += [number("pnl_impact"), number("commission")]
    else:
        found += [
            pl.when(pl.col("ticker").is_null()).then(pl.lit("missing ticker")),
            number("quantity"),
            number("price"),
            pl.when(
                pl.col("raw_timestamp").is_null()
                | (pl.col("raw_timestamp").str.strip_chars() == "")
            )
            .then(pl.lit("missing timestamp"))
            .when(pl.col("timestamp").is_null())
            .then(pl.format("bad timestamp: '{}'", _quoted("raw_timestamp"))),
            pl.when(pl.col("side") == _BAD_SIDE).then(
                pl.format("side must be buy or sell: '{}'", _quoted("raw_side"))
            ),
            optional_number("commission"),
        ]
    found.append(
        pl.when(pl.col("raw__extra").is_not_null()).then(
            pl.lit(f"more fields than the header's {columns}")
        )
    )
    return found


def _pnl_repeats(frame: pl.DataFrame, name: str) -> tuple[pl.DataFrame, list[Reject]]:
    first, _ = keys.occurrences(frame.get_column("trade_id"))
    if first.all():
        return frame, []
    repeats = frame.filter(~first).select("trade_id", "line")
    firsts = (
        frame.filter(first)
        .join(repeats.select("trade_id").unique(), on="trade_id", how="semi")
        .select("trade_id", pl.col("line").alias("first_line"))
    )
    rows = repeats.join(firsts, on="trade_id", how="left").select("line", "first_line")
    rejects = [
        Reject(name, line, f"duplicate trade_id, first at line {first_line}")
        for line, first_line in rows.iter_rows()
    ]
    return frame.filter(first), rejects
