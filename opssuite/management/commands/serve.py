"""Serve the suite in embedded mode: the web server plus the in-process ticker.

Ctrl-C stops both: the server returns, then the ticker finishes the tick it is in.
"""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from opssuite.ticker import EmbeddedTicker


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve http://HOST:PORT with the simulator ticking in-process (no Celery needed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-ticker", action="store_true", help="Serve pages only; ticks come from elsewhere."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Ctrl-C and SIGTERM both end in the same clean stop. SIGINT is set explicitly:
        # a shell without job control starts background commands with it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminate)
        ticker = None
        if settings.OPSSUITE_EMBEDDED_TICKER and not options["no_ticker"]:
            ticker = EmbeddedTicker(settings.OPSSUITE_TICK_SECONDS)
            ticker.start()
            self.stdout.write(f"ticker: one tick every {settings.OPSSUITE_TICK_SECONDS}s")
        else:
            self.stdout.write("ticker: off here (Celery beat drives the ticks)")
        try:
            call_command(
                "runserver",
                f"{options['host']}:{options['port']}",
                use_reloader=False,
                skip_checks=True,
            )
        finally:
            if ticker is not None:
                self.stdout.write("stopping the ticker ...")
                ticker.stop()
                self.stdout.write("stopped")
