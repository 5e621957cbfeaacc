"""`mydb`: the command line of MyDbEngine, for scripts, backups and pipelines (see docs/CLI.md)."""

from .main import main

__all__ = ["main"]
