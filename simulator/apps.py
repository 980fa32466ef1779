from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """The market and activity generator, and the clock every tick runs on."""

    name = "simulator"
    verbose_name = "Simulator"
