"""The trained network's deep features (its `features` layer) for train, val and test.

Importing this module loads no framework; `embed_splits` imports keras, so call it only after
`ferpipe.nn.backend.select_backend`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from ferpipe.core.errors import require
from ferpipe.core.settings import MAX_SEED, Settings
from ferpipe.data.arrays import load_split
from ferpipe.features.files import SPLITS, save_embeddings
from ferpipe.nn.saved import read_model_info

TRAIN_SOURCES = ("original", "augmented")
PROJECTIONS = ("pca", "tsne")
BATCH_SIZE = 256  # crops per forward pass: bounds memory, does not change the features


class EmbedSettings(Settings):
    """The deep features the SVM is fitted on, and their 2-D picture."""
    key = "embed"
    train_source: Literal[TRAIN_SOURCES] = Field(
        description="original: the un-augmented training crops (data/faces) | augmented: the x`augment.factor` set "
                    "(344k x 2,048 on FER-2013: too big for an RBF SVM)")
    projection: Literal[PROJECTIONS] = Field(description="plots/embeddings_2d.png, the test features in 2-D: pca | tsne")
    seed: int = Field(ge=0, le=MAX_SEED, description="of the t-SNE projection")


def embed_splits(model_dir: Path, split_files: dict[str, Path], out_dir: Path) -> tuple[dict[str, dict], list[str]]:
    """Write `out_dir/<split>.npz` for train, val and test; return each split's features and labels,
    and the class names."""
    from ferpipe.nn.models import feature_model, predict_batched
    from ferpipe.nn.saved import load_model

    info = read_model_info(model_dir)
    splits = {split: load_split(split_files[split]) for split in SPLITS}
    for split, data in splits.items():
        require([str(c) for c in data["classes"]] == info.classes,
                f"{split_files[split]}: its classes differ from the model's {info.classes}")
        n = len(data["images"])
        require(n > 0, f"{split_files[split]}: no images to embed")
        require(len(data["labels"]) == n and len(data["ids"]) == n,
                f"{split_files[split]}: {n} images but {len(data['labels'])} labels and {len(data['ids'])} ids")
        info.check_crops(data["images"], str(split_files[split]))
    model, info = load_model(model_dir)
    features_of = feature_model(model, info.feature_layer)
    out = {}
    for split, data in splits.items():
        features = predict_batched(features_of, data["images"], BATCH_SIZE, desc=f"embed {split}")
        features = features.reshape(len(features), -1)
        require(bool(np.isfinite(features).all()),
                f"{model_dir}: the model's features for {split_files[split]} hold NaN or infinite values")
        save_embeddings(out_dir / f"{split}.npz", features, data["labels"], data["ids"], info.classes)
        out[split] = {"features": features, "labels": data["labels"]}
    return out, info.classes
