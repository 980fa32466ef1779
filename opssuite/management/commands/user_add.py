"""Create a user with one role: manage.py user_add NAME --role viewer|operator|admin."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from opssuite import roles
from opssuite.services import user_create


class Command(BaseCommand):
    help = "Create a user holding one role (viewer, operator or admin)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=roles.ROLES)
        parser.add_argument("--password", help="Prompted for when omitted.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or getpass.getpass(f"password for {options['username']}: ")
        try:
            user_create(username=options["username"], password=password, role=options["role"])
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc
        self.stdout.write(f"user {options['username']!r} created with role {options['role']}")
