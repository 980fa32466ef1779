from django.apps import AppConfig


class OpssuiteConfig(AppConfig):
    """The project itself as an app: roles, the tick pipeline, overview, health, commands."""

    name = "opssuite"
    verbose_name = "opssuite platform"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import roles

        # Every app's post_migrate, not just ours: permissions of apps migrated after this
        # one only exist once their own post_migrate has run.
        post_migrate.connect(
            roles.role_permissions_sync_handler, dispatch_uid="opssuite.roles.sync"
        )

        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from . import audit

        user_logged_in.connect(audit.user_signed_in, dispatch_uid="opssuite.audit.signed_in")
        user_logged_out.connect(audit.user_signed_out, dispatch_uid="opssuite.audit.signed_out")
