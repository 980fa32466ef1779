from django.apps import AppConfig


class OpssuiteConfig(AppConfig):
    """The project itself as an app: roles, the tick pipeline, overview, health, commands."""

    name = "opssuite"
    verbose_name = "opssuite platform"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import roles

        post_migrate.connect(roles.role_permissions_sync_handler, sender=self)
