"""Tick benchmark: the tick pipeline at standard scale on SQLite and PostgreSQL.

    python bench/tick.py [--database sqlite|postgres|both] [--ticks N] [--warmup-days D]

Standard scale is 1,000 instruments and 20 mandates (book.universe.SCALES["standard"]).
Each database runs in its own subprocess (settings are read once per process), on a fresh
database: SQLite in a temporary file, PostgreSQL in `opssuite_bench` (created and dropped
here). The child migrates, loads the offline FRED history and the standard universe, runs
the first tick, books each mandate's target portfolio as a lift-out (~8,000 positions: the
simulator's own rebalance never trades at this scale, see `lift_out`), runs the rest of
`--warmup-days` sim days untimed (PostgreSQL is then ANALYZEd, as autovacuum would have
done), and times `--ticks` ticks of `opssuite.pipeline.tick_advance()`, one session by
default (the open, the day's statements and the close included).

The named peer, measured in the same run: after each timed tick, the rows that tick
inserted (every project table) are cloned with fresh keys and written again with a bare
`Model.objects.bulk_create` per table, in one transaction that is rolled back. That is the
floor for writing the same rows through the ORM; the tick should stay within 3x of it.

Prints one JSON object per database on stdout (progress goes to stderr). Figures are
printed, never asserted: benchmarks are not tests, and machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "opssuite_bench"
PG_BENCH_URL = "postgres://postgres@127.0.0.1:5432/{}"
TARGETS = {"p95_ms": 100, "ratio": 3}
# Discretionary orders per mandate per tick (Poisson mean): about 210 executions a tick
# over a session at standard scale (fewer after the open, ~250 by midday).
DEFAULT_ORDERS_PER_MANDATE_TICK = 2.2
# The project's apps: every table they own is watched for rows a tick writes.
PROJECT_APPS = (
    "opssuite",
    "book",
    "simulator",
    "recon",
    "ledger",
    "reporting",
    "risk",
    "dataquality",
    "documents",
)
# Timed besides the simulator step's calls (see `timed_calls`): a few of the services' own
# steps, and the ORM's bulk writes. Inclusive times, reported as they are, summed nowhere.
DETAIL_CALLS = {
    "simulator.services.market.universe_arrays": "detail.market.universe_arrays",
    "simulator.services.activity._load": "detail.activity._load",
    "simulator.services.activity._navs": "detail.activity._navs",
    "simulator.services.activity._orders_create": "detail.activity._orders_create",
    "simulator.services.activity._execute": "detail.activity._execute",
    "book.services.trading._apply_to_holdings": "detail.trades_book._apply_to_holdings",
    "book.services.trading._cash_book": "detail.trades_book._cash_book",
    "book.services.trading.events_record_many": "detail.trades_book.events_record_many",
    "django.db.models.query.QuerySet.bulk_create": "orm.bulk_create",
    "django.db.models.query.QuerySet.bulk_update": "orm.bulk_update",
}
# The simulator's own modules whose calls into book.services are timed as the book's part
# (the clock's are the pipeline's, not the simulator step's).
NOT_SIMULATOR_STEP = ("simulator.services.clock",)
# The tables the simulator and book part writes (the rest of a tick's rows are the ledger's).
SIM_BOOK_TABLES = ("book_", "simulator_")


def log(message: str) -> None:
    print(f"[bench/tick] {message}", file=sys.stderr, flush=True)


# --- parent: one subprocess per database -----------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--ticks", type=int, default=26, help="timed ticks (26 = one session)")
    parser.add_argument(
        "--warmup-days",
        type=int,
        default=2,
        help="untimed sim days first (the lift-out follows the first warm-up tick)",
    )
    parser.add_argument("--seed", type=int, default=20150102)
    parser.add_argument(
        "--orders-per-mandate-tick",
        type=float,
        default=DEFAULT_ORDERS_PER_MANDATE_TICK,
        help="OPSSUITE_ORDERS_PER_MANDATE_TICK for the run",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="after the timed ticks, run --profile-ticks more under --profiler; write "
        "DIR/tick-<database>.pstats (or .html and .txt) and print the hotspots to stderr",
    )
    parser.add_argument("--profile-ticks", type=int, default=26)
    parser.add_argument(
        "--profiler",
        choices=("cprofile", "pyinstrument"),
        default="cprofile",
        help="pyinstrument (not a dependency: pip install it) writes a call tree too",
    )
    parser.add_argument(
        "--no-lift-out",
        dest="lift_out",
        action="store_false",
        help="do not book the mandates' target portfolios after the first tick (positions "
        "then come only from the simulator's own orders: a few hundred a day)",
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="PostgreSQL: do not ANALYZE after the warm-up (as autovacuum would have)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--pg-database",
        default=PG_BENCH_DB,
        help="the PostgreSQL database to create, use and drop (two runs at once need two)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ticks < 1 or args.warmup_days < 0:
        parser.error("--ticks must be at least 1 and --warmup-days not negative")
    if not args.pg_database.isidentifier():
        parser.error("--pg-database must be a plain identifier")
    if args.child:
        return child(args)

    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    status = 0
    for database in databases:
        result = run_database(database, args)
        print(json.dumps(result, indent=2), flush=True)
        if "error" in result:
            status = 1
    return status


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    var_dir = tempfile.mkdtemp(prefix=f"opssuite-bench-{database}-")
    try:
        return _run_database(database, args, var_dir)
    finally:
        if args.keep:
            log(f"{database}: kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def _run_database(database: str, args: argparse.Namespace, var_dir: str) -> dict[str, Any]:
    if database == "sqlite":
        url = f"sqlite:///{Path(var_dir) / 'bench.sqlite3'}"
    else:
        problem = pg_create(args.pg_database)
        if problem:
            log(f"PostgreSQL skipped: {problem}")
            return {"database": "postgres", "skipped": problem}
        url = PG_BENCH_URL.format(args.pg_database)
    env = {
        key: value
        for key, value in os.environ.items()
        # Offline FRED data, embedded mode, and no stray configuration from the shell.
        if key not in {"FRED_API_KEY", "FRED_API_KEY_FILE", "DATABASE_URL_FILE"}
        and not key.startswith("CELERY_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="opssuite.settings",
        DATABASE_URL=url,
        DEBUG="1",
        OPSSUITE_VAR_DIR=var_dir,
        OPSSUITE_ORDERS_PER_MANDATE_TICK=str(args.orders_per_mandate_tick),
        OPSSUITE_EMBEDDED_TICKER="0",
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *child_args(args)]
    command += ["--database", database]
    log(f"{database}: {url}")
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False
        )
    finally:
        if database == "postgres" and not args.keep:
            pg_drop(args.pg_database)
    if done.returncode != 0:
        return {"database": database, "error": f"child exited with {done.returncode}"}
    return json.loads(done.stdout)


def child_args(args: argparse.Namespace) -> list[str]:
    out = ["--ticks", str(args.ticks), "--warmup-days", str(args.warmup_days)]
    out += [
        "--seed",
        str(args.seed),
        "--orders-per-mandate-tick",
        str(args.orders_per_mandate_tick),
    ]
    if not args.lift_out:
        out += ["--no-lift-out"]
    if not args.analyze:
        out += ["--no-analyze"]
    if args.profile:
        out += ["--profile", str(Path(args.profile).resolve())]
        out += ["--profile-ticks", str(args.profile_ticks), "--profiler", args.profiler]
    return out


def pg_create(name: str) -> str | None:
    """A fresh database `name`; the reason it cannot be had, if it cannot."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        return f"cannot create {name} as postgres at 127.0.0.1:5432: {reason}"
    return None


