"""FRED loading: the three sources (fredapi against a fake FRED, CSV downloads, the offline
arch data), idempotent upserts, the event, the as-of reads and `manage.py load_fred`."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import shutil
import socket
from decimal import Decimal
from importlib import metadata
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from book.models import Event
from simulator import fred
from simulator.models import FredObservation, ObservationSource

START = dt.date(2015, 1, 1)
END = dt.date(2016, 12, 31)


def _fred_csv(path: Path, start: dt.date = START, end: dt.date = END) -> dict[dt.date, str]:
    """The file's observations in the range, as text; '.' days included."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return {
        dt.date.fromisoformat(day): value
        for day, value in rows
        if start <= dt.date.fromisoformat(day) <= end
    }


def _stored(series_id: str) -> dict[dt.date, Decimal]:
    return dict(FredObservation.objects.filter(series_id=series_id).values_list("date", "value"))


def _arch_file(relative: str) -> Path:
    return Path(str(metadata.distribution("arch").locate_file(relative)))


def _gz_row(relative: str, date_text: str) -> dict[str, str]:
    with gzip.open(_arch_file(relative), "rt", encoding="utf-8-sig", newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["Date"] == date_text)


# --- the series ------------------------------------------------------------------------


def test_every_treasury_series_has_a_tenor_and_the_curve_is_in_order():
    tenors = [fred.TREASURY_TENORS[sid] for sid in fred.SERIES if sid.startswith("DGS")]
    assert tenors == sorted(tenors) and len(tenors) == 11
    assert fred.TREASURY_TENORS["DGS1MO"] == pytest.approx(1 / 12)
    assert fred.TREASURY_TENORS["DGS30"] == 30
    for sid in ["VIXCLS", "DEXUSEU", "DEXUSUK", "DEXJPUS", "DEXSZUS", "SP500", "DFF"]:
        assert sid in fred.SERIES
    for sid in ["AAA", "BAA", "DCOILWTICO", "CPILFESL", "FF_RF"]:
        assert sid in fred.KNOWN_SERIES


# --- fredapi against the fake FRED -----------------------------------------------------


@pytest.mark.django_db
def test_fredapi_path_stores_fred_values_skips_missing_days_and_sends_the_key(fake_fred):
    # GIVEN a FRED API (fake, serving the real downloads) and a key
    # WHEN loading two series for 2015-2016 through fredapi
    summary = fred.fred_load(
        series_ids=["DGS10", "DEXUSEU"],
        api_key=fake_fred.api_key,
        start=START,
        end=END,
        root_url=fake_fred.root_url,
    )
    # THEN every stored value is FRED's, the '.' holidays are absent, the source is fredapi
    assert summary.source == ObservationSource.FREDAPI
    for series_id in ["DGS10", "DEXUSEU"]:
        expected = {
            day: Decimal(text)
            for day, text in _fred_csv(fake_fred.data_dir / f"{series_id}.csv").items()
            if text != "."
        }
        assert _stored(series_id) == expected
    dgs10 = FredObservation.objects.get(series_id="DGS10", date=dt.date(2015, 6, 1))
    assert dgs10.value == Decimal("2.19")
    assert dgs10.source == ObservationSource.FREDAPI
    assert dgs10.source_detail.startswith(fake_fred.root_url)
    assert not FredObservation.objects.filter(date=dt.date(2015, 7, 3)).exists()
    assert not FredObservation.objects.filter(date__lt=START).exists()
    assert not FredObservation.objects.filter(date__gt=END).exists()
    # ... and fredapi asked for the window, with the key.
    asked = {request["series_id"]: request for request in fake_fred.requests}
    assert asked["DGS10"]["api_key"] == fake_fred.api_key
    assert asked["DGS10"]["observation_start"] == "2015-01-01"
    assert asked["DGS10"]["observation_end"] == "2016-12-31"
    assert {load.series_id: load.count for load in summary.series} == {
        "DGS10": 501,
        "DEXUSEU": 502,
    }


@pytest.mark.django_db
def test_fredapi_is_picked_when_the_key_is_in_settings_even_with_a_csv_dir(
    fake_fred, settings, tmp_path
):
    settings.FRED_API_KEY = fake_fred.api_key
    summary = fred.fred_load(
        series_ids=["VIXCLS"],
        csv_dir=tmp_path,
        start=dt.date(2015, 6, 1),
        end=dt.date(2015, 6, 30),
        root_url=fake_fred.root_url,
    )
    assert summary.source == ObservationSource.FREDAPI
    assert summary.series[0].count == 22
    assert fake_fred.requests[0]["api_key"] == fake_fred.api_key


