"""Fixtures shared by the tests and the benchmarks; no stage imports them, so no stage depends on them."""