def pg_drop(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except psycopg.Error as exc:
        log(f"could not drop {name}: {exc}")


# --- child: one database ------------------------------------------------------------------


def child(args: argparse.Namespace) -> int:
    import datetime as dt

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from book.models import Instrument, Mandate, Position
    from opssuite.pipeline import tick_advance
    from simulator.calendar import ticks_per_day
    from simulator.fred import fred_load
    from simulator.models import Tick
    from simulator.services import clock_get, sim_universe_load
    from simulator.services.faults import scenarios_ensure

    # DEBUG=1 only spares the child a SECRET_KEY; the debug cursor (it records every query,
    # and on SQLite quotes every parameter of every bulk insert) is not what production
    # runs, so it is off while ticks run.
    settings.DEBUG = False
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    fred = fred_load()
    scenarios_ensure()
    loaded = sim_universe_load(
        seed=args.seed, scale="standard", start_date=dt.date(2015, 1, 2), actor="bench"
    )
    log(
        f"{args.database}: migrated, {fred.total} FRED observations ({fred.source}), "
        f"{loaded.instruments_created} instruments, {loaded.mandates_created} mandates "
        f"in {time.perf_counter() - started:.1f}s"
    )

    timer = CallTimer()
    timer.install({**timed_calls(), **DETAIL_CALLS})
    cpu = StepCpuTimer()
    cpu.install("simulator")
    counter = QueryCounter()
    per_day = ticks_per_day(clock_get().tick_minutes)
    warmup = args.warmup_days * per_day
    started = time.perf_counter()
    lifted = 0
    for number in range(1, warmup + 1):
        ran = tick_advance(worker="bench")
        if ran.outcome != "ran":
            raise SystemExit(f"warm-up tick {ran.number}: {ran.outcome} {ran.detail}")
        if number == 1 and args.lift_out:
            t0 = time.perf_counter()
            lifted = lift_out(seed=args.seed, tick=ran.number)
            log(
                f"{args.database}: lift-out booked {lifted} trades, "
                f"{Position.objects.count()} positions, {time.perf_counter() - t0:.1f}s"
            )
        if number % per_day == 0 or number == 2:
            log(
                f"{args.database}: warm-up tick {number}/{warmup}, "
                f"{Position.objects.count()} positions, {time.perf_counter() - started:.1f}s"
            )

    analyzed = False
    if connection.vendor == "postgresql" and args.analyze:
        # Production PostgreSQL runs autovacuum, which analyzes tables as they grow; a
        # server with it off (as some test servers are) plans on no statistics at all.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        analyzed = True

    tables = WatchedTables(PROJECT_APPS)
    samples: list[dict[str, Any]] = []
    for _ in range(args.ticks):
        marks = tables.marks()
        timer.reset()
        cpu.reset()
        with connection.execute_wrapper(counter):
            counter.reset()
            t0 = time.perf_counter()
            ran = tick_advance(worker="bench")
            tick_s = time.perf_counter() - t0
        calls = dict(timer.seconds)
        if ran.outcome != "ran":
            raise SystemExit(f"tick {ran.number}: {ran.outcome} {ran.detail}")
        written = tables.written_since(marks)
        steps = Tick.objects.values_list("steps", flat=True).get(number=ran.number) or []
        baseline = bare_bulk_create(tables, marks)
        baseline_s = sum(baseline.values())
        samples.append(
            {
                "tick": ran.number,
                "tick_s": tick_s,
                "baseline_s": baseline_s,
                "baseline_by_table": baseline,
                "written": {t: n for t, n in written.items() if n},
                "calls": calls,
                "steps": {step["step"]: step["seconds"] for step in steps},
                "sim_book_cpu_s": cpu.seconds,
                "queries": counter.snapshot(),
            }
        )
        log(
            f"{args.database}: tick {ran.number} {tick_s * 1000:.1f} ms "
            f"(simulator+book {samples[-1]['steps'].get('simulator', 0.0) * 1000:.1f} ms), "
            f"{sum(written.values())} rows, bare bulk_create {baseline_s * 1000:.1f} ms, "
            f"{counter.count} queries"
        )

    result = summarise(
        args.database,
        samples,
        instruments=Instrument.objects.filter(active=True).count(),
        mandates=Mandate.objects.filter(active=True).count(),
        positions=Position.objects.count(),
        positions_open=Position.objects.exclude(quantity=0).count(),
        warmup_ticks=warmup,
        lift_out_trades=lifted,
        analyzed=analyzed,
        orders_rate=settings.OPSSUITE_ORDERS_PER_MANDATE_TICK,
    )
    if args.profile:
        result["profile"] = profile_ticks(
            args.database, args.profile, args.profile_ticks, args.profiler
        )
    print(json.dumps(result))
    return 0


def lift_out(*, seed: int, tick: int) -> int:
    """Book every mandate's target portfolio at tick `tick`'s primary prices, settling the
    same day: a lift-out of existing holdings, as when a mandate moves to a new manager.

    Why: at standard scale the simulator's rebalance never trades (each of a mandate's few
    hundred target lines weighs 0.1-0.5% of NAV, under the 2% drift band), so without this
    a mandate holds only what its discretionary orders bought (~50 lines a day at 4 orders
    a tick), not the ~8,000 positions standard scale stands for. Booked through `book.services.trades_book`,
    like every trade; sized by the simulator's own targets, NAVs and unit values.
    """
    from decimal import ROUND_DOWN, Decimal

    from book.models import Broker, Trader, TradeSource
    from book.services import TradeRequest, trades_book
    from simulator import activity
    from simulator.models import FxQuote, Price, Tick, Vendor
    from simulator.services import activity as sim_activity

    prices = dict(
        Price.objects.filter(tick=tick, vendor=Vendor.PRIMARY).values_list("instrument_id", "price")
    )
    rates = dict(
        FxQuote.objects.filter(tick=tick, source=Vendor.PRIMARY).values_list("pair_id", "rate")
    )
    floats = {i: float(p) for i, p in {**prices, **rates}.items()}
    book = sim_activity._load()
    navs, _ = sim_activity._navs(book, floats)
    values = sim_activity._unit_values(book, floats)
    targets = sim_activity._targets(seed, book)
    trade_time = Tick.objects.get(number=tick).sim_time
    broker = Broker.objects.order_by("code").first()
    trader = Trader.objects.order_by("code").first()
    requests = []
    for code, mandate in book.mandates.items():
        for instrument_id, weight in sorted(targets[code].items()):
            unit, price = values.get(instrument_id), prices.get(instrument_id)
            if not unit or price is None or unit != unit:  # unpriced, or NaN FX
                continue
            lot = activity.LOT[book.instruments[instrument_id].asset_class]
            units = Decimal(str(weight * navs[code] / unit))
            quantity = (units / lot).to_integral_value(rounding=ROUND_DOWN) * lot
            if quantity <= 0:
                continue
            requests.append(
                TradeRequest(
                    mandate_id=mandate.pk,
                    instrument_id=instrument_id,
                    side="buy",
                    quantity=quantity,
                    price=price,
                    trade_time=trade_time,
                    broker_id=broker.pk,
                    trader_id=trader.pk,
                    source=TradeSource.IMPORT,
                    settlement_date=trade_time.date(),
                    tick=tick,
                    payload={"lift_out": True},
                )
            )
    for start in range(0, len(requests), 1000):
        trades_book(requests[start : start + 1000], actor="bench")
    return len(requests)


def timed_calls() -> dict[str, str]:
    """What to time inside a tick: each call the simulator step makes (market, activity,
    confirmations, ...), and each call the simulator's services make into book.services
    (labelled `book.<name>`), found by looking, so new steps are timed too."""
    import importlib
    import inspect
    import pkgutil

    import simulator.services

    targets = {}
    pipeline = importlib.import_module("simulator.pipeline")
    for name, obj in vars(pipeline).items():
        if inspect.isfunction(obj) and obj.__module__.startswith("simulator.services"):
            targets[f"simulator.pipeline.{name}"] = name
    for info in pkgutil.iter_modules(simulator.services.__path__):
        module = importlib.import_module(f"simulator.services.{info.name}")
        if module.__name__ in NOT_SIMULATOR_STEP:
            continue
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__.startswith("book.services"):
                targets[f"{module.__name__}.{name}"] = f"book.{name}"
    return targets


class CallTimer:
    """Inclusive wall time of named module-level functions, per tick (wrapped in place)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def reset(self) -> None:
        self.seconds = {}

    def install(self, targets: dict[str, str]) -> None:
        """Wrap each `module.function` or `module.Class.method` of `targets` in a timer."""
        import functools
        import importlib

        for dotted, label in targets.items():
            parts = dotted.split(".")
            owner: Any = None
            for cut in range(len(parts) - 1, 0, -1):
                try:
                    owner = importlib.import_module(".".join(parts[:cut]))
                except ModuleNotFoundError:
                    continue
                for name in parts[cut:-1]:
                    owner = getattr(owner, name, None)
                break
            original = getattr(owner, parts[-1], None) if owner is not None else None
            if original is None:
                log(f"not timed (not found): {dotted}")
                continue

            def timed(*a: Any, _f: Any = original, _label: str = label, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return _f(*a, **kw)
                finally:
                    self.seconds[_label] = self.seconds.get(_label, 0.0) + (
                        time.perf_counter() - t0
                    )

            setattr(owner, parts[-1], functools.wraps(original)(timed))


class StepCpuTimer:
    """CPU time of this process in one pipeline step (`<app>.pipeline.tick_step`): on a
    shared machine it moves less with the load than wall time does (the database's own
    time is not in it)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def reset(self) -> None:
        self.seconds = 0.0

    def install(self, app: str) -> None:
        import functools
        import importlib

        module = importlib.import_module(f"{app}.pipeline")
        original = module.tick_step

        @functools.wraps(original)
        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.process_time()
            try:
                return original(*a, **kw)
            finally:
                self.seconds += time.process_time() - t0

        module.tick_step = timed


class QueryCounter:
    """An execute_wrapper: each statement's text, time and row count, kept as is while the
    tick runs and sorted out afterwards (by kind and table) so the tick pays little."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.seen: list[tuple[str, float, int]] = []

    @property
    def count(self) -> int:
        return len(self.seen)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - t0
            rowcount = getattr(context.get("cursor"), "rowcount", -1)
            self.seen.append((sql, elapsed, rowcount if isinstance(rowcount, int) else -1))

    def snapshot(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        updated: dict[str, int] = {}
        statements: dict[str, list[float]] = {}
        for sql, elapsed, rowcount in self.seen:
            kind, table = _statement_shape(sql)
            by_kind[kind] = by_kind.get(kind, 0) + 1
            if kind == "UPDATE" and rowcount > 0:
                updated[table] = updated.get(table, 0) + rowcount
            shape = statements.setdefault(f"{kind} {table}".strip(), [0, 0.0])
            shape[0] += 1
            shape[1] += elapsed
        return {
            "count": len(self.seen),
            "db_s": sum(elapsed for _, elapsed, _ in self.seen),
            "by_kind": by_kind,
            "updated": updated,
            "statements": statements,
            "slowest": [
                {"ms": round(elapsed * 1000, 2), "rows": rowcount, "sql": sql[:240]}
                for sql, elapsed, rowcount in sorted(self.seen, key=lambda q: -q[1])[:5]
            ],
        }


def _statement_shape(sql: str) -> tuple[str, str]:
    """("SELECT", "book_taxlot"): the statement's kind and the first table it names."""
    words = sql.lstrip().split(None, 1)
    kind = words[0].upper() if words else "?"
    marker = {"SELECT": " FROM ", "INSERT": " INTO ", "DELETE": " FROM "}.get(kind)
    rest = words[1] if len(words) > 1 else ""
    if marker:
        at = sql.upper().find(marker)
        rest = sql[at + len(marker) :] if at >= 0 else ""
    elif kind != "UPDATE":
        return kind, ""
    table = rest.lstrip().split(None, 1)[0] if rest.strip() else ""
    return kind, table.strip('"`(').split('"')[0]


class WatchedTables:
    """Every concrete table of the project's apps, and how to find the rows a tick added."""

    def __init__(self, app_labels: tuple[str, ...]) -> None:
        from django.apps import apps
        from django.db import models

        self.models = []
        for label in app_labels:
            try:
                config = apps.get_app_config(label)
            except LookupError:
                continue
            for model in config.get_models():
                meta = model._meta
                if meta.proxy or not meta.managed:
                    continue
                if isinstance(meta.pk, models.IntegerField):  # the auto fields are too
                    self.models.append(model)

    def marks(self) -> dict[type, int]:
        from django.db.models import Max

        return {
            model: model._base_manager.aggregate(top=Max("pk"))["top"] or 0 for model in self.models
        }

    def new_rows(self, model: type, mark: int) -> Any:
        return model._base_manager.filter(pk__gt=mark).order_by("pk")

    def written_since(self, marks: dict[type, int]) -> dict[str, int]:
        return {
            model._meta.db_table: self.new_rows(model, mark).count()
            for model, mark in marks.items()
        }


# --- the peer: a bare bulk_create of the same rows ------------------------------------------

KEY_OFFSET = 1_000_000_000  # integer keys of clones: far above anything a bench writes
DATE_OFFSET_DAYS = 365 * 300  # date keys of clones: centuries after any sim date


def bare_bulk_create(tables: WatchedTables, marks: dict[type, int]) -> dict[str, float]:
    """Seconds, by table, to write the rows the last tick inserted again, with one bare
    `bulk_create` per table (parents first), in a transaction that is rolled back."""
    from django.db import transaction

    rows = {model: list(tables.new_rows(model, mark)) for model, mark in marks.items()}
    rows = {model: found for model, found in rows.items() if found}
    order = _parents_first(list(rows))
    with transaction.atomic():
        # Built before the clock starts: unsaved copies with fresh unique keys, whose
        # foreign keys to rows of this tick point at the copies (set when those are saved).
        clones, conflicting = _clones(order, rows)
        for model, pks in conflicting.items():
            # A row unique only through foreign keys to rows it does not own (a position
            # per mandate and instrument): make room by removing the original, untimed.
            model._base_manager.filter(pk__in=pks)._raw_delete(model._base_manager.db)
        seconds = {}
        for model in order:
            t0 = time.perf_counter()
            model._base_manager.bulk_create(clones[model])
            seconds[model._meta.db_table] = time.perf_counter() - t0
        transaction.set_rollback(True)
    return seconds


def _parents_first(models: list[type]) -> list[type]:
    remaining = set(models)
    ordered: list[type] = []
    while remaining:
        ready = sorted(
            (
                m
                for m in remaining
                if not any(
                    f.related_model in remaining and f.related_model is not m
                    for f in m._meta.concrete_fields
                    if f.is_relation
                )
            ),
            key=lambda m: m._meta.db_table,
        )
        if not ready:  # a cycle: take the rest in any order (foreign keys stay as they are)
            ready = sorted(remaining, key=lambda m: m._meta.db_table)
        ordered += ready
        remaining -= set(ready)
    return ordered


def _unique_groups(model: type) -> list[list[Any]]:
    from django.db import models

    meta = model._meta
    groups = [[f] for f in meta.concrete_fields if f.unique and not f.primary_key]
    for together in meta.unique_together:
        groups.append([meta.get_field(name) for name in together])
    for constraint in meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            groups.append([meta.get_field(name) for name in constraint.fields])
    return groups


def _shifted(field: Any, value: Any) -> tuple[bool, Any]:
    """A value of `field` that no original row has (if the field's type allows one)."""
    import datetime as dt

    from django.db import models

    if value is None:
        return True, None  # NULLs never collide
    if isinstance(field, models.DateTimeField):
        return True, value + dt.timedelta(days=DATE_OFFSET_DAYS)
    if isinstance(field, models.DateField):
        return True, value + dt.timedelta(days=DATE_OFFSET_DAYS)
    if isinstance(field, models.IntegerField):  # BigInteger, PositiveInteger...
        return True, value + KEY_OFFSET
    if isinstance(field, models.CharField):
        swapped = value.swapcase()
        if swapped != value:
            return True, swapped
        if field.max_length and len(value) < field.max_length:
            return True, "~" + value
    return False, value


def _clones(order: list[type], rows: dict[type, list[Any]]) -> tuple[dict, dict]:
    clones: dict[type, list[Any]] = {}
    by_pk: dict[type, dict[Any, Any]] = {}
    conflicting: dict[type, list[Any]] = {}
    for model in order:
        meta = model._meta
        groups = _unique_groups(model)
        fks = [
            f
            for f in meta.concrete_fields
            if f.is_relation and f.related_model in by_pk and f.target_field.primary_key
        ]
        made, originals = [], {}
        for row in rows[model]:
            clone = model()
            for f in meta.concrete_fields:
                setattr(clone, f.attname, getattr(row, f.attname))
            remapped = set()
            for f in fks:
                parent = by_pk[f.related_model].get(getattr(row, f.attname))
                if parent is not None:
                    setattr(clone, f.name, parent)  # its id is taken when the parent is saved
                    remapped.add(f)
            if meta.pk.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField"):
                clone.pk = None
            else:
                clone.pk = _shifted(meta.pk, row.pk)[1]
            for group in groups:
                if any(f in remapped for f in group):
                    continue
                if any(getattr(row, f.attname) is None for f in group):
                    continue  # a NULL in a unique group never collides (a ledger reversal_of)
                for f in sorted(group, key=lambda f: f.is_relation):
                    if f.is_relation:
                        conflicting.setdefault(model, []).append(row.pk)
                        break
                    ok, value = _shifted(f, getattr(row, f.attname))
                    if ok:
                        setattr(clone, f.attname, value)
                        remapped.add(f)
                        break
            made.append(clone)
            originals[row.pk] = clone
        clones[model] = made
        by_pk[model] = originals
    return clones, conflicting


# --- figures -------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def _ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "median": round(_pct(ms, 50), 2),
        "p95": round(_pct(ms, 95), 2),
        "max": round(max(ms), 2),
        "mean": round(sum(ms) / len(ms), 2),
    }


