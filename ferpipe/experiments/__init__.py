"""Running the paper's sweeps as DVC experiments: sweeps.yaml, `-S` overrides, the plan, the queue, Ray tasks,
and what DVC recorded of each run (the `sweep` command itself: ferpipe/commands/sweep.py)."""