@pytest.mark.django_db
def test_fredapi_reports_a_series_fred_lacks_and_refuses_a_wrong_key(fake_fred):
    # AAA is a real FRED series the fake does not serve; FF_RF is not on FRED at all.
    summary = fred.fred_load(
        series_ids=["VIXCLS", "AAA", "FF_RF"],
        api_key=fake_fred.api_key,
        start=dt.date(2015, 6, 1),
        end=dt.date(2015, 6, 5),
        root_url=fake_fred.root_url,
    )
    assert [load.series_id for load in summary.series] == ["VIXCLS"]
    assert summary.missing == ["AAA", "FF_RF"]
    assert "FF_RF" not in {request["series_id"] for request in fake_fred.requests}

    with pytest.raises(fred.FredLoadError, match="api_key is not registered"):
        fred.fred_load(series_ids=["VIXCLS"], api_key="wrong", root_url=fake_fred.root_url)


def test_fredapi_reader_says_where_it_failed_when_fred_is_unreachable():
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"http://127.0.0.1:{port}/fred"
    with pytest.raises(fred.FredLoadError, match=f"FRED API at {dead} failed for DGS10"):
        fred.read_fredapi(["DGS10"], "key", START, END, root_url=dead)


# --- CSV downloads -----------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_path_loads_the_non_missing_lines_in_range_exactly(fred_data_dir, no_fred_key):
    summary = fred.fred_load(
        series_ids=["DGS10", "VIXCLS", "DGS1MO"], csv_dir=fred_data_dir, start=START, end=END
    )
    assert summary.source == ObservationSource.CSV
    for load in summary.series:
        lines = _fred_csv(fred_data_dir / f"{load.series_id}.csv")
        present = {day: Decimal(text) for day, text in lines.items() if text != "."}
        assert load.count == len(present) == len(lines) - list(lines.values()).count(".")
        assert _stored(load.series_id) == present
        assert (load.first, load.last) == (min(present), max(present))
    assert FredObservation.objects.get(series_id="VIXCLS", date=dt.date(2015, 6, 1)).value == (
        Decimal("13.97")
    )
    row = FredObservation.objects.get(series_id="DGS10", date=dt.date(2015, 6, 1))
    assert row.source == ObservationSource.CSV
    assert row.source_detail == str((fred_data_dir / "DGS10.csv").resolve())
    assert summary.created == FredObservation.objects.count()


@pytest.mark.django_db
def test_csv_path_reports_series_without_a_file(fred_data_dir, no_fred_key):
    summary = fred.fred_load(
        series_ids=["DGS10", "AAA"], csv_dir=fred_data_dir, start=START, end=dt.date(2015, 1, 9)
    )
    assert [load.series_id for load in summary.series] == ["DGS10"]
    assert summary.missing == ["AAA"]


def test_csv_reader_takes_the_newer_observation_date_header_and_empty_values(tmp_path):
    (tmp_path / "DFF.csv").write_text(
        "\ufeffobservation_date,DFF\r\n2020-01-01,\r\n2020-01-02,1.55\r\n2020-01-03,1.5500\r\n"
    )
    histories = fred.read_csv_dir(tmp_path, ["DFF"])
    assert histories["DFF"].observations == [
        (dt.date(2020, 1, 2), Decimal("1.55")),
        (dt.date(2020, 1, 3), Decimal("1.5500")),
    ]


def test_csv_reader_refuses_a_file_that_is_not_the_series(tmp_path):
    (tmp_path / "DGS10.csv").write_text("DATE,DGS2\n2020-01-02,1.58\n")
    with pytest.raises(fred.FredLoadError, match="DATE,DGS10"):
        fred.read_csv_dir(tmp_path, ["DGS10"])
    (tmp_path / "DGS10.csv").write_text("DATE,DGS10\n2020-01-02,n/a\n")
    with pytest.raises(fred.FredLoadError, match="line 2"):
        fred.read_csv_dir(tmp_path, ["DGS10"])


# --- offline: arch.data ------------------------------------------------------------------


