"""Benchmarks of credit-assets at full scale (issue #7): `python -m bench.benchmark --help`."""