def _top_statements(samples: list[dict[str, Any]], top: int = 15) -> dict[str, Any]:
    """The statements that took the most database time, per tick (mean), by kind and table."""
    n = len(samples)
    total: dict[str, list[float]] = {}
    for s in samples:
        for shape, (count, seconds) in s["queries"]["statements"].items():
            entry = total.setdefault(shape, [0, 0.0])
            entry[0] += count
            entry[1] += seconds
    ranked = sorted(total.items(), key=lambda kv: -kv[1][1])[:top]
    return {
        shape: {"count": round(count / n, 1), "ms": round(1000 * seconds / n, 2)}
        for shape, (count, seconds) in ranked
    }


def summarise(database: str, samples: list[dict[str, Any]], **facts: Any) -> dict[str, Any]:
    n = len(samples)
    tick = [s["tick_s"] for s in samples]
    bare = [s["baseline_s"] for s in samples]
    tables = sorted({t for s in samples for t in s["written"]})
    by_table = {t: round(sum(s["written"].get(t, 0) for s in samples) / n, 1) for t in tables}
    by_table = dict(sorted(by_table.items(), key=lambda kv: -kv[1]))
    updated_tables = sorted({t for s in samples for t in s["queries"]["updated"]})
    updated = {
        t: round(sum(s["queries"]["updated"].get(t, 0) for s in samples) / n, 1)
        for t in updated_tables
    }
    labels = sorted({label for s in samples for label in s["calls"]})
    calls = {label: _ms([s["calls"].get(label, 0.0) for s in samples]) for label in labels}
    book = [sum(v for k, v in s["calls"].items() if k.startswith("book.")) for s in samples]
    step_names = list(dict.fromkeys(name for s in samples for name in s["steps"]))
    parts: dict[str, Any] = {}
    for name in step_names:
        parts[f"{name}_step"] = _ms([s["steps"].get(name, 0.0) for s in samples])
        if name == "simulator":
            parts["simulator_step_own"] = _ms(
                [s["steps"].get(name, 0.0) - b for s, b in zip(samples, book, strict=True)]
            )
            parts["simulator_step_in_book_services"] = _ms(book)
    parts["pipeline_and_commit"] = _ms(
        [t - sum(s["steps"].values()) for s, t in zip(samples, tick, strict=True)]
    )
    tick_ms, bare_ms = _ms(tick), _ms(bare)
    ratio_median = round(tick_ms["median"] / bare_ms["median"], 2)
    ratio_p95 = round(tick_ms["p95"] / bare_ms["p95"], 2)
    # The target is the simulator and book part: the simulator step (the book has no
    # step of its own: the simulator books through book.services), against the bare insert
    # of the rows that part writes (the book's and the simulator's tables).
    sim_book_ms = _ms([s["steps"].get("simulator", 0.0) for s in samples])
    sim_book_cpu_ms = _ms([s["sim_book_cpu_s"] for s in samples])
    sim_book_bare_ms = _ms(
        [
            sum(v for t, v in s["baseline_by_table"].items() if t.startswith(SIM_BOOK_TABLES))
            for s in samples
        ]
    )
    slowest = max(samples, key=lambda s: s["tick_s"])
    kinds = sorted({k for s in samples for k in s["queries"]["by_kind"]})
    return {
        "database": database,
        "instruments": facts["instruments"],
        "mandates": facts["mandates"],
        "positions": facts["positions"],
        "positions_open": facts["positions_open"],
        "orders_per_mandate_tick": facts["orders_rate"],
        "warmup_ticks": facts["warmup_ticks"],
        "lift_out_trades": facts["lift_out_trades"],
        "analyzed_after_warmup": facts["analyzed"],
        "ticks": n,
        "first_tick": samples[0]["tick"],
        "executions_per_tick": round(by_table.get("book_execution", 0.0), 1),
        "trades_per_tick": round(by_table.get("book_trade", 0.0), 1),
        "rows_written_per_tick": {
            "mean": round(sum(sum(s["written"].values()) for s in samples) / n, 1),
            "by_table": by_table,
        },
        "rows_updated_per_tick": {"mean": round(sum(updated.values()), 1), "by_table": updated},
        "queries_per_tick": {
            "mean": round(sum(s["queries"]["count"] for s in samples) / n, 1),
            "by_kind": {
                k: round(sum(s["queries"]["by_kind"].get(k, 0) for s in samples) / n, 1)
                for k in kinds
            },
            "db_ms": _ms([s["queries"]["db_s"] for s in samples]),
            "top_statements": _top_statements(samples),
            "slowest": sorted(
                ({"tick": s["tick"], **q} for s in samples for q in s["queries"]["slowest"]),
                key=lambda q: -q["ms"],
            )[:8],
        },
        "tick_ms": tick_ms,
        "tick_ms_parts": parts,
        "tick_ms_by_call": calls,
        "slowest_tick": {
            "tick": slowest["tick"],
            "ms": round(slowest["tick_s"] * 1000, 1),
            "rows_written": sum(slowest["written"].values()),
            "queries": slowest["queries"]["count"],
            "calls_ms": {k: round(v * 1000, 1) for k, v in sorted(slowest["calls"].items())},
            "statements": {
                shape: {"count": count, "ms": round(seconds * 1000, 2)}
                for shape, (count, seconds) in sorted(
                    slowest["queries"]["statements"].items(), key=lambda kv: -kv[1][1]
                )[:12]
            },
        },
        "baseline_bulk_create_ms": bare_ms,
        "baseline_bulk_create_ms_by_table": {
            t: round(1000 * sum(s["baseline_by_table"].get(t, 0.0) for s in samples) / n, 2)
            for t in sorted(
                {t for s in samples for t in s["baseline_by_table"]},
                key=lambda t: -sum(s["baseline_by_table"].get(t, 0.0) for s in samples),
            )
        },
        "ratio_median": ratio_median,
        "ratio_p95": ratio_p95,
        "sim_book": {
            "ms": sim_book_ms,
            "cpu_ms": sim_book_cpu_ms,
            "baseline_bulk_create_ms": sim_book_bare_ms,
            "ratio_median": round(sim_book_ms["median"] / sim_book_bare_ms["median"], 2),
            "ratio_p95": round(sim_book_ms["p95"] / sim_book_bare_ms["p95"], 2),
            "p95_under_target": sim_book_ms["p95"] < TARGETS["p95_ms"],
        },
        "targets": TARGETS,
        "pass": {
            "p95_ms": tick_ms["p95"] < TARGETS["p95_ms"],
            "ratio": ratio_p95 <= TARGETS["ratio"] and ratio_median <= TARGETS["ratio"],
        },
        "per_tick": [
            {
                "tick": s["tick"],
                "ms": round(s["tick_s"] * 1000, 1),
                "sim_book_ms": round(s["steps"].get("simulator", 0.0) * 1000, 1),
                "bare_ms": round(s["baseline_s"] * 1000, 1),
                "rows": sum(s["written"].values()),
                "executions": s["written"].get("book_execution", 0),
                "queries": s["queries"]["count"],
            }
            for s in samples
        ],
    }


