"""One complete set of training parameters for the tests and the benchmarks (not the pipeline's
defaults, which live in params.yaml): a small LeNet run with every key present."""
from __future__ import annotations

import copy

TRAIN_PARAMS = {
    "arch": "lenet", "backend": "tensorflow", "weights": "none", "lr": 0.05, "batch_size": 8, "epochs": 3,
    "n_kerns": [4, 8], "pool_size": [2, 2],
    "train": {"input_size": 32, "head_epochs": 0, "finetune_lr_factor": 0.1, "pretrained_batchnorm": "frozen",
              "dropout": 0.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "schedule": "constant",
              "warmup_epochs": 0, "label_smoothing": 0.0, "mixup": 0.0,
              "steps_per_epoch": None, "mixed_precision": "auto", "loop": "auto", "seed": 0},
}


def train_params(**overrides) -> dict:
    """TRAIN_PARAMS with top-level overrides; `train_<key>` overrides a key of the train block."""
    out = copy.deepcopy(TRAIN_PARAMS)
    for key, value in overrides.items():
        if key.startswith("train_"):
            out["train"][key[len("train_"):]] = value
        else:
            out[key] = value
    return out
