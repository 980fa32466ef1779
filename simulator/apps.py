from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """The market and activity generator, and the clock every tick runs on."""

    name = "simulator"
    verbose_name = "Simulator"

    def ready(self) -> None:
        # Registers the simulator's event kinds, so every process knows them.
        from . import fred  # noqa: F401
