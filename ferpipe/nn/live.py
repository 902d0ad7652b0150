"""Per-epoch training curves written with dvclive, in files that `dvc plots show` reads."""
from __future__ import annotations

from dvclive import Live

from ferpipe.nn.training import EpochLogger


def dvclive_logger(live: Live) -> EpochLogger:
    """Log one epoch's entry (`epoch`, `train/loss`, ...) at step = epoch number."""

    def log(entry: dict) -> None:
        live.step = entry["epoch"]
        for name, value in entry.items():
            if name != "epoch":
                live.log_metric(name, value)
        live.make_summary()

    return log
