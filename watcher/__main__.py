"""`python -m watcher` is the `dataframer-watcher` command."""

from watcher.cli import main

main(prog_name="dataframer-watcher")