@pytest.mark.django_db
def test_offline_path_loads_vix_credit_and_sp500_from_the_arch_package(no_fred_key):
    # GIVEN no key and no folder WHEN loading THEN the series come from arch's data files
    summary = fred.fred_load(
        series_ids=["VIXCLS", "AAA", "BAA", "SP500", "DGS10"],
        start=dt.date(2015, 1, 1),
        end=dt.date(2015, 12, 31),
    )
    assert summary.source == ObservationSource.OFFLINE
    assert summary.missing == ["DGS10"]  # not shipped offline: reported, not raised
    counts = {load.series_id: load.count for load in summary.series}
    assert counts["AAA"] == counts["BAA"] == 12  # monthly
    assert counts["SP500"] == 252  # trading days in 2015
    assert counts["VIXCLS"] == 252
    assert set(FredObservation.objects.values_list("source", flat=True)) == {"offline"}

    vix = _gz_row("arch/data/vix/vix.csv.gz", "6/1/2015")
    stored = FredObservation.objects.get(series_id="VIXCLS", date=dt.date(2015, 6, 1))
    assert stored.value == Decimal(vix["vix"]) == Decimal("13.97")  # FRED's VIXCLS too
    assert stored.source_detail.startswith("arch ") and "vix.csv.gz" in stored.source_detail
    credit = _gz_row("arch/data/default/default.csv.gz", "6/1/2015")
    assert _stored("AAA")[dt.date(2015, 6, 1)] == Decimal(credit["AAA"]) == Decimal("4.19")
    assert _stored("BAA")[dt.date(2015, 6, 1)] == Decimal(credit["BAA"]) == Decimal("5.13")
    sp500 = _gz_row("arch/data/sp500/sp500.csv.gz", "6/1/2015")
    assert _stored("SP500")[dt.date(2015, 6, 1)] == Decimal(sp500["Close"])
    # 2015-07-03 is '.' in the VIX file: skipped, like FRED's missing days.
    assert dt.date(2015, 7, 3) not in _stored("VIXCLS")


def test_offline_reader_has_wti_core_cpi_and_the_fama_french_rate():
    histories = fred.read_offline(
        ["DCOILWTICO", "CPILFESL", "FF_RF", "DGS10"],
        start=dt.date(2015, 1, 1),
        end=dt.date(2015, 3, 31),
    )
    assert set(histories) == {"DCOILWTICO", "CPILFESL", "FF_RF"}
    cpi = _gz_row("arch/data/core_cpi/core-cpi.csv.gz", "1/1/2015")["CPILFESL"]
    assert histories["CPILFESL"].observations[0] == (dt.date(2015, 1, 1), Decimal(cpi))
    # Fama-French months (YYYYMM, percent) are dated the first of the month.
    assert [day for day, _ in histories["FF_RF"].observations] == [
        dt.date(2015, 1, 1),
        dt.date(2015, 2, 1),
        dt.date(2015, 3, 1),
    ]
    wti = dict(histories["DCOILWTICO"].observations)
    assert wti[dt.date(2015, 1, 2)] == Decimal(
        _gz_row("arch/data/wti/wti.csv.gz", "1/2/2015")["DCOILWTICO"]
    )
    assert all(value > 0 for value in wti.values())


# --- idempotency and the event -----------------------------------------------------------


@pytest.mark.django_db
def test_loading_twice_adds_nothing_and_a_revised_value_is_updated(
    fred_data_dir, no_fred_key, tmp_path
):
    # GIVEN DGS10 for 2015 loaded once
    shutil.copy(fred_data_dir / "DGS10.csv", tmp_path / "DGS10.csv")
    kwargs = {"series_ids": ["DGS10"], "start": START, "end": dt.date(2015, 12, 31)}
    first = fred.fred_load(csv_dir=tmp_path, **kwargs)
    rows = FredObservation.objects.count()
    assert first.created == rows == 251

    # WHEN loading it again THEN nothing is added
    again = fred.fred_load(csv_dir=tmp_path, **kwargs)
    assert (again.created, FredObservation.objects.count()) == (0, rows)
    assert again.series[0].count == rows

    # WHEN FRED revises one value THEN the stored row changes, still no new row
    path = tmp_path / "DGS10.csv"
    path.write_text(path.read_text().replace("2015-06-01,2.19", "2015-06-01,2.21"))
    revised = fred.fred_load(csv_dir=tmp_path, **kwargs)
    assert (revised.created, FredObservation.objects.count()) == (0, rows)
    assert _stored("DGS10")[dt.date(2015, 6, 1)] == Decimal("2.21")


@pytest.mark.django_db
def test_each_load_records_one_event_with_counts_and_source(fred_data_dir, no_fred_key):
    summary = fred.fred_load(
        series_ids=["DGS2", "AAA"], csv_dir=fred_data_dir, start=START, end=dt.date(2015, 1, 31)
    )
    event = Event.objects.get(kind="market.history_loaded")
    assert event.pk == summary.event_id
    assert event.source == "simulator"
    assert event.payload["source"] == "csv"
    assert event.payload["series"]["DGS2"]["count"] == summary.series[0].count == 20
    assert event.payload["series"]["DGS2"]["first"] == "2015-01-02"
    assert event.payload["missing"] == ["AAA"]


