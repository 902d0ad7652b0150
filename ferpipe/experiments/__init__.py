"""Running the paper's sweeps as DVC experiments: sweeps.yaml, checked `-S` overrides, the queue, and what DVC recorded of each run."""
