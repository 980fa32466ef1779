"""FRED market history: the series the simulator is anchored to, where they are read
from, the service that stores them as `FredObservation` rows, and the reads the market
engine makes of them.

Sources, in the order `fred_load` picks them (DESIGN.md, "Market data sources"):

1. live FRED through `fredapi`, when an API key is given or `settings.FRED_API_KEY` is set;
2. FRED CSV downloads in a folder (`<ID>.csv`, header `DATE,<ID>` or the newer
   `observation_date,<ID>`, `.` or an empty value for a day without an observation);
3. offline: the real FRED series (and Fama-French RF) that ship inside the `arch`
   package's `arch.data`, so a fresh checkout runs with no network and no key.

The readers are pure: they return `SeriesHistory` per series and never touch the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.error import URLError

from django.conf import settings
from django.db import transaction

from book import events
from book.services import event_record
from risk.curves import FRED_CMT_TENORS

from .models import FredObservation, ObservationSource

MARKET_HISTORY_LOADED = events.kind_register(
    "market.history_loaded", "FRED market history was loaded into the simulator"
)

# --- the series --------------------------------------------------------------------------

# US Treasury constant-maturity yields (percent) and their tenor in years: the curve (one
# table, kept by the curve engine that reads it).
TREASURY_TENORS: dict[str, float] = FRED_CMT_TENORS

# The FRED series the simulator uses, with what each one is.
SERIES: dict[str, str] = {
    **{sid: f"US Treasury constant-maturity yield, {sid[3:]}, percent" for sid in TREASURY_TENORS},
    "VIXCLS": "CBOE VIX index, close",
    "DEXUSEU": "FX: US dollars per euro",
    "DEXUSUK": "FX: US dollars per pound sterling",
    "DEXJPUS": "FX: Japanese yen per US dollar",
    "DEXSZUS": "FX: Swiss francs per US dollar",
    "SP500": "S&P 500 index level, close",
    "DFF": "Effective federal funds rate (overnight), percent",
    "AAA": "Moody's seasoned Aaa corporate bond yield, percent (monthly)",
    "BAA": "Moody's seasoned Baa corporate bond yield, percent (monthly)",
    "DCOILWTICO": "WTI crude oil spot price, US dollars per barrel",
    "CPILFESL": "US CPI less food and energy, index 1982-84=100 (monthly)",
}

# Not a FRED series: the Fama-French risk-free rate ships with the offline data and is
# stored beside the FRED series under an id FRED will never use.
FAMA_FRENCH_RF = "FF_RF"
NOT_ON_FRED: dict[str, str] = {
    FAMA_FRENCH_RF: "Fama-French risk-free rate (one-month T-bill), percent per month",
}

# Every series id `fred_load` accepts; loading with no list loads all of them.
KNOWN_SERIES: dict[str, str] = {**SERIES, **NOT_ON_FRED}

# FRED writes "." for a day without an observation; its newer CSV downloads leave it empty.
MISSING_VALUES = frozenset({".", ""})
CSV_DATE_HEADERS = frozenset({"date", "observation_date"})

# Six decimal places: what `FredObservation.value` keeps on every database backend.
VALUE_QUANTUM = Decimal("0.000001")
BATCH_SIZE = 1000
SOURCE_DETAIL_MAX = FredObservation._meta.get_field("source_detail").max_length or 200


class FredLoadError(Exception):
    """A FRED load cannot go ahead: an unknown series, an unreadable source, a refusal."""


@dataclass(frozen=True)
class SeriesHistory:
    """One series as read from a source: its observations, oldest first, and their origin."""

    series_id: str
    source: str
    source_detail: str
    observations: list[tuple[dt.date, Decimal]]


@dataclass(frozen=True)
class SeriesLoad:
    """What one load stored for one series."""

    series_id: str
    count: int
    first: dt.date | None
    last: dt.date | None
    source_detail: str


@dataclass(frozen=True)
class LoadSummary:
    """The outcome of one `fred_load`: the source, per-series counts and dates, the series
    the source did not have, and how many rows were new (the rest were updated)."""

    source: str
    series: list[SeriesLoad]
    missing: list[str]
    created: int
    start: dt.date | None = None
    end: dt.date | None = None
    event_id: int | None = field(default=None, compare=False)

    @property
    def total(self) -> int:
        return sum(load.count for load in self.series)


@dataclass(frozen=True)
class Observation:
    """One stored observation, as the market engine reads it (with its provenance)."""

    series_id: str
    date: dt.date
    value: Decimal
    source: str
    source_detail: str


def _detail(text: str) -> str:
    # source_detail is a bounded column; keep the end of a long path, the informative part.
    if len(text) <= SOURCE_DETAIL_MAX:
        return text
    return "..." + text[-(SOURCE_DETAIL_MAX - 3) :]


def _in_range(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _decimal(text: str, *, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise FredLoadError(f"{where}: {text!r} is not a number") from exc
    if not value.is_finite():
        raise FredLoadError(f"{where}: {text!r} is not a finite number")
    return value


# --- reader 1: live FRED through fredapi ---------------------------------------------------


def read_fredapi(
    series_ids: Iterable[str],
    api_key: str,
    start: dt.date | None,
    end: dt.date | None,
    root_url: str | None = None,
) -> dict[str, SeriesHistory]:
    """Read series from the FRED API with `fredapi` (`{root_url}/series/observations`,
    XML). `root_url` points it at another server (a proxy, or the tests' fake FRED).
    A series FRED does not have is left out of the result; any other refusal is an error."""
    # fredapi imports pandas: only pay for it when the live path is taken.
    from fredapi import Fred

    fred = Fred(api_key=api_key)
    if root_url:
        # fredapi builds every URL from this attribute (a class default we shadow).
        fred.root_url = root_url.rstrip("/")
    result: dict[str, SeriesHistory] = {}
    for series_id in series_ids:
        if series_id in NOT_ON_FRED:
            continue
        try:
            data = fred.get_series(
                series_id,
                observation_start=start.isoformat() if start else None,
                observation_end=end.isoformat() if end else None,
            )
        except ValueError as exc:
            # fredapi turns FRED's HTTP 400 into ValueError(<FRED's message>).
            if "does not exist" in str(exc).lower():
                continue
            raise FredLoadError(f"FRED API at {fred.root_url} refused {series_id}: {exc}") from exc
        except (URLError, ET.ParseError, OSError) as exc:
            raise FredLoadError(
                f"FRED API at {fred.root_url} failed for {series_id}: {exc}"
            ) from exc
        observations = []
        for stamp, number in data.items():
            if number is None or math.isnan(number):  # fredapi's NaN is FRED's "."
                continue
            # fredapi hands back floats; repr() is the shortest text that round-trips,
            # i.e. FRED's own digits for any value with up to 15 significant figures.
            observations.append((stamp.date(), Decimal(repr(float(number)))))
        observations.sort()
        result[series_id] = SeriesHistory(
            series_id=series_id,
            source=ObservationSource.FREDAPI,
            source_detail=_detail(f"{fred.root_url}/series/observations?series_id={series_id}"),
            observations=observations,
        )
    return result


# --- reader 2: FRED CSV downloads in a folder ----------------------------------------------


def read_csv_dir(
    folder: Path | str,
    series_ids: Iterable[str],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, SeriesHistory]:
    """Read FRED CSV downloads named `<ID>.csv` from a folder. A series without a file is
    left out of the result; a file that is not FRED's format is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FredLoadError(f"{folder} is not a folder")
    result: dict[str, SeriesHistory] = {}
    for series_id in series_ids:
        path = folder / f"{series_id}.csv"
        if not path.is_file():
            continue
        observations: list[tuple[dt.date, Decimal]] = []
        # utf-8-sig: a download re-saved by a spreadsheet often gains a BOM.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle)
            header = [cell.strip() for cell in next(rows, [])]
            if (
                len(header) < 2
                or header[0].lower() not in CSV_DATE_HEADERS
                or header[1].upper() != series_id
            ):
                raise FredLoadError(
                    f"{path}: header {','.join(header)!r} is not FRED's 'DATE,{series_id}'"
                )
            for line, row in enumerate(rows, start=2):
                if not row or not row[0].strip():
                    continue
                where = f"{path} line {line}"
                try:
                    day = dt.date.fromisoformat(row[0].strip())
                except ValueError as exc:
                    raise FredLoadError(f"{where}: {row[0]!r} is not a date") from exc
                text = row[1].strip() if len(row) > 1 else ""
                if text in MISSING_VALUES or not _in_range(day, start, end):
                    continue
                observations.append((day, _decimal(text, where=where)))
        observations.sort()
        result[series_id] = SeriesHistory(
            series_id=series_id,
            source=ObservationSource.CSV,
            source_detail=_detail(str(path.resolve())),
            observations=observations,
        )
    return result


# --- reader 3: the offline subset inside the arch package ----------------------------------

OFFLINE_PACKAGE = "arch"


@dataclass(frozen=True)
class OfflineFile:
    """Where one series sits in the offline package: file, column, date format."""

    path: str
    column: str
    date_format: str


# Verified against arch 8.0.0. Dates are M/D/YYYY; Fama-French months are YYYYMM, which
# strptime dates on the first of the month.
OFFLINE_FILES: dict[str, OfflineFile] = {
    "VIXCLS": OfflineFile("arch/data/vix/vix.csv.gz", "vix", "%m/%d/%Y"),
    "AAA": OfflineFile("arch/data/default/default.csv.gz", "AAA", "%m/%d/%Y"),
    "BAA": OfflineFile("arch/data/default/default.csv.gz", "BAA", "%m/%d/%Y"),
    "SP500": OfflineFile("arch/data/sp500/sp500.csv.gz", "Close", "%m/%d/%Y"),
    "DCOILWTICO": OfflineFile("arch/data/wti/wti.csv.gz", "DCOILWTICO", "%m/%d/%Y"),
    "CPILFESL": OfflineFile("arch/data/core_cpi/core-cpi.csv.gz", "CPILFESL", "%m/%d/%Y"),
    FAMA_FRENCH_RF: OfflineFile("arch/data/frenchdata/frenchdata.csv.gz", "RF", "%Y%m"),
}


def _offline_distribution() -> metadata.Distribution:
    try:
        return metadata.distribution(OFFLINE_PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise FredLoadError(
            f"offline FRED data needs the {OFFLINE_PACKAGE!r} package (pip install arch)"
        ) from exc


def _read_gz_columns(path: Path, columns: set[str]) -> list[dict[str, str]]:
    # utf-8-sig: some of arch's files (crude.csv.gz) start with a BOM.
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        wanted = {*columns, "Date"}
        absent = wanted - set(reader.fieldnames or [])
        if absent:
            raise FredLoadError(f"{path}: no column {', '.join(sorted(absent))}")
        return [{name: row[name] for name in wanted} for row in reader]


def read_offline(
    series_ids: Iterable[str],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, SeriesHistory]:
    """Read the real FRED series (and Fama-French RF) shipped in the `arch` package's data
    files, straight from its gzip CSVs. A series it does not ship is left out."""
    wanted = [sid for sid in dict.fromkeys(series_ids) if sid in OFFLINE_FILES]
    if not wanted:
        return {}
    # The installed distribution's metadata locates the files without importing `arch`
    # (whose import pulls in pandas and scipy: seconds, for a few CSVs).
    distribution = _offline_distribution()
    by_file: dict[str, list[str]] = {}
    for series_id in wanted:
        by_file.setdefault(OFFLINE_FILES[series_id].path, []).append(series_id)
    result: dict[str, SeriesHistory] = {}
    for relative, file_series in by_file.items():
        path = Path(str(distribution.locate_file(relative)))
        if not path.is_file():
            raise FredLoadError(f"offline FRED file {relative} is not in the installed package")
        rows = _read_gz_columns(path, {OFFLINE_FILES[sid].column for sid in file_series})
        for series_id in file_series:
            spec = OFFLINE_FILES[series_id]
            observations = []
            for line, row in enumerate(rows, start=2):
                where = f"{relative} line {line}"
                try:
                    # A calendar date, no time of day: no timezone to attach.
                    stamp = dt.datetime.strptime(row["Date"].strip(), spec.date_format)  # noqa: DTZ007
                except ValueError as exc:
                    raise FredLoadError(f"{where}: {row['Date']!r} is not a date") from exc
                day = stamp.date()
                text = (row[spec.column] or "").strip()
                if text in MISSING_VALUES or not _in_range(day, start, end):
                    continue
                observations.append((day, _decimal(text, where=where)))
            observations.sort()
            result[series_id] = SeriesHistory(
                series_id=series_id,
                source=ObservationSource.OFFLINE,
                source_detail=_detail(
                    f"{OFFLINE_PACKAGE} {distribution.version}: {relative} ({spec.column})"
                ),
                observations=observations,
            )
    return result


# --- the service -------------------------------------------------------------------------


def _series_ids_clean(series_ids: Sequence[str] | None) -> list[str]:
    if series_ids is None:
        return list(KNOWN_SERIES)
    cleaned = list(dict.fromkeys(sid.strip().upper() for sid in series_ids if sid.strip()))
    if not cleaned:
        raise FredLoadError("no series given")
    unknown = [sid for sid in cleaned if sid not in KNOWN_SERIES]
    if unknown:
        raise FredLoadError(
            f"unknown series {', '.join(unknown)}; known: {', '.join(KNOWN_SERIES)}"
        )
    return cleaned


def fred_load(
    *,
    series_ids: Sequence[str] | None = None,
    csv_dir: Path | str | None = None,
    api_key: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    root_url: str | None = None,
) -> LoadSummary:
    """Load FRED history into `FredObservation`, from the first available source: the FRED
    API (a key given or `settings.FRED_API_KEY`), else the CSV folder, else the offline
    package data. Upserts on (series, date), so running it again adds nothing and picks
    up revised values. Records one `market.history_loaded` event."""
    wanted = _series_ids_clean(series_ids)
    if start is not None and end is not None and start > end:
        raise FredLoadError(f"start {start} is after end {end}")

    key = api_key or getattr(settings, "FRED_API_KEY", "") or ""
    if key:
        source = ObservationSource.FREDAPI
        histories = read_fredapi(wanted, key, start, end, root_url=root_url)
    elif csv_dir is not None:
        source = ObservationSource.CSV
        histories = read_csv_dir(csv_dir, wanted, start=start, end=end)
    else:
        source = ObservationSource.OFFLINE
        histories = read_offline(wanted, start=start, end=end)

    loads: list[SeriesLoad] = []
    rows: list[FredObservation] = []
    for series_id in wanted:
        history = histories.get(series_id)
        if history is None:
            continue
        # One row per date (the last one read wins): PostgreSQL refuses an upsert that
        # touches the same row twice in one statement.
        by_date = {day: value.quantize(VALUE_QUANTUM) for day, value in history.observations}
        rows.extend(
            FredObservation(
                series_id=series_id,
                date=day,
                value=value,
                source=history.source,
                source_detail=history.source_detail,
            )
            for day, value in by_date.items()
        )
        days = sorted(by_date)
        loads.append(
            SeriesLoad(
                series_id=series_id,
                count=len(days),
                first=days[0] if days else None,
                last=days[-1] if days else None,
                source_detail=history.source_detail,
            )
        )
    missing = [sid for sid in wanted if sid not in histories]

    loaded_ids = [load.series_id for load in loads]
    with transaction.atomic():
        before = FredObservation.objects.filter(series_id__in=loaded_ids).count()
        for offset in range(0, len(rows), BATCH_SIZE):
            FredObservation.objects.bulk_create(
                rows[offset : offset + BATCH_SIZE],
                update_conflicts=True,
                unique_fields=["series_id", "date"],
                # loaded_at too: it says when this value was last confirmed by a source.
                update_fields=["value", "source", "source_detail", "loaded_at"],
            )
        created = FredObservation.objects.filter(series_id__in=loaded_ids).count() - before
        event = event_record(
            kind=MARKET_HISTORY_LOADED,
            source=events.Source.SIMULATOR,
            payload=_event_payload(source, loads, missing, created, start, end),
        )
    return LoadSummary(
        source=source,
        series=loads,
        missing=missing,
        created=created,
        start=start,
        end=end,
        event_id=event.pk,
    )


def _event_payload(
    source: str,
    loads: list[SeriesLoad],
    missing: list[str],
    created: int,
    start: dt.date | None,
    end: dt.date | None,
) -> dict[str, Any]:
    return {
        "source": str(source),
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "series": {
            load.series_id: {
                "count": load.count,
                "first": load.first.isoformat() if load.first else None,
                "last": load.last.isoformat() if load.last else None,
                "source_detail": load.source_detail,
            }
            for load in loads
        },
        "missing": missing,
        "created": created,
    }


# --- selectors: the market engine's reads --------------------------------------------------


def observation_asof(series_id: str, date: dt.date) -> Observation | None:
    """The latest observation of a series on or before `date` (a holiday gets the last
    business day's value, with that day's date), or None if the series starts later."""
    row = (
        FredObservation.objects.filter(series_id=series_id, date__lte=date)
        .order_by("-date")
        .values("series_id", "date", "value", "source", "source_detail")
        .first()
    )
    return Observation(**row) if row else None


def series_window(series_id: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, float]]:
    """A series' observations from `start` to `end` inclusive, oldest first, as floats for
    the engine's numpy work."""
    rows = (
        FredObservation.objects.filter(series_id=series_id, date__gte=start, date__lte=end)
        .order_by("date")
        .values_list("date", "value")
    )
    return [(day, float(value)) for day, value in rows]
