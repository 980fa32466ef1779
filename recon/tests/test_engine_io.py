"""Reading the trade-recon files (recon.engine.read_*): formatting noise that must still
match, malformed rows rejected with their line numbers, whole files refused clearly."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from recon import engine
from recon.engine import ReconFileError, Reject

DATA = Path(__file__).parent / "data"

HEADER = "trade_id,ticker,quantity,price,timestamp,side\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def breaks_of(result: engine.TradeReconResult) -> list[tuple[str, str]]:
    return [(b["trade_id"], b["break_type"]) for b in result.breaks]


# --------------------------------------------------------------------------- noise


def test_formatting_noise_still_matches():
    # GIVEN the broker's file with lower-case and padded tickers, "Z", "+00:00" and other
    # offsets, timestamps with and without milliseconds, "1,000" quantities, side aliases,
    # columns in another order, CRLF line ends, a BOM and an extra column
    executions, rejects_e = engine.read_executions(DATA / "executions.csv")
    confirmations, rejects_c = engine.read_confirmations(DATA / "broker_confirmations.csv")
    pnl, rejects_p = engine.read_pnl(DATA / "pnl_snapshot.csv")
    # WHEN reconciled THEN every trade matches
    result = engine.reconcile(executions, confirmations, pnl)
    assert (rejects_e, rejects_c, rejects_p) == ([], [], [])
    assert breaks_of(result) == []
    assert result.summary["matched"] == 8
    assert result.summary["executions"] == 9  # T-0008 is two fills
    assert result.summary["partial_fill_trades"] == 1
    assert result.summary["pnl_unchecked"] == 0


def test_cells_are_normalised():
    text = (
        "Timestamp , TICKER,Side,trade_id,price,quantity,venue\n"
        ' 2024-01-02 09:30:00.5 , msft ,s, T-1 , 400.50 ,"1,000",XNAS\n'
        "2024-01-02T10:30:00+01:00,Aapl,Buy,T-2,1e2,+5,XNYS\n"
        "2024-01-02T09:30:00.123456789z,ibm,SS,T-3,.5,2.5,XLON\n"
    )
    frame, rejects = engine.read_executions(text.encode())
    assert rejects == []
    rows = frame.select("trade_id", "ticker", "quantity", "price", "side").rows()
    assert rows == [
        ("T-1", "MSFT", Decimal("1000"), Decimal("400.5"), "SELL"),
        ("T-2", "AAPL", Decimal("5"), Decimal("100"), "BUY"),
        ("T-3", "IBM", Decimal("2.5"), Decimal("0.5"), "SHORT"),
    ]
    nanos = frame.get_column("timestamp").dt.epoch("ns").to_list()
    assert nanos == [
        1_704_187_800_500_000_000,
        1_704_187_800_000_000_000,
        1_704_187_800_123_456_789,
    ]
    assert frame.get_column("line").to_list() == [2, 3, 4]


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-02T09:30:00Z",
        "2024-01-02T09:30:00.000Z",
        "2024-01-02T09:30:00+00:00",
        "2024-01-02T09:30:00.000+00:00",
        "2024-01-02T09:30:00",
        "2024-01-02 09:30:00",
        "2024-01-02T10:30:00+0100",
        "2024-01-02T04:30:00-05:00",
        "2024-01-02t09:30:00z",
        "2024-01-02T10:30:00+01",
        "2024-01-02T09:30Z",
        "2024-01-02 10:30+01:00",
    ],
)
def test_every_iso_spelling_is_the_same_instant(stamp: str):
    # The first row sets the column's fast format; the second must parse row by row.
    for first in ("2024-01-02T09:30:00Z", "2024-01-02T09:30:00.000+00:00", "2024-01-02 09:30:00"):
        text = HEADER + f"T-0,A,1,1,{first},B\nT-1,A,1,1,{stamp},B\n"
        frame, rejects = engine.read_executions(text.encode())
        assert rejects == []
        assert (
            frame.get_column("timestamp").dt.epoch("ns").to_list()
            == [1_704_187_800_000_000_000] * 2
        )


def test_mixed_formats_in_one_file_parse_row_by_row():
    stamps = [
        "2024-01-02T09:30:00Z",
        "2024-01-02T09:30:00.1",
        "2024-01-02T10:30:00.2+01:00",
        "2024-01-02 09:30:00.3Z",
        "2024-01-02T09:30:00.4+0000",
    ]
    text = HEADER + "".join(f"T-{i},A,1,1,{s},B\n" for i, s in enumerate(stamps))
    frame, rejects = engine.read_executions(text.encode())
    assert rejects == []
    millis = [
        (n - 1_704_187_800_000_000_000) // 1_000_000 for n in frame["timestamp"].dt.epoch("ns")
    ]
    assert millis == [0, 100, 200, 300, 400]


def test_paths_bytes_and_file_objects_read_alike(tmp_path: Path):
    text = HEADER + "T-1,AAPL,100,10,2024-01-02T09:30:00Z,BUY\n"
    path = write(tmp_path, "e.csv", text)
    upload = io.BytesIO(text.encode())
    upload.read(5)  # an upload already read from is read from its start
    frames = [
        engine.read_executions(source)[0].rows()
        for source in (path, str(path), text.encode(), upload)
    ]
    assert frames[0] == frames[1] == frames[2] == frames[3]


# --------------------------------------------------------------------------- rejects


def test_malformed_rows_are_rejected_with_their_line_numbers():
    # GIVEN a file with a malformed row of every kind (the header is line 1)
    text = (
        HEADER  # 1
        + "T-1,AAPL,100,10,2024-01-02T09:30:00Z,BUY\n"  # 2 good
        + "T-2,AAPL,,10,2024-01-02T09:30:00Z,BUY\n"  # 3 missing quantity
        + "T-3,AAPL,ten,10,2024-01-02T09:30:00Z,BUY\n"  # 4 not a number
        + "T-4,AAPL,100,10,2024-02-30T09:30:00Z,BUY\n"  # 5 no such day
        + "T-5,AAPL,100,10,yesterday,BUY\n"  # 6 not a timestamp
        + ",AAPL,100,10,2024-01-02T09:30:00Z,BUY\n"  # 7 empty trade id
        + "   ,AAPL,100,10,2024-01-02T09:30:00Z,BUY\n"  # 8 blank trade id
        + "T-8, ,100,10,2024-01-02T09:30:00Z,BUY\n"  # 9 missing ticker
        + "T-9,AAPL,100,10,2024-01-02T09:30:00Z,HOLD\n"  # 10 no such side
        + "T-10,AAPL,100,10,2024-01-02T09:30:00Z,BUY,extra\n"  # 11 too many fields
        + "T-11,AAPL\n"  # 12 too few
        + 'T-12,AAPL,"1,00",10,2024-01-02T09:30:00Z,BUY\n'  # 13 a decimal comma?
        + "T-13,AAPL,100,NaN,2024-01-02T09:30:00Z,BUY\n"  # 14 not a finite number
        + "\n"  # 15 blank: not a row
        + "T-15,AAPL,100,10,2024-01-02,BUY\n"  # 16 a date is not a time
        + "T-16,AAPL,100,10,2024-01-02T09:30:00Z,\n"  # 17 good: no side given
    )
    # WHEN read
    frame, rejects = engine.read_executions(text.encode(), name="executions.csv")
    # THEN the good rows are kept and every bad one is listed, in line order
    assert frame.get_column("trade_id").to_list() == ["T-1", "T-16"]
    assert frame.get_column("line").to_list() == [2, 17]
    assert rejects == [
        Reject("executions.csv", 3, "missing quantity"),
        Reject("executions.csv", 4, "quantity is not a number: 'ten'"),
        Reject("executions.csv", 5, "bad timestamp: '2024-02-30T09:30:00Z'"),
        Reject("executions.csv", 6, "bad timestamp: 'yesterday'"),
        Reject("executions.csv", 7, "empty trade_id"),
        Reject("executions.csv", 8, "empty trade_id"),
        Reject("executions.csv", 9, "missing ticker"),
        Reject("executions.csv", 10, "side must be buy or sell: 'HOLD'"),
        Reject("executions.csv", 11, "more fields than the header's 6"),
        Reject("executions.csv", 12, "missing quantity; missing price; missing timestamp"),
        Reject("executions.csv", 13, "quantity is not a number: '1,00'"),
        Reject("executions.csv", 14, "price is not a number: 'NaN'"),
        Reject("executions.csv", 16, "bad timestamp: '2024-01-02'"),
    ]


def test_rejected_rows_are_left_out_of_matching():
    executions = HEADER + "T-1,AAPL,100,10,2024-01-02T09:30:00Z,BUY\n"
    confirmations = HEADER + "T-1,AAPL,100,10,not-a-time,BUY\n"
    result, rejects = engine.reconcile_files(executions.encode(), confirmations.encode())
    assert rejects == [Reject("broker_confirmations.csv", 2, "bad timestamp: 'not-a-time'")]
    assert breaks_of(result) == [("T-1", "missing_confirmation")]


def test_a_repeated_trade_id_in_the_pnl_snapshot_is_a_reject():
    text = (
        "trade_id,pnl_impact,commission\n"
        "T-1,100,1\n"
        "T-2,x,1\n"  # malformed: rejected, so the next T-2 is the first
        "T-2,200,1\n"
        "T-1,100,1\n"
        "T-1,101,1\n"
    )
    frame, rejects = engine.read_pnl(text.encode())
    assert frame.select("trade_id", "line").rows() == [("T-1", 2), ("T-2", 4)]
    assert rejects == [
        Reject("pnl_snapshot.csv", 3, "pnl_impact is not a number: 'x'"),
        Reject("pnl_snapshot.csv", 5, "duplicate trade_id, first at line 2"),
        Reject("pnl_snapshot.csv", 6, "duplicate trade_id, first at line 2"),
    ]


def test_an_unreadable_optional_commission_is_a_reject_and_blank_is_none():
    text = (
        "trade_id,ticker,quantity,price,timestamp,commission\n"
        "T-1,A,1,1,2024-01-02T09:30:00Z,abc\n"
        "T-2,A,1,1,2024-01-02T09:30:00Z,  \n"
        "T-3,A,1,1,2024-01-02T09:30:00Z,1.5\n"
    )
    frame, rejects = engine.read_executions(text.encode())
    assert rejects == [Reject("executions.csv", 2, "commission is not a number: 'abc'")]
    assert frame.select("trade_id", "commission").rows() == [("T-2", None), ("T-3", Decimal("1.5"))]


# --------------------------------------------------------------------------- whole files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "executions.csv: the file is empty"),
        (b"\n\r\n  \n", "executions.csv: the file is empty"),
        (HEADER.encode(), "executions.csv: the file has a header but no rows"),
        (HEADER.encode() + b"\n\n", "executions.csv: the file has a header but no rows"),
        (
            b"trade_id,ticker,qty,price\nT-1,A,1,1\n",
            "executions.csv: the header lacks required columns quantity, timestamp",
        ),
        (
            b"T-1,AAPL,100,10,2024-01-02T09:30:00Z\n",
            "executions.csv: the header lacks required columns trade_id, ticker",
        ),
        (
            b"trade_id,ticker,quantity,price,timestamp,price\n",
            "executions.csv: the header names price more than once",
        ),
        (b"\nT-1,A,1,1\n", "executions.csv: the first line (the header) is blank"),
    ],
)
def test_unusable_files_are_refused_naming_the_file(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "executions.csv"
    path.write_bytes(content)
    for source in (path, content, io.BytesIO(content)):
        with pytest.raises(ReconFileError) as caught:
            engine.read_executions(source)
        assert str(caught.value).startswith(message)
        assert caught.value.file == "executions.csv"


def test_header_only_confirmations_and_pnl_are_refused_too():
    with pytest.raises(ReconFileError, match="broker_confirmations.csv: the file has a header"):
        engine.read_confirmations(HEADER.encode())
    with pytest.raises(ReconFileError, match="pnl_snapshot.csv: the file has a header"):
        engine.read_pnl(b"trade_id,pnl_impact,commission\n")
    with pytest.raises(ReconFileError, match="lacks required column commission"):
        engine.read_pnl(b"trade_id,pnl_impact\nT-1,1\n")


def test_a_missing_file_and_a_broken_csv_are_refused(tmp_path: Path):
    with pytest.raises(ReconFileError, match="E.csv: no such file"):
        engine.read_executions(tmp_path / "nope.csv", name="E.csv")
    broken = HEADER + 'T-1,AAPL,"100,10,2024-01-02T09:30:00Z,BUY\nT-2,A,1,1,x,B\n'
    with pytest.raises(ReconFileError, match="executions.csv: not a readable CSV file"):
        engine.read_executions(broken.encode())
