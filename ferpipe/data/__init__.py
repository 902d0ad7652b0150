"""Datasets: loaders of each published layout (`sources/`, the demo renderer among them), the canonical on-disk dataset, splits, the per-split array files, and the duplicate/leakage audit."""