@pytest.mark.django_db
def test_an_unknown_series_is_a_clear_error_and_writes_nothing(fred_data_dir, no_fred_key):
    with pytest.raises(fred.FredLoadError, match="unknown series DGS99"):
        fred.fred_load(series_ids=["DGS10", "DGS99"], csv_dir=fred_data_dir)
    with pytest.raises(fred.FredLoadError, match="after end"):
        fred.fred_load(series_ids=["DGS10"], start=END, end=START)
    assert not FredObservation.objects.exists()
    assert not Event.objects.filter(kind="market.history_loaded").exists()


# --- selectors ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_observation_asof_a_holiday_is_the_previous_business_day(
    fred_data_dir, no_fred_key, django_assert_num_queries
):
    fred.fred_load(
        series_ids=["DGS10"],
        csv_dir=fred_data_dir,
        start=dt.date(2015, 6, 1),
        end=dt.date(2015, 7, 31),
    )
    # 2015-07-03 (Independence Day observed) is '.' in FRED: the 2nd's close stands.
    with django_assert_num_queries(1):
        seen = fred.observation_asof("DGS10", dt.date(2015, 7, 3))
    assert seen is not None
    assert (seen.date, seen.value, seen.source) == (dt.date(2015, 7, 2), Decimal("2.40"), "csv")
    assert fred.observation_asof("DGS10", dt.date(2015, 7, 6)).value == Decimal("2.30")
    assert fred.observation_asof("DGS10", dt.date(2015, 5, 29)) is None
    assert fred.observation_asof("VIXCLS", dt.date(2015, 7, 3)) is None


@pytest.mark.django_db
def test_series_window_is_the_range_in_date_order_as_floats(
    fred_data_dir, no_fred_key, django_assert_num_queries
):
    fred.fred_load(
        series_ids=["DGS10", "DGS2"],
        csv_dir=fred_data_dir,
        start=dt.date(2015, 6, 1),
        end=dt.date(2015, 7, 31),
    )
    with django_assert_num_queries(1):
        window = fred.series_window("DGS10", dt.date(2015, 7, 1), dt.date(2015, 7, 7))
    assert window == [
        (dt.date(2015, 7, 1), 2.43),
        (dt.date(2015, 7, 2), 2.40),
        (dt.date(2015, 7, 6), 2.30),
        (dt.date(2015, 7, 7), 2.27),
    ]


# --- manage.py load_fred -------------------------------------------------------------------


@pytest.mark.django_db
def test_load_fred_command_prints_a_table_per_series_and_the_source(fred_data_dir, no_fred_key):
    out = io.StringIO()
    call_command(
        "load_fred",
        "--csv-dir",
        str(fred_data_dir),
        "--series",
        "DGS10,vixcls,AAA",
        "--start",
        "2015-01-01",
        "--end",
        "2016-12-31",
        stdout=out,
    )
    text = out.getvalue()
    assert "source: csv" in text
    assert "DGS10            501  2015-01-02  2016-12-30" in text
    assert "VIXCLS           504  2015-01-02  2016-12-30" in text
    assert "not in this source: AAA" in text
    assert "loaded 1005 observations of 2 series (1005 new) from csv" in text
    assert FredObservation.objects.count() == 1005


@pytest.mark.django_db
def test_load_fred_command_without_a_folder_loads_offline(no_fred_key):
    out = io.StringIO()
    call_command("load_fred", "--series", "AAA", "--start", "2018-01-01", stdout=out)
    assert "source: offline" in out.getvalue()
    assert FredObservation.objects.filter(series_id="AAA", source="offline").count() == 12


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--start", "2015-13-01"], "--start"),
        (["--end", "yesterday"], "--end"),
        (["--start", "2016-01-01", "--end", "2015-01-01"], "--start"),
        (["--series", "DGS10,NOPE"], "--series"),
        (["--series", ","], "--series"),
        (["--csv-dir", "/no/such/folder"], "--csv-dir"),
    ],
)
def test_load_fred_command_names_the_bad_argument(args, named, no_fred_key):
    with pytest.raises(CommandError, match=named):
        call_command("load_fred", *args, stdout=io.StringIO())
    assert not FredObservation.objects.exists()
