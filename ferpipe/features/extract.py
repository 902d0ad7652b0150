"""The features the SVM is fitted on, for train, val and test: the trained network's deep features (its
`features` layer) or hand-crafted ones (ferpipe.features.handcrafted: LBP histograms, HOG).

Importing this module loads no framework; `embed_splits` with `features: network` imports keras, so
call it only after `ferpipe.nn.backend.select_backend`. With `lbp` or `hog` the model is not read:
the classes are the splits' own, which must agree.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
from ferpipe.data.arrays import load_split
from ferpipe.features.files import SPLITS, save_embeddings
from ferpipe.features.handcrafted import handcrafted_features
from ferpipe.features.settings import EmbedSettings
from ferpipe.nn.saved import ModelInfo, read_model_info

BATCH_SIZE = 256  # crops per forward pass: bounds memory, does not change the features


def read_splits(split_files: dict[str, Path], model_classes: list[str] | None = None) -> tuple[dict[str, dict], list[str]]:
    """The crops of train, val and test, each non-empty, and their class names: the model's where given, else
    train's; every split must have them."""
    splits = {split: load_split(split_files[split]) for split in SPLITS}
    classes = model_classes or [str(c) for c in splits["train"]["classes"]]
    whose = "the model's" if model_classes else f"those of {split_files['train']}"
    for split, data in splits.items():
        require([str(c) for c in data["classes"]] == classes, f"{split_files[split]}: its classes differ from {whose} {classes}")
        require(len(data["images"]) > 0, f"{split_files[split]}: no images to embed")
    return splits, classes


def embed_splits(settings: EmbedSettings, model_dir: Path, split_files: dict[str, Path],
                 out_dir: Path) -> tuple[dict[str, dict], list[str]]:
    """Write `out_dir/<split>.npz` for train, val and test; return each split's features and labels,
    and the class names."""
    if settings.features == "network":
        info = read_model_info(model_dir)
        splits, classes = read_splits(split_files, info.classes)
        features_of = _network(model_dir, info, splits, split_files)
    else:
        splits, classes = read_splits(split_files)
        block = getattr(settings, settings.features)

        def features_of(images, split):
            return handcrafted_features(images, settings.features, block)
    out = {}
    for split, data in splits.items():
        features = features_of(data["images"], split)
        require(bool(np.isfinite(features).all()),
                f"the {settings.features} features of {split_files[split]} hold NaN or infinite values")
        save_embeddings(out_dir / f"{split}.npz", features, data["labels"], data["ids"], classes)
        out[split] = {"features": features, "labels": data["labels"]}
    return out, classes


def _network(model_dir: Path, info: ModelInfo, splits: dict[str, dict], split_files: dict[str, Path]):
    """The trained network's `features` layer as a function of (crops, split name), after checking the crops fit it."""
    from ferpipe.nn.models import feature_model, predict_batched
    from ferpipe.nn.saved import load_model

    for split, data in splits.items():
        info.check_crops(data["images"], str(split_files[split]))
    model, info = load_model(model_dir)
    layer = feature_model(model, info.feature_layer)

    def features_of(images, split):
        features = predict_batched(layer, images, BATCH_SIZE, desc=f"embed {split}")
        return features.reshape(len(features), -1)
    return features_of
