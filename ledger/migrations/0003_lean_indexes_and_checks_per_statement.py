"""Leaner journal tables, and the database's checks once per statement instead of per row.

Measured on the posting benchmark (bench/ledger.py): besides the rows themselves, a
posting paid for the LIKE-only twin indexes PostgreSQL gets for every unique or indexed
CharField (journal id, source key, hash, trade id: nothing queries them with LIKE),
single-column indexes that composite ones already cover, three foreign-key checks per
line at commit (entry, mandate, account) and a deferred balance check of two queries per
entry. Here:

- the indexes: unique journal id and source key and the trade-id index move to Meta (one
  index each); accounting date and recorded time lose theirs (every read is per mandate,
  through (mandate, accounting_date), or by seq); the hash keeps none (its uniqueness was
  never the guarantee: the chain is, and verify_ledger rechecks it); the entries' mandate
  index is covered by (mandate, accounting_date), the lines' entry index by (entry,
  line_no), their mandate and account ones by (mandate, account, currency); the lines'
  instrument index becomes partial (most lines name none);
- the lines' entry, mandate and account foreign keys give way to one statement trigger
  over the inserted lines (transition table), which checks more than they did: the entry
  exists and was inserted by this transaction (0002's rule), the line's mandate is its
  entry's, the account is in the chart. Entries already refuse DELETE and UPDATE; the
  chart now refuses DELETE and a change of code, so nothing a line refers to can go;
- the balance check (an entry has two lines or more and balances per currency and in
  base) runs as one query over every entry the transaction wrote or added lines to.
  PostgreSQL constraint triggers are row triggers only, so each statement that inserts
  entries or lines adds one row to `ledger_pendingcheck` naming those entries, a deferred
  constraint trigger on that row runs the check at commit over the transaction's rows,
  and a successful check deletes them, so the transaction's other events find their row
  gone and return. Only a trigger may delete or change those rows (pg_trigger_depth),
  and TRUNCATE of the table is refused, so a session cannot make a check look done;
  inserting a row only asks for one more check;
- the closed-period rule reads the closed periods once per statement over the inserted
  entries instead of once per entry; a BEFORE ROW trigger still stamps each entry with
  its transaction;
- the balance tables lose the single-column indexes their unique constraints cover, and
  keep room on each page (fillfactor 70) so a posting's updates of them stay HOT.
SQLite rebuilds the altered tables, which drops their UPDATE triggers: they are created
again at the end.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

PG_FORWARD = r"""
-- One row per statement that wrote entries or lines, naming the entries it wrote or
-- added lines to: its deferred event checks them.
CREATE TABLE ledger_pendingcheck (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid bigint NOT NULL DEFAULT txid_current(),
    entry_ids bigint[] NOT NULL
);
CREATE INDEX ledger_pendingcheck_txid ON ledger_pendingcheck (txid);

-- Every entry a statement of the current transaction wrote or added lines to: two lines
-- or more, balanced per currency and in base currency. Raises on the first that is not.
-- enable_seqscan off: the lines are read through their (entry, line_no) index whatever the
-- planner thinks of the table's size - a sequential scan makes every commit O(ledger).
CREATE OR REPLACE FUNCTION ledger_transaction_balanced() RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    ids bigint[];
    bad record;
BEGIN
    ids := ARRAY(SELECT DISTINCT unnest(p.entry_ids) FROM ledger_pendingcheck p
                  WHERE p.txid = txid_current());
    SELECT e.journal_id, coalesce(t.n, 0) AS n, coalesce(t.base_diff, 0) AS base_diff,
           t.bad_currency
      INTO bad
      FROM ledger_journalentry e
      LEFT JOIN (
            SELECT c.entry_id, sum(c.n) AS n, sum(c.base_diff) AS base_diff,
                   min(c.currency) FILTER (WHERE c.diff <> 0) AS bad_currency
              FROM (SELECT l.entry_id, l.currency, count(*) AS n,
                           sum(CASE WHEN l.side = 'D' THEN l.amount ELSE -l.amount END) AS diff,
                           sum(CASE WHEN l.side = 'D' THEN l.base_amount
                                    ELSE -l.base_amount END) AS base_diff
                      FROM ledger_journalline l
                     WHERE l.entry_id = ANY (ids)
                     GROUP BY l.entry_id, l.currency) c
             GROUP BY c.entry_id
      ) t ON t.entry_id = e.id
     WHERE e.id = ANY (ids)
       AND (coalesce(t.n, 0) < 2 OR coalesce(t.base_diff, 0) <> 0
            OR t.bad_currency IS NOT NULL)
     ORDER BY e.id
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF bad.n < 2 THEN
        RAISE EXCEPTION 'ledger: entry % has % line(s); an entry needs two or more',
            bad.journal_id, bad.n USING ERRCODE = 'check_violation';
    END IF;
    IF bad.base_diff <> 0 THEN
        RAISE EXCEPTION 'ledger: entry % does not balance in base currency (off by %)',
            bad.journal_id, bad.base_diff USING ERRCODE = 'check_violation';
    END IF;
    RAISE EXCEPTION 'ledger: entry % does not balance in %', bad.journal_id, bad.bad_currency
        USING ERRCODE = 'check_violation';
