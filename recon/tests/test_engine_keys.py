"""recon.engine.keys: repeats and lookups by trade id on 64-bit hashes must give exactly
what the same operations on the text give - even when two ids share a hash."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recon.engine import keys

IDS = pl.Series(["T-3", "T-1", "T-2", "T-1", "T-4", "T-1", "T-2", "T-10"])


@pytest.fixture(params=["polars", "colliding"])
def hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "colliding":
        # A hash so poor that different ids share it (by length: "T-1" and "T-2" collide).
        monkeypatch.setattr(
            keys, "_hash", lambda ids: ids.str.len_bytes().cast(pl.UInt64).to_numpy()
        )
    return request.param


def test_occurrences_are_those_of_the_text(hashing: str):
    first, repeated = keys.occurrences(IDS)
    assert first.to_list() == IDS.is_first_distinct().to_list()
    assert repeated.to_list() == IDS.is_duplicated().to_list()


def test_unique_ids_take_the_shortcut_unless_hashes_collide(hashing: str):
    unique = pl.Series(["T-1", "T-2", "T-3"])
    first, repeated = keys.occurrences(unique)
    assert first.to_list() == [True, True, True]
    assert repeated.to_list() == [False, False, False]


@pytest.mark.parametrize(
    ("ids", "other"),
    [
        (["T-1", "T-2", "T-3"], ["T-3", "T-1", "T-2"]),  # shuffled
        (["T-1", "T-2", "T-3"], ["T-1", "T-2", "T-3"]),  # aligned
        (["T-1", "T-9", "T-3", "T-10"], ["T-3", "T-10", "T-1", "T-4"]),  # some absent
        (["T-1"], []),
        ([], ["T-1"]),
    ],
)
def test_lookup_finds_each_id_in_the_other(hashing: str, ids: list[str], other: list[str]):
    left, right = pl.Series(ids, dtype=pl.String), pl.Series(other, dtype=pl.String)
    found = keys.lookup(left, right).to_list()
    expected = [other.index(i) if i in other else None for i in ids]
    assert found == expected


def test_lookup_at_scale_matches_a_join_on_the_text():
    rng = np.random.default_rng(3)
    ids = pl.Series([f"T-{i:06d}" for i in rng.permutation(5000)[:4000]])
    other = pl.Series([f"T-{i:06d}" for i in rng.permutation(5000)[:4500]])
    joined = (
        pl.DataFrame({"id": ids})
        .join(
            pl.DataFrame({"id": other, "at": pl.int_range(4500, dtype=pl.UInt32, eager=True)}),
            on="id",
            how="left",
            maintain_order="left",
        )
        .get_column("at")
    )
    assert keys.lookup(ids, other).to_list() == joined.to_list()
