"""The default rules as rows, so the rules API, pages and admin show them before the
first tick (services.rules_ensure adds any rule a later release brings)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from dataquality.checks.rules import DEFAULT_RULES

    DQRule = apps.get_model("dataquality", "DQRule")
    have = set(DQRule.objects.values_list("code", "asset_class"))
    DQRule.objects.bulk_create(
        [
            DQRule(
                code=r.code,
                asset_class=r.asset_class,
                version=r.version,
                severity=r.severity,
                params=dict(r.params),
                enabled=r.enabled,
            )
            for r in DEFAULT_RULES
            if (r.code, r.asset_class) not in have
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("dataquality", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
