"""The two networks of the paper, in Keras 3 (no backend-specific calls).

Both models take the grey crops as they come from `ferpipe.data.arrays` (float pixel values 0..255,
shape (S, S, 1)) and do their own preprocessing, so a saved model needs nothing beside it. The
layer named `features` gives the deep features (ResNet-50: 2048-d pooled; LeNet: the 500 hidden
units) for the later SVM stage; `predictions` is the softmax head.
"""
from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.nn.settings import LENET_KERNEL, TrainConfig
from ferpipe.nn.pretrained import backbone_weights, is_model_folder

# keras.applications.resnet50.preprocess_input ("caffe" mode): BGR means of ImageNet, no scaling.
# The three channels are copies of the grey crop, so the channel order does not matter.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
IMAGENET_WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
BACKBONE_NAME = "resnet50"
FEATURES_LAYER = "features"


def _inputs_resized(crop_size: int, input_size: int):
    inputs = keras.Input(shape=(crop_size, crop_size, 1), name="crops")
    x = inputs
    if input_size != crop_size:
        x = keras.layers.Resizing(input_size, input_size, interpolation="bilinear", name="resize")(x)
    return inputs, x


def _resnet50_backbone(cfg: TrainConfig):
    shape = (cfg.train.input_size, cfg.train.input_size, 3)
    if cfg.weights is None:
        return keras.applications.ResNet50(include_top=False, weights=None, input_shape=shape, name=BACKBONE_NAME)
    if cfg.weights == "imagenet":
        cached = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models" / IMAGENET_WEIGHTS_FILE
        try:
            return keras.applications.ResNet50(include_top=False, weights="imagenet", input_shape=shape, name=BACKBONE_NAME)
        except Exception as exc:  # offline: keras' download raises a plain Exception
            raise FerpipeError(
                f"weights=imagenet: could not load the ImageNet ResNet-50 weights ({exc}). Offline, put "
                f"{IMAGENET_WEIGHTS_FILE} at {cached}, or give its path with -S weights=<file>, "
                f"or train from scratch with -S weights=none") from exc
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=shape, name=BACKBONE_NAME)
    if is_model_folder(cfg.weights):
        backbone.set_weights(backbone_weights(cfg.weights, BACKBONE_NAME))
        return backbone
    try:
        backbone.load_weights(cfg.weights)
    except Exception as exc:
        raise FerpipeError(f"weights={cfg.weights!r}: this file does not fit ResNet-50 without its top "
                           f"(expected e.g. {IMAGENET_WEIGHTS_FILE}): {exc}") from exc
    return backbone


def build_resnet50(cfg: TrainConfig, crop_size: int, num_classes: int) -> keras.Model:
    """ResNet-50 backbone (keras.applications) with a new head: pooling, dropout, softmax."""
    inputs, x = _inputs_resized(crop_size, cfg.train.input_size)
    x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = keras.layers.Normalization(mean=IMAGENET_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="imagenet_mean")(x)
    x = _resnet50_backbone(cfg)(x)
    x = keras.layers.GlobalAveragePooling2D(name=FEATURES_LAYER)(x)
    x = keras.layers.Dropout(cfg.train.dropout, name="dropout")(x)
    # float32 softmax keeps the loss stable under mixed precision.
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet50_fer")


def build_lenet(cfg: TrainConfig, crop_size: int, num_classes: int) -> keras.Model:
    """The paper's LeNet: two conv(5x5)+max-pool layers, a hidden layer of 500, softmax (tanh units).

    `train_config` has checked that its pool windows fit the feature maps (`lenet_feature_sizes`).
    """
    inputs, x = _inputs_resized(crop_size, cfg.train.input_size)
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(x)
    for i, n_kern in enumerate(cfg.n_kerns, start=1):
        x = keras.layers.Conv2D(n_kern, LENET_KERNEL, activation="tanh", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(cfg.pool_size, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(500, activation="tanh", name=FEATURES_LAYER)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet_fer")


def build_model(cfg: TrainConfig, crop_size: int, num_classes: int) -> keras.Model:
    if num_classes < 2:
        raise FerpipeError(f"the training data has {num_classes} class(es); a classifier needs at least 2")
    builder = build_resnet50 if cfg.arch == "resnet50" else build_lenet
    return builder(cfg, crop_size, num_classes)


def set_backbone_trainable(model: keras.Model, trainable: bool, freeze_batchnorm: bool) -> None:
    """Freeze (head-only phase) or unfreeze the ResNet-50 backbone; a no-op for LeNet.

    With `freeze_batchnorm` its BatchNorm layers stay frozen when it is unfrozen. A frozen Keras
    BatchNorm layer also runs in inference mode (its moving statistics are used, not updated). Calling
    the backbone with `training=False`, the older recipe, does not hold in Keras 3: a functional
    model passes its own `training=True` down to it (keras-team/keras#20285).
    """
    for layer in model.layers:
        if layer.name == BACKBONE_NAME:
            layer.trainable = trainable
            if trainable and freeze_batchnorm:
                for inner in layer.layers:
                    if isinstance(inner, keras.layers.BatchNormalization):
                        inner.trainable = False


def as_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 crops (N, S, S) -> float32 (N, S, S, 1), pixel values kept in 0..255."""
    return images.astype(np.float32)[..., None]


def to_model_input(images):
    """`as_model_input` for a backend tensor of uint8 crops, computed where the tensor is (on its device)."""
    return keras.ops.expand_dims(keras.ops.cast(images, "float32"), -1)


def predict_batched(model: keras.Model, images: np.ndarray, batch_size: int = 256, desc: str | None = None) -> np.ndarray:
    """`model`'s outputs for uint8 crops (N, S, S), in batches to bound memory (tqdm bar with `desc`)."""
    starts = range(0, len(images), batch_size)
    if desc is not None:
        starts = tqdm(starts, desc=desc, unit="batch")
    chunks = [keras.ops.convert_to_numpy(model.predict_on_batch(as_model_input(images[i:i + batch_size])))
              for i in starts]
    return np.concatenate(chunks).astype(np.float32)


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Softmax outputs (N, K) for uint8 crops (N, S, S)."""
    return predict_batched(model, images, batch_size)


def feature_model(model: keras.Model, layer: str = FEATURES_LAYER) -> keras.Model:
    """The same network cut at its `features` layer: ResNet-50's 2,048-d pooled output, LeNet's 500 units."""
    try:
        output = model.get_layer(layer).output
    except ValueError as exc:
        raise FerpipeError(f"the model has no layer named {layer!r} (model.json feature_layer)") from exc
    return keras.Model(model.inputs, output, name=f"{model.name}_features")
