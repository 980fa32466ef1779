"""The chart of accounts, and the rules the database itself enforces on journals.

PostgreSQL:
- journal entries, lines and period closes reject UPDATE and DELETE (TRUNCATE, like DROP
  TABLE, is left to the table's owner: Django's test runner empties tables with it);
- each entry is stamped with the id of the transaction that inserted it, and lines may
  only be added to an entry of the same transaction (a statement trigger over the
  inserted rows), so a posted entry can never gain a line;
- an entry dated on or before its mandate's closed period is rejected on insert;
- a deferred constraint trigger checks, at commit, that every new entry has at least two
  lines and that they balance in each currency and in base currency.
SQLite: triggers reject UPDATE of entries, lines and period closes (DELETE is refused by the
ORM only: Django empties SQLite test databases with DELETE).
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % is append-only (% refused); post a reversal instead',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_line_append_only BEFORE UPDATE OR DELETE ON ledger_journalline
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_close_append_only BEFORE UPDATE OR DELETE ON ledger_periodclose
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Lines join only an entry of their own transaction: a posted entry is complete.
CREATE OR REPLACE FUNCTION ledger_lines_same_transaction() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    stray text;
BEGIN
    SELECT e.journal_id INTO stray
      FROM new_lines l JOIN ledger_journalentry e ON e.id = l.entry_id
     WHERE e.posted_txid IS DISTINCT FROM txid_current()
     LIMIT 1;
    IF stray IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: entry % is already posted; lines cannot be added to it',
            stray USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_lines_same_transaction AFTER INSERT ON ledger_journalline
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_lines_same_transaction();

-- Nothing is dated inside a closed period; each entry knows its transaction.
CREATE OR REPLACE FUNCTION ledger_entry_open_period() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    through date;
BEGIN
    NEW.posted_txid := txid_current();
    SELECT max(p.through) INTO through FROM ledger_periodclose p
     WHERE p.mandate_id IS NULL OR p.mandate_id = NEW.mandate_id;
    IF through IS NOT NULL AND NEW.accounting_date <= through THEN
        RAISE EXCEPTION 'ledger: % is dated % but its period is closed through %',
            NEW.journal_id, NEW.accounting_date, through
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_entry_open_period BEFORE INSERT ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_open_period();

-- At commit: every new entry has two lines or more, balanced per currency and in base.
CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    bad_currency text;
    base_diff numeric;
BEGIN
    SELECT count(*), coalesce(sum(CASE WHEN side = 'D' THEN base_amount ELSE -base_amount END), 0)
      INTO n, base_diff
      FROM ledger_journalline WHERE entry_id = NEW.id;
    IF n < 2 THEN
        RAISE EXCEPTION 'ledger: entry % has % line(s); an entry needs two or more',
            NEW.journal_id, n USING ERRCODE = 'check_violation';
    END IF;
    IF base_diff <> 0 THEN
        RAISE EXCEPTION 'ledger: entry % does not balance in base currency (off by %)',
            NEW.journal_id, base_diff USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency INTO bad_currency FROM ledger_journalline WHERE entry_id = NEW.id
     GROUP BY currency
    HAVING sum(CASE WHEN side = 'D' THEN amount ELSE -amount END) <> 0
     LIMIT 1;
    IF bad_currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: entry % does not balance in %', NEW.journal_id, bad_currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_journalentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
"""

PG_REVERSE = r"""
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_entry_open_period ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_lines_same_transaction ON ledger_journalline;
DROP TRIGGER IF EXISTS ledger_close_append_only ON ledger_periodclose;
DROP TRIGGER IF EXISTS ledger_line_append_only ON ledger_journalline;
DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_entry_balanced();
DROP FUNCTION IF EXISTS ledger_entry_open_period();
DROP FUNCTION IF EXISTS ledger_lines_same_transaction();
DROP FUNCTION IF EXISTS ledger_append_only();
"""

SQLITE_TABLES = ("ledger_journalentry", "ledger_journalline", "ledger_periodclose")


def guards_add(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, None)
    elif connection.vendor == "sqlite":
        for table in SQLITE_TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'ledger: {table} is append-only (UPDATE refused)'); END"
            )


def guards_remove(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, None)
    elif connection.vendor == "sqlite":
        for table in SQLITE_TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")


def chart_load(apps, schema_editor):
    from ledger.accounts import CHART

    Account = apps.get_model("ledger", "Account")
    LedgerState = apps.get_model("ledger", "LedgerState")
    for a in CHART:
        Account.objects.update_or_create(
            code=a.code,
            defaults={
                "name": a.name,
                "type": a.type,
                "normal_side": a.normal_side,
                "by_instrument": a.by_instrument,
            },
        )
    LedgerState.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(chart_load, migrations.RunPython.noop),
        migrations.RunPython(guards_add, guards_remove),
    ]