def profile_ticks(database: str, out_dir: str, ticks: int, profiler: str) -> dict[str, Any]:
    """Run `ticks` more ticks under a profiler (after the timed ones: it slows them down),
    write what it found to `out_dir`, and print the hotspots to stderr."""
    from opssuite.pipeline import tick_advance

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if profiler == "pyinstrument":
        from pyinstrument import Profiler

        session = Profiler(interval=0.0005)
        session.start()
        for _ in range(ticks):
            tick_advance(worker="bench")
        session.stop()
        elapsed = time.perf_counter() - t0
        path = out / f"tick-{database}.html"
        path.write_text(session.output_html())
        text = session.output_text(unicode=False, color=False, show_all=False)
        (out / f"tick-{database}.txt").write_text(text)
        print(text, file=sys.stderr)
    else:
        import cProfile
        import io
        import pstats

        session = cProfile.Profile()
        session.enable()
        for _ in range(ticks):
            tick_advance(worker="bench")
        session.disable()
        elapsed = time.perf_counter() - t0
        path = out / f"tick-{database}.pstats"
        session.dump_stats(str(path))
        text = io.StringIO()
        stats = pstats.Stats(session, stream=text).strip_dirs()
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
        print(text.getvalue(), file=sys.stderr)
    return {
        "profiler": profiler,
        "output": str(path),
        "ticks": ticks,
        "ms_per_tick_profiled": round(elapsed * 1000 / ticks, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
