"""Benchmarks of the watcher's hot paths against the simulator on 127.0.0.1 (`make bench`).

`python -m bench` prints a table and writes JSON; `--quick` shrinks every size for a smoke run.
"""
