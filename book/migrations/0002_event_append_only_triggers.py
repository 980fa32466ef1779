"""The database itself refuses to change the event log.

PostgreSQL: a BEFORE UPDATE OR DELETE row trigger raises. (TRUNCATE, an owner-only
maintenance statement, is left alone: test databases are emptied with it.)
SQLite: a BEFORE UPDATE trigger aborts. DELETE is refused by the ORM layer only, because
Django empties SQLite test databases with DELETE.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION book_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'book_event is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER book_event_no_update_delete
    BEFORE UPDATE OR DELETE ON book_event
    FOR EACH ROW EXECUTE FUNCTION book_event_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS book_event_no_update_delete ON book_event;
DROP FUNCTION IF EXISTS book_event_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER book_event_no_update BEFORE UPDATE ON book_event
BEGIN SELECT RAISE(ABORT, 'book_event is append-only: UPDATE refused'); END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS book_event_no_update;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("book", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
