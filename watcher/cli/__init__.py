"""The command line: `main` is the `dataframer-watcher` console script."""

from watcher.cli.commands import main

__all__ = ["main"]
