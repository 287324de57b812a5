"""Benchmarks. Not collected by pytest (``--ignore=tests/perf``); each runs with one command, see README.md."""