END $$;

CREATE OR REPLACE FUNCTION ledger_pendingcheck_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'ledger: only the balance check clears a pending check (% refused)',
            TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_pendingcheck_guard BEFORE UPDATE OR DELETE ON ledger_pendingcheck
    FOR EACH ROW EXECUTE FUNCTION ledger_pendingcheck_guard();
CREATE TRIGGER ledger_pendingcheck_no_truncate BEFORE TRUNCATE ON ledger_pendingcheck
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- At commit: the first pending event of the transaction checks all its entries and
-- clears the transaction's rows; the others find their row gone.
CREATE OR REPLACE FUNCTION ledger_pending_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_pendingcheck WHERE id = NEW.id) THEN
        RETURN NULL;
    END IF;
    PERFORM ledger_transaction_balanced();
    DELETE FROM ledger_pendingcheck WHERE txid = txid_current() OR id = NEW.id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced AFTER INSERT ON ledger_pendingcheck
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_pending_balanced();

DROP TRIGGER ledger_entry_balanced ON ledger_journalentry;
DROP FUNCTION ledger_entry_balanced();

-- Each entry knows its transaction (BEFORE ROW, no query).
CREATE OR REPLACE FUNCTION ledger_entry_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.posted_txid := txid_current();
    RETURN NEW;
END $$;
DROP TRIGGER ledger_entry_open_period ON ledger_journalentry;
DROP FUNCTION ledger_entry_open_period();
CREATE TRIGGER ledger_entry_stamp BEFORE INSERT ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_stamp();

-- Per statement of entries: nothing dated inside a closed period; a check at commit.
CREATE OR REPLACE FUNCTION ledger_entries_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.journal_id, n.accounting_date, c.through INTO bad
      FROM new_entries n
      JOIN (SELECT p.mandate_id, max(p.through) AS through FROM ledger_periodclose p
             GROUP BY p.mandate_id) c ON c.mandate_id IS NULL OR c.mandate_id = n.mandate_id
     WHERE n.accounting_date <= c.through
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: % is dated % but its period is closed through %',
            bad.journal_id, bad.accounting_date, bad.through
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    INSERT INTO ledger_pendingcheck (entry_ids)
    SELECT array_agg(id) FROM new_entries HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_inserted AFTER INSERT ON ledger_journalentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_inserted();

-- Per statement of lines: each joins an entry of its own transaction (a posted entry is
-- complete), of the same mandate, on an account of the chart; a check at commit.
CREATE OR REPLACE FUNCTION ledger_lines_same_transaction() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    bad record;
    unknown text;
