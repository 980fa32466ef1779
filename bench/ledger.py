"""Ledger posting throughput against raw SQL, and a trial balance over millions of lines.

    .venv/bin/python bench/ledger.py                     # 20,000 trades, 10,000,000 lines
    .venv/bin/python bench/ledger.py --trades 4000 --lines 400000 --insert-peer
    .venv/bin/python bench/ledger.py --trades 4000 --lines 10 --profile /tmp/ledger

PostgreSQL only (the rules under test are PostgreSQL's triggers): a fresh database
`opssuite_bench_ledger` at postgres://postgres@127.0.0.1:5432, created and dropped here.

1. Posting: `--trades` trade-date journals (buys and sells of the demo universe, 2-3 lines
   each) through `ledger.services.journals_post` in batches of `--batch` (200, a tick's
   worth), every rule on: validation, idempotency lookup, period check, hash chain, day and
   instrument balances, and the database's triggers (append-only, lines checked against
   their entry, closed period, the balance check at commit). The peer, in the same run: the
   same entries and lines written with raw SQL (COPY, one transaction a batch) into copies
   of the two tables with no triggers, constraints or indexes beyond the primary key.
   `--insert-peer` adds a second, clearly weaker peer: the same rows as multi-row INSERTs.
   Ledger and peers take turns batch by batch, so the shared CPUs' load, which drifts over
   a run, weighs on all of them alike. Prints journals/s for each and `ratio` = ledger /
   raw COPY (aim: >= 0.5). `--profile PATH` writes a cProfile of the ledger's batches.
2. Trial balance: `--lines` journal lines made by a fast generator (INSERT ... SELECT over
   generate_series: the rows never leave the server, faster than any COPY from a client;
   triggers off for the load only), the day balances the postings would have kept, then
   `ledger.selectors.trial_balance` timed for one mandate from the day balances (aim: under
   1 s) and, bitemporally (`known_at`), from the lines themselves.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DB = "opssuite_bench_ledger"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(f"[bench/ledger] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--batch", type=int, default=200, help="journals a posting (a tick's worth)"
    )
    parser.add_argument(
        "--insert-peer",
        action="store_true",
        help="also time a second peer: the same rows as multi-row INSERTs (no rules)",
    )
    parser.add_argument("--profile", metavar="PATH", help="cProfile the posting into PATH.prof")
    args = parser.parse_args()
    import psycopg

    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB}")
    except psycopg.Error as exc:
        print(json.dumps({"skipped": f"PostgreSQL unavailable: {exc}"}))
        return 0
    os.environ.update(
        DJANGO_SETTINGS_MODULE="opssuite.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB}",
        DEBUG="1",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    try:
        result = run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    print(json.dumps(result, indent=2, default=str))
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    import datetime as dt
    from decimal import Decimal

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from book.models import Instrument, Mandate
    from book.services import universe_load
    from book.universe import build_universe
    from ledger import engine, selectors
    from ledger.services import chart_ensure, journals_post

    settings.DEBUG = False
    call_command("migrate", interactive=False, verbosity=0)
    as_of = dt.date(2015, 1, 2)
    universe_load(universe=build_universe(seed=11, scale="demo", as_of=as_of), inception_date=as_of)
    chart_ensure()
    mandates = list(Mandate.objects.order_by("code"))
    equities = list(
        Instrument.objects.filter(asset_class="equity", currency="USD").values_list(
            "ticker", flat=True
        )
    )

    # --- 1. posting throughput --------------------------------------------------------------
    def facts(n: int) -> engine.TradeFacts:
        mandate = mandates[n % len(mandates)]
        buy = n % 3 != 2
        qty = Decimal(100 + n % 900)
        price = Decimal(10 + n % 190) + Decimal("0.25")
        gross = (qty * price).quantize(Decimal("0.0001"))
        commission = Decimal("5.0000")
        realized = Decimal(0) if buy else Decimal(n % 500) - Decimal(200)
        net = gross + commission if buy else gross - commission
        day = as_of + dt.timedelta(days=3 + n // 2000)
        return engine.TradeFacts(
            trade_id=f"B-{n:07d}",
            version=1,
            mandate=mandate.code,
            base_currency="USD",
            instrument=equities[n % len(equities)],
            asset_class="equity",
            side="buy" if buy else "sell",
            quantity=qty,
            price=price,
            gross=gross,
            commission=commission,
            fees=Decimal(0),
            accrued_interest=Decimal(0),
            net=net,
            currency="USD",
            trade_date=day,
            settlement_date=day + dt.timedelta(days=2),
            realized_pnl=realized,
        )

    drafts = [
        engine.trade_entry(
            facts(n),
            source_key=f"trade:B-{n:07d}:g1",
            rates={},
            accounting_date=facts(n).trade_date,
        )
        for n in range(args.trades)
    ]
    lines_total = sum(len(d.lines) for d in drafts)
    batch = args.batch
    mandate_ids = {m.code: m.pk for m in mandates}

    # The peer: the same rows, raw SQL, no rules, into copies of the two tables with no
    # triggers, constraints or indexes beyond the primary key.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE raw_entry (LIKE ledger_journalentry INCLUDING DEFAULTS)")
        cursor.execute("CREATE TABLE raw_line (LIKE ledger_journalline INCLUDING DEFAULTS)")
        cursor.execute("ALTER TABLE raw_entry ADD PRIMARY KEY (id)")
        cursor.execute("ALTER TABLE raw_line ADD PRIMARY KEY (id)")
        if args.insert_peer:
            cursor.execute("CREATE TABLE ins_entry (LIKE raw_entry INCLUDING ALL)")
            cursor.execute("CREATE TABLE ins_line (LIKE raw_line INCLUDING ALL)")
    entry_cols = (
        "id, journal_id, seq, mandate_id, kind, trade_id, accounting_date, effective_date, "
        "effective_kind, settles_on, recorded_at, description, source_key, payload_hash, actor, "
        "prev_hash, entry_hash"
    )
    line_cols = (
        "id, entry_id, line_no, mandate_id, account_id, currency, side, amount, base_amount, "
        "fx_rate"
    )
    raw = connection.connection  # psycopg connection
    first_line = [0]  # the peers' line ids: draft n's lines start after first_line[n]
    for d in drafts:
        first_line.append(first_line[-1] + len(d.lines))

    def peer_rows(start: int, chunk: list) -> tuple[list[tuple], list[tuple]]:
        entries, lines = [], []
        for i, d in enumerate(chunk, start=start + 1):
            entries.append(
                (
                    i,
                    f"J-{i:06d}",
                    i,
                    mandate_ids[d.mandate],
                    d.kind,
                    d.trade_id,
                    d.accounting_date,
                    d.effective_date,
                    d.effective_kind,
                    d.settles_on,
                    "2026-01-01T00:00:00Z",
                    d.description,
                    d.source_key,
                    d.payload_hash,
                    "system",
                    "0" * 64,
                    f"{i:064d}",
                )
            )
            for no, ln in enumerate(d.lines, start=1):
                lines.append(
                    (
                        first_line[i - 1] + no,
                        i,
                        no,
                        mandate_ids[d.mandate],
                        ln.account,
                        ln.currency,
                        ln.side,
                        ln.amount,
                        ln.base_amount,
                        ln.fx_rate,
                    )
                )
        return entries, lines

    def peer_copy(start: int, chunk: list) -> None:
        entries, lines = peer_rows(start, chunk)
        with raw.transaction(), raw.cursor() as cur:
            with cur.copy(f"COPY raw_entry ({entry_cols}) FROM STDIN") as copy:
                for row in entries:
                    copy.write_row(row)
            with cur.copy(f"COPY raw_line ({line_cols}) FROM STDIN") as copy:
                for row in lines:
                    copy.write_row(row)

    def peer_insert(start: int, chunk: list) -> None:
        entries, lines = peer_rows(start, chunk)
        with raw.transaction(), raw.cursor() as cur:
            for table, cols, rows in (
                ("ins_entry", entry_cols, entries),
                ("ins_line", line_cols, lines),
            ):
                width = len(rows[0])
                values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
                cur.execute(
                    f"INSERT INTO {table} ({cols}) VALUES {values}",
                    [v for row in rows for v in row],
                )

    def ledger_post(start: int, chunk: list) -> None:
        with transaction.atomic():
            journals_post(chunk, record_event=False)

    # Batch by batch, the ledger then the peer(s): the 2 shared CPUs' load drifts over a
    # run, and interleaving keeps the ratio measured under the same load.
    contenders = {"ledger": ledger_post, "raw_copy": peer_copy}
    if args.insert_peer:
        contenders["raw_insert"] = peer_insert
    seconds = dict.fromkeys(contenders, 0.0)
    log(
        f"posting {len(drafts)} journals ({lines_total} lines) with every rule on, "
        f"interleaved with {', '.join(list(contenders)[1:])}"
    )
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    for start in range(0, len(drafts), batch):
        chunk = drafts[start : start + batch]
        for name, post in contenders.items():
            if profiler is not None and name == "ledger":
                profiler.enable()
            began = time.perf_counter()
            post(start, chunk)
            seconds[name] += time.perf_counter() - began
            if profiler is not None and name == "ledger":
                profiler.disable()
    if profiler is not None:
        profiler.dump_stats(f"{args.profile}.prof")
        log(f"profile of the posting written to {args.profile}.prof")
    ledger_seconds, raw_seconds = seconds["ledger"], seconds["raw_copy"]
    verify_started = time.perf_counter()
    verified = selectors.ledger_verify().ok
    verify_seconds = time.perf_counter() - verify_started

    # --- 2. trial balance over many lines ------------------------------------------------
    target = args.lines
    have = lines_total
    entries_needed = max(0, (target - have) // 4)
    log(f"generating {entries_needed * 4} more lines for the trial balance")
    gen_started = time.perf_counter()
    first_mandate = mandates[0].pk
    mandate_list = ",".join(str(m.pk) for m in mandates)
    steps: dict[str, float] = {}

    def step(name: str, sql: str, params: list | None = None) -> None:
        began = time.perf_counter()
        cursor.execute(sql, params)
        steps[name] = round(time.perf_counter() - began, 1)

    with connection.cursor() as cursor:
        # The load only, and only it: no triggers (their checks are what part 1 measured),
        # so the generated entries need not balance one by one (they do in total).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "SELECT coalesce(max(seq), 0), coalesce(max(id), 0) FROM ledger_journalentry"
        )
        base_seq, base_id = cursor.fetchone()
        # Keys zero-padded so every index is appended to in order, as a real ledger's are.
        step(
            "entries_s",
            f"""
            INSERT INTO ledger_journalentry (id, journal_id, seq, mandate_id, kind, trade_id,
                accounting_date, effective_date, effective_kind, settles_on, recorded_at,
                description, source_key, payload_hash, actor, prev_hash, entry_hash)
            SELECT {base_id} + g, 'G-' || lpad(g::text, 9, '0'), {base_seq} + g,
                   (ARRAY[{mandate_list}])[1 + g %% {len(mandates)}], 'manual', NULL,
                   DATE '2015-01-05' + (g %% 2500), DATE '2015-01-05' + (g %% 2500), 'value',
                   DATE '2015-01-05' + (g %% 2500), now(), 'generated',
                   'gen:' || lpad(g::text, 9, '0'), 'x', 'bench', 'x', 'gen' || g
              FROM generate_series(1, %s) AS g
            """,
            [entries_needed],
        )
        step(
            "lines_s",
            f"""
            INSERT INTO ledger_journalline (entry_id, line_no, mandate_id, account_id, currency,
                side, amount, base_amount, fx_rate)
            SELECT {base_id} + g, k, (ARRAY[{mandate_list}])[1 + g %% {len(mandates)}],
                   (ARRAY['1000','3000','1200','2000'])[k], 'USD',
                   CASE WHEN k %% 2 = 1 THEN 'D' ELSE 'C' END,
                   (g %% 1000) + 0.25, (g %% 1000) + 0.25, 1
              FROM generate_series(1, %s) AS g, generate_series(1, 4) AS k
            """,
            [entries_needed],
        )
        # The day balances the postings would have kept, from the same formulas (summing
        # the generated rows back would only time a 10-million-row join).
        step(
            "day_balances_s",
            f"""
            WITH moved AS (
                SELECT (ARRAY[{mandate_list}])[1 + g %% {len(mandates)}] AS mandate_id,
                       (ARRAY['1000','3000','1200','2000'])[k] AS account_id,
                       DATE '2015-01-05' + (g %% 2500) AS day,
                       sum(CASE WHEN k %% 2 = 1 THEN (g %% 1000) + 0.25 ELSE 0 END) AS debit,
                       sum(CASE WHEN k %% 2 = 0 THEN (g %% 1000) + 0.25 ELSE 0 END) AS credit
                  FROM generate_series(1, %s) AS g, generate_series(1, 4) AS k
                 GROUP BY 1, 2, 3
            )
            INSERT INTO ledger_ledgerbalance (mandate_id, account_id, currency, basis, day,
                debit, credit, base_debit, base_credit)
            SELECT mandate_id, account_id, 'USD', b.basis, day, debit, credit, debit, credit
              FROM moved CROSS JOIN (VALUES ('trade'), ('settlement')) AS b(basis)
            ON CONFLICT (mandate_id, account_id, currency, basis, day) DO UPDATE SET
                debit = ledger_ledgerbalance.debit + excluded.debit,
                credit = ledger_ledgerbalance.credit + excluded.credit,
                base_debit = ledger_ledgerbalance.base_debit + excluded.base_debit,
                base_credit = ledger_ledgerbalance.base_credit + excluded.base_credit
            """,
            [entries_needed],
        )
        cursor.execute("SET session_replication_role = origin")
        step("analyze_s", "ANALYZE")
        cursor.execute("SELECT count(*) FROM ledger_journalline")
        line_count = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM ledger_ledgerbalance")
        balance_rows = cursor.fetchone()[0]
    generate_seconds = time.perf_counter() - gen_started
    mandate = Mandate.objects.get(pk=first_mandate)
    as_of_day = dt.date(2030, 1, 1)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        tb = selectors.trial_balance(mandate, as_of=as_of_day)
        timings.append(time.perf_counter() - started)
    from django.utils import timezone

    started = time.perf_counter()
    tb_known = selectors.trial_balance(mandate, as_of=as_of_day, known_at=timezone.now())
    known_seconds = time.perf_counter() - started
    journals = len(drafts)
    return {
        "posting": {
            "journals": journals,
            "lines": lines_total,
            "batch": batch,
            "ledger_journals_per_s": round(journals / ledger_seconds),
            "raw_sql_journals_per_s": round(journals / raw_seconds),
            "ratio": round(raw_seconds / ledger_seconds, 3),
            **(
                {
                    "raw_insert_journals_per_s": round(journals / seconds["raw_insert"]),
                    "ratio_vs_raw_insert": round(seconds["raw_insert"] / ledger_seconds, 3),
                }
                if args.insert_peer
                else {}
            ),
            "target_ratio": 0.5,
            "pass": raw_seconds / ledger_seconds >= 0.5,
            "verify_ledger_s": round(verify_seconds, 3),
            "verified": verified,
        },
        "trial_balance": {
            "journal_lines": line_count,
            "day_balance_rows": balance_rows,
            "generate_s": round(generate_seconds, 1),
            "generate_steps": steps,
            "from_day_balances_ms": {
                "median": round(sorted(timings)[2] * 1000, 1),
                "max": round(max(timings) * 1000, 1),
            },
            "balanced": tb.totals["balanced"],
            "target_ms": 1000,
            "pass": sorted(timings)[2] < 1.0,
            "bitemporal_from_lines_ms": round(known_seconds * 1000, 1),
            "bitemporal_balanced": tb_known.totals["balanced"],
        },
    }


if __name__ == "__main__":
    raise SystemExit(main())
