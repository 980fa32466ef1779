"""Ledger posting throughput against raw SQL, and a trial balance over millions of lines.

    .venv/bin/python bench/ledger.py                     # 20,000 trades, 10,000,000 lines
    .venv/bin/python bench/ledger.py --trades 5000 --lines 1000000

PostgreSQL only (the rules under test are PostgreSQL's triggers): a fresh database
`opssuite_bench_ledger` at postgres://postgres@127.0.0.1:5432, created and dropped here.

1. Posting: `--trades` trade-date journals (buys and sells of the demo universe, 3-4 lines
   each) through `ledger.services.journals_post` in batches of 200 (a tick's worth), every
   rule on: validation, idempotency lookup, period check, hash chain, day and instrument
   balances, and the database's triggers (append-only, same-transaction lines, closed
   period, the deferred balance check at commit). The peer, in the same run: the same
   entries and lines written with raw SQL (COPY, one transaction a batch) into copies of the
   two tables with no triggers, constraints or indexes beyond the primary key. Prints
   journals/s for both and `ratio` = ledger / raw (aim: >= 0.5).
2. Trial balance: `--lines` journal lines made by a fast generator (INSERT ... SELECT
   generate_series, triggers off for the load only), the day balances built from them,
   then `ledger.selectors.trial_balance` timed for one mandate (from the day balances;
   aim: under 1 s) and, bitemporally (`known_at`), from the lines themselves.
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
    batch = 200
    log(f"posting {len(drafts)} journals ({lines_total} lines) with every rule on")
    started = time.perf_counter()
    for start in range(0, len(drafts), batch):
        with transaction.atomic():
            journals_post(drafts[start : start + batch], record_event=False)
    ledger_seconds = time.perf_counter() - started

    # The peer: the same rows, raw SQL, no rules.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE raw_entry (LIKE ledger_journalentry INCLUDING DEFAULTS)")
        cursor.execute("CREATE TABLE raw_line (LIKE ledger_journalline INCLUDING DEFAULTS)")
        cursor.execute("ALTER TABLE raw_entry ADD PRIMARY KEY (id)")
        cursor.execute("ALTER TABLE raw_line ADD PRIMARY KEY (id)")
    entry_cols = (
        "id, journal_id, seq, mandate_id, kind, trade_id, accounting_date, effective_date, "
        "effective_kind, settles_on, recorded_at, description, source_key, payload_hash, actor, "
        "prev_hash, entry_hash"
    )
    line_cols = "id, entry_id, line_no, mandate_id, account_id, currency, side, amount, base_amount, fx_rate"
    mandate_ids = {m.code: m.pk for m in mandates}
    log("writing the same rows with raw SQL (COPY)")
    raw = connection.connection  # psycopg connection
    started = time.perf_counter()
    line_id = 0
    for start in range(0, len(drafts), batch):
        chunk = drafts[start : start + batch]
        with raw.transaction(), raw.cursor() as cur:
            with cur.copy(f"COPY raw_entry ({entry_cols}) FROM STDIN") as copy:
                for i, d in enumerate(chunk, start=start + 1):
                    copy.write_row(
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
            with cur.copy(f"COPY raw_line ({line_cols}) FROM STDIN") as copy:
                for i, d in enumerate(chunk, start=start + 1):
                    for no, ln in enumerate(d.lines, start=1):
                        line_id += 1
                        copy.write_row(
                            (
                                line_id,
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
    raw_seconds = time.perf_counter() - started
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
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # the load only
        cursor.execute(
            "SELECT coalesce(max(seq), 0), coalesce(max(id), 0) FROM ledger_journalentry"
        )
        base_seq, base_id = cursor.fetchone()
        cursor.execute(
            f"""
            INSERT INTO ledger_journalentry (id, journal_id, seq, mandate_id, kind, trade_id,
                accounting_date, effective_date, effective_kind, settles_on, recorded_at,
                description, source_key, payload_hash, actor, prev_hash, entry_hash)
            SELECT {base_id} + g, 'G-' || g, {base_seq} + g,
                   (ARRAY[{mandate_list}])[1 + g %% {len(mandates)}], 'manual', NULL,
                   DATE '2015-01-05' + (g %% 2500), DATE '2015-01-05' + (g %% 2500), 'value',
                   DATE '2015-01-05' + (g %% 2500), now(), 'generated', 'gen:' || g, 'x',
                   'bench', 'x', 'gen' || g
              FROM generate_series(1, %s) AS g
            """,
            [entries_needed],
        )
        cursor.execute(
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
        cursor.execute(
            """
            INSERT INTO ledger_ledgerbalance (mandate_id, account_id, currency, basis, day, debit,
                credit, base_debit, base_credit)
            SELECT l.mandate_id, l.account_id, l.currency, b.basis, e.accounting_date,
                   sum(CASE WHEN side = 'D' THEN amount ELSE 0 END),
                   sum(CASE WHEN side = 'C' THEN amount ELSE 0 END),
                   sum(CASE WHEN side = 'D' THEN base_amount ELSE 0 END),
                   sum(CASE WHEN side = 'C' THEN base_amount ELSE 0 END)
              FROM ledger_journalline l JOIN ledger_journalentry e ON e.id = l.entry_id
             CROSS JOIN (VALUES ('trade'), ('settlement')) AS b(basis)
             WHERE e.kind = 'manual'
             GROUP BY 1, 2, 3, 4, 5
            ON CONFLICT (mandate_id, account_id, currency, basis, day) DO UPDATE SET
                debit = ledger_ledgerbalance.debit + excluded.debit,
                credit = ledger_ledgerbalance.credit + excluded.credit,
                base_debit = ledger_ledgerbalance.base_debit + excluded.base_debit,
                base_credit = ledger_ledgerbalance.base_credit + excluded.base_credit
            """
        )
        cursor.execute("SET session_replication_role = origin")
        cursor.execute("ANALYZE")
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
            "target_ratio": 0.5,
            "pass": raw_seconds / ledger_seconds >= 0.5,
            "verify_ledger_s": round(verify_seconds, 3),
            "verified": verified,
        },
        "trial_balance": {
            "journal_lines": line_count,
            "day_balance_rows": balance_rows,
            "generate_s": round(generate_seconds, 1),
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