BEGIN
    -- Per entry named, not per line, and one index lookup each (LATERAL): the planner
    -- knows nothing of a transition table's size.
    SELECT n.entry_id, n.mandates, e.id AS found, e.journal_id, e.posted_txid,
           e.mandate_id AS entry_mandate
      INTO bad
      FROM (SELECT entry_id, array_agg(DISTINCT mandate_id) AS mandates
              FROM new_lines GROUP BY entry_id) n
      LEFT JOIN LATERAL (SELECT x.id, x.journal_id, x.posted_txid, x.mandate_id
                           FROM ledger_journalentry x WHERE x.id = n.entry_id
                          LIMIT 1) e ON true  -- LIMIT: not flattened into a merge join
     WHERE e.id IS NULL OR e.posted_txid IS DISTINCT FROM txid_current()
        OR n.mandates <> ARRAY[e.mandate_id]
     LIMIT 1;
    IF FOUND THEN
        IF bad.found IS NULL THEN
            RAISE EXCEPTION 'ledger: no journal entry %', bad.entry_id
                USING ERRCODE = 'foreign_key_violation';
        ELSIF bad.posted_txid IS DISTINCT FROM txid_current() THEN
            RAISE EXCEPTION 'ledger: entry % is already posted; lines cannot be added to it',
                bad.journal_id USING ERRCODE = 'integrity_constraint_violation';
        ELSE
            RAISE EXCEPTION 'ledger: lines of entry % name mandate(s) %, the entry mandate %',
                bad.journal_id, bad.mandates, bad.entry_mandate
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    SELECT l.account_id INTO unknown
      FROM (SELECT DISTINCT account_id FROM new_lines) l
     WHERE NOT EXISTS (SELECT 1 FROM ledger_account a WHERE a.code = l.account_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: account % is not in the chart', unknown
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    ids := ARRAY(SELECT DISTINCT entry_id FROM new_lines);
    IF cardinality(ids) > 0 THEN
        INSERT INTO ledger_pendingcheck (entry_ids) VALUES (ids);
    END IF;
    RETURN NULL;
END $$;

-- The chart: accounts are never deleted nor renumbered (lines name them by code).
CREATE OR REPLACE FUNCTION ledger_account_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.code IS DISTINCT FROM OLD.code THEN
        RAISE EXCEPTION 'ledger: account % is part of the chart (% refused)', OLD.code, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_account_kept BEFORE UPDATE OR DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_kept();

-- Balances are rewritten by every posting: room on each page for the new row version
-- keeps those updates HOT (no index entries written).
ALTER TABLE ledger_ledgerbalance SET (fillfactor = 70);
ALTER TABLE ledger_instrumentbalance SET (fillfactor = 70);
"""

PG_REVERSE = r"""
ALTER TABLE ledger_ledgerbalance RESET (fillfactor);
ALTER TABLE ledger_instrumentbalance RESET (fillfactor);
DROP TRIGGER IF EXISTS ledger_account_kept ON ledger_account;
DROP FUNCTION IF EXISTS ledger_account_kept();
DROP TRIGGER IF EXISTS ledger_entries_inserted ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_entries_inserted();
DROP TRIGGER IF EXISTS ledger_entry_stamp ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_entry_stamp();
DROP TABLE IF EXISTS ledger_pendingcheck;
DROP FUNCTION IF EXISTS ledger_pending_balanced();
DROP FUNCTION IF EXISTS ledger_pendingcheck_guard();
DROP FUNCTION IF EXISTS ledger_transaction_balanced();
"""

PG_REVERSE_TRIGGERS = r"""
CREATE TRIGGER ledger_entry_open_period BEFORE INSERT ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_open_period();
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_journalentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
"""

SQLITE_TABLES = ("ledger_journalentry", "ledger_journalline")


def checks_per_statement(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, None)
    elif vendor == "sqlite":
        _sqlite_update_triggers(schema_editor)


def checks_per_row(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        guards = import_module("ledger.migrations.0002_chart_and_guards")
        schema_editor.execute(PG_REVERSE, None)
        # 0002's functions as they were: the per-entry checks and the lines' trigger.
        schema_editor.execute(
            _functions_of(
                guards.PG_FORWARD,
                (
                    "ledger_entry_balanced",
                    "ledger_lines_same_transaction",
                    "ledger_entry_open_period",
                ),
            ),
            None,
        )
        schema_editor.execute(PG_REVERSE_TRIGGERS, None)
    elif vendor == "sqlite":
        _sqlite_update_triggers(schema_editor)


def _sqlite_update_triggers(schema_editor):
    for table in SQLITE_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'ledger: {table} is append-only (UPDATE refused)'); END"
        )


def _functions_of(sql, names):
    """The CREATE OR REPLACE FUNCTION statements of `names` in a migration's SQL."""
    statements, current, keep = [], [], False
    for line in sql.splitlines():
        if any(line.startswith(f"CREATE OR REPLACE FUNCTION {name}()") for name in names):
            keep, current = True, []
        if keep:
            current.append(line)
            if line.startswith("END $$;"):
                statements.append("\n".join(current))
                keep = False
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0005_position_latest_date_tradeversion_sim_time_and_more"),
        ("ledger", "0002_chart_and_guards"),
    ]

    operations = [
        migrations.AlterField(
            model_name="journalentry",
            name="entry_hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="journal_id",
            field=models.CharField(max_length=16),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="mandate",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="journals",
                to="book.mandate",
            ),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="source_key",
            field=models.CharField(max_length=96),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="trade_id",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="ledger.account",
            ),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="entry",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="ledger.journalentry",
            ),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="mandate",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="book.mandate",
            ),
        ),
        migrations.AddIndex(
            model_name="journalentry",
            index=models.Index(fields=["trade_id"], name="ledger_entry_trade_id"),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.UniqueConstraint(
                fields=("journal_id",), name="ledger_entry_journal_id_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.UniqueConstraint(
                fields=("source_key",), name="ledger_entry_source_key_unique"
            ),
        ),
        migrations.AlterField(
            model_name="instrumentbalance",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="ledger.account",
            ),
        ),
        migrations.AlterField(
            model_name="instrumentbalance",
            name="mandate",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="book.mandate",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerbalance",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="ledger.account",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerbalance",
            name="mandate",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="book.mandate",
            ),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="accounting_date",
            field=models.DateField(),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="recorded_at",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="journalline",
            name="instrument",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="book.instrument",
            ),
        ),
        migrations.AddIndex(
            model_name="journalline",
            index=models.Index(
                condition=models.Q(("instrument__isnull", False)),
                fields=["instrument"],
                name="ledger_line_instrument",
            ),
        ),
        migrations.RunPython(checks_per_statement, checks_per_row),
    ]
