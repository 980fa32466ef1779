"""The `recon_files` command end to end: files in, breaks.csv and rejects.csv out."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"

HEADER = "trade_id,ticker,quantity,price,timestamp,side\n"
EXECUTIONS = HEADER + (
    "T-1,AAPL,100,187.23,2024-01-02T09:30:00.000Z,BUY\n"
    "T-2,MSFT,50,400.5,2024-01-02T09:31:00Z,SELL\n"
    "T-3,IBM,10,150,2024-01-02T09:32:00Z,BUY\n"
    "T-4,GOOG,oops,140,2024-01-02T09:33:00Z,BUY\n"
    "T-5,TSLA,5,240,2024-01-02T09:34:00Z,BUY\n"
)
CONFIRMATIONS = HEADER + (
    "T-1, aapl ,100,187.235,2024-01-02T09:30:00.100+00:00,B\n"  # the edges: matches
    "T-2,MSFT,50,400.52,2024-01-02T09:31:00.150Z,SELL\n"  # 0.02 and 150 ms off
    "T-3,IBM,11,150,2024-01-02T09:32:00Z,BUY\n"
    "T-3,IBM,10,150,2024-01-02T09:32:00Z,BUY\n"
    "T-6,AMZN,1,155,2024-01-02T09:35:00Z,BUY\n"
    "T-7,AMZN,1,155,,BUY\n"
)
PNL = "trade_id,pnl_impact,commission\nT-1,18722,1\nT-2,20024,1\nT-2,20024,1\nT-5,1198.5,0\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (
        ("executions", EXECUTIONS),
        ("confirmations", CONFIRMATIONS),
        ("pnl", PNL),
    ):
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    paths["out"] = tmp_path / "breaks.csv"
    paths["rejects"] = tmp_path / "rejects.csv"
    return paths


def run(files: dict[str, Path], *options: str) -> str:
    out = io.StringIO()
    call_command(
        "recon_files",
        "--executions",
        str(files["executions"]),
        "--confirmations",
        str(files["confirmations"]),
        "--out",
        str(files["out"]),
        *options,
        stdout=out,
    )
    return out.getvalue()


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_writes_breaks_and_rejects_with_the_exact_columns(files: dict[str, Path]):
    # WHEN the command runs over the three files
    printed = run(files, "--pnl", str(files["pnl"]), "--rejects", str(files["rejects"]))
    # THEN breaks.csv has one row per trade and break type, sorted, with the six columns
    assert read(files["out"]) == [
        ["trade_id", "break_type", "field", "internal_value", "external_value", "difference"],
        ["T-2", "price_mismatch", "price", "400.5", "400.52", "-0.02"],
        [
            "T-2",
            "timestamp_drift",
            "timestamp",
            "2024-01-02T09:31:00Z",
            "2024-01-02T09:31:00.150Z",
            "-150",
        ],
        ["T-3", "duplicate_confirmation", "confirmations", "1", "2", "1"],
        ["T-3", "quantity_mismatch", "quantity", "10", "11", "-1"],
        ["T-5", "missing_confirmation", "trade", "TSLA BUY 5 @ 240 2024-01-02T09:34:00Z", "", ""],
        ["T-5", "pnl_inconsistent", "pnl_impact", "1200", "1198.5", "1.5"],
        [
            "T-6",
            "unexpected_confirmation",
            "trade",
            "",
            "AMZN BUY 1 @ 155 2024-01-02T09:35:00Z",
            "",
        ],
    ]
    # AND rejects.csv lists the malformed rows by file and line
    assert read(files["rejects"]) == [
        ["file", "line", "reason"],
        ["executions.csv", "5", "quantity is not a number: 'oops'"],
        ["confirmations.csv", "7", "missing timestamp"],
        ["pnl.csv", "4", "duplicate trade_id, first at line 3"],
    ]
    # AND a one-line summary is printed
    assert printed.strip() == (
        "executions 4 (4 trades), confirmations 5, matched 1 of 5 trades, breaks 7 "
        "(quantity_mismatch 1, price_mismatch 1, timestamp_drift 1, pnl_inconsistent 1, "
        "missing_confirmation 1, unexpected_confirmation 1, duplicate_confirmation 1), rejects 3"
    )


def test_custom_tolerances_through_the_options(files: dict[str, Path]):
    printed = run(
        files,
        "--pnl",
        str(files["pnl"]),
        "--price-tolerance",
        "0.02",
        "--time-tolerance-ms",
        "150",
        "--pnl-tolerance",
        "1.51",
    )
    kinds = [tuple(r[:2]) for r in read(files["out"])[1:]]
    assert kinds == [
        ("T-3", "duplicate_confirmation"),
        ("T-3", "quantity_mismatch"),
        ("T-5", "missing_confirmation"),
        ("T-6", "unexpected_confirmation"),
    ]
    assert "matched 2 of 5 trades" in printed


def test_tight_tolerances_break_the_edges(files: dict[str, Path]):
    run(files, "--price-tolerance", "0.0049", "--time-tolerance-ms", "99")
    kinds = [tuple(r[:2]) for r in read(files["out"])[1:]]
    assert ("T-1", "price_mismatch") in kinds
    assert ("T-1", "timestamp_drift") in kinds


def test_keyword_options_work_like_the_command_line(files: dict[str, Path]):
    out = io.StringIO()
    call_command(
        "recon_files",
        executions=str(files["executions"]),
        confirmations=str(files["confirmations"]),
        out=str(files["out"]),
        price_tolerance="0.02",
        time_tolerance_ms=150,
        stdout=out,
    )
    kinds = [tuple(r[:2]) for r in read(files["out"])[1:]]
    assert ("T-2", "price_mismatch") not in kinds
    assert ("T-2", "timestamp_drift") not in kinds


def test_formatting_noise_gives_an_empty_breaks_file(tmp_path: Path):
    out = tmp_path / "breaks.csv"
    rejects = tmp_path / "rejects.csv"
    printed = io.StringIO()
    call_command(
        "recon_files",
        "--executions",
        str(DATA / "executions.csv"),
        "--confirmations",
        str(DATA / "broker_confirmations.csv"),
        "--pnl",
        str(DATA / "pnl_snapshot.csv"),
        "--out",
        str(out),
        "--rejects",
        str(rejects),
        stdout=printed,
    )
    assert out.read_text().splitlines() == [
        "trade_id,break_type,field,internal_value,external_value,difference"
    ]
    assert rejects.read_text().splitlines() == ["file,line,reason"]
    assert "matched 8 of 8 trades, breaks 0, rejects 0" in printed.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "executions.csv: the file is empty"),
        (HEADER, "executions.csv: the file has a header but no rows"),
        ("id,ticker\nT-1,A\n", "executions.csv: the header lacks required columns trade_id"),
    ],
)
def test_a_whole_file_error_is_a_command_error(files: dict[str, Path], content: str, message: str):
    files["executions"].write_text(content)
    with pytest.raises(CommandError, match=message):
        run(files)
    assert not files["out"].exists()


def test_a_bad_tolerance_is_a_command_error(files: dict[str, Path]):
    with pytest.raises(CommandError, match="bad tolerance"):
        call_command(
            "recon_files",
            executions=str(files["executions"]),
            confirmations=str(files["confirmations"]),
            out=str(files["out"]),
            price_tolerance="-1",
        )


def test_an_unwritable_output_is_a_command_error(files: dict[str, Path]):
    files["out"] = files["out"].parent / "no-such-dir" / "breaks.csv"
    with pytest.raises(CommandError, match="cannot write"):
        run(files)


def test_the_process_exits_non_zero_with_a_message_not_a_traceback(files: dict[str, Path]):
    files["confirmations"].write_text(HEADER)
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "recon_files",
            "--executions",
            str(files["executions"]),
            "--confirmations",
            str(files["confirmations"]),
            "--out",
            str(files["out"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "confirmations.csv: the file has a header but no rows" in done.stderr
    assert "Traceback" not in done.stderr
