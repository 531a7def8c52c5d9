"""Benchmarks: plain scripts run as ``python -m bench.NAME``; each prints a Markdown table."""
