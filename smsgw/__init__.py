"""smsgw: the national SMS broadcast and subscription gateway (the application package)."""

__version__ = "0.1.0"
