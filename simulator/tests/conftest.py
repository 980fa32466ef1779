"""Fixtures for the simulator's tests: the real FRED series in ../shared/data/fred and a
fake FRED API serving them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_fred_server import FakeFred

# Test data kept beside the project, not in it (see that folder's README).
FRED_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "fred"


@pytest.fixture
def fred_data_dir() -> Path:
    if not (FRED_DATA_DIR / "DGS10.csv").is_file():
        pytest.skip(f"FRED test data not found in {FRED_DATA_DIR}")
    return FRED_DATA_DIR


@pytest.fixture
def fake_fred(fred_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFred]:
    # A proxy configured in the environment must not swallow requests to 127.0.0.1.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeFred(data_dir=fred_data_dir) as server:
        yield server


@pytest.fixture
def no_fred_key(settings) -> None:  # noqa: ANN001
    # The source order puts a configured key first; tests of the other paths must not
    # depend on the environment they run in.
    settings.FRED_API_KEY = ""
