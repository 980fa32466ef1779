"""The default tolerances (per asset class, and the cash row) and the default rules."""

from django.db import migrations

from recon.defaults import DEFAULT_TOLERANCES


def forwards(apps, schema_editor):
    Tolerance = apps.get_model("recon", "Tolerance")
    ReconSettings = apps.get_model("recon", "ReconSettings")
    for asset_class, (q_abs, q_rel, mv_abs, cash_abs) in DEFAULT_TOLERANCES.items():
        Tolerance.objects.get_or_create(
            asset_class=asset_class,
            defaults={
                "quantity_abs": q_abs,
                "quantity_rel_pct": q_rel,
                "market_value_abs": mv_abs,
                "cash_abs": cash_abs,
            },
        )
    ReconSettings.objects.get_or_create(name="default")


class Migration(migrations.Migration):
    dependencies = [("recon", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
