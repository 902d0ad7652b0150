"""A trained ferpipe model as the start of another training (`weights: <model folder>`).

The source is a `train` stage's output folder (model.keras + model.json) of a ResNet-50: its backbone
initialises the new network, whose head is new, for the target's classes. It must have been trained
at the same input size, on crops of the same size as the target's. Its content hash and classes go
into the new model.json and metrics/train.json.

Importing this module loads no framework; `backbone_weights` loads the source with keras.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.sha256 import sha256_of
from ferpipe.nn.saved import PretrainedSource, load_model, read_model_info

SOURCE_ARCH = "resnet50"


def is_model_folder(weights: str | None) -> bool:
    return weights is not None and weights != "imagenet" and Path(weights).is_dir()


def folder_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def source_problem(folder: str | Path, input_size: int) -> str | None:
    """Why the folder cannot start a ResNet-50 of `input_size` (no or a damaged model.json, another
    architecture, another input size), or None."""
    try:
        info = read_model_info(folder)
    except FerpipeError as exc:
        return f"is not a usable ferpipe model folder: {exc}"
    arch, source_input = info.config.get("arch"), info.config.get("input_size")
    if arch != SOURCE_ARCH:
        return f"{str(folder)!r} holds a ferpipe model of arch={arch}; only a ResNet-50's backbone can start a ResNet-50"
    if source_input != input_size:
        return (f"{str(folder)!r} was trained at train.input_size {source_input}, this run's is {input_size}; its "
                f"backbone's filters fit faces of that scale: set -S train.input_size={source_input}")
    return None


def describe_source(folder: str | Path, input_size: int) -> PretrainedSource:
    """The source folder's record; raises FerpipeError where `source_problem` finds one."""
    problem = source_problem(folder, input_size)
    require(problem is None, f"weights: {problem}")
    info = read_model_info(folder)
    return PretrainedSource(path=str(folder), sha256=folder_sha256(Path(folder)), classes=info.classes,
                            crop_size=info.crop_size, input_size=input_size)


def check_source_fits(source: PretrainedSource, crop_size: int, within: Path) -> None:
    """The stage's checks: the folder lies under `within` (a DVC dependency of `train`, so that a changed
    source reruns it) and was trained on crops of the target's size."""
    where = f"weights={source.path!r}"
    require(Path(os.path.normpath(Path(source.path).absolute())).is_relative_to(Path(within).absolute()),
            f"{where}: a model folder must lie under {within}/ (a dependency of the train stage in dvc.yaml, so "
            f"that DVC reruns training when it changes): copy it there, e.g. {within}/{Path(source.path).name}")
    require(source.crop_size == crop_size,
            f"{where}: trained on {source.crop_size}x{source.crop_size} crops, these are {crop_size}x{crop_size}: "
            f"set faces.size to {source.crop_size}")


def weights_sha256(weights: str | None) -> str | None:
    """The content hash of a weights file or model folder (a killed run resumes only from the same start)."""
    if weights is None or weights == "imagenet":
        return None
    return folder_sha256(Path(weights)) if Path(weights).is_dir() else sha256_of(Path(weights))


def backbone_weights(folder: str | Path, layer: str) -> list:
    """The weights of the source model's backbone layer `layer` (keras must run on its backend)."""
    model, _ = load_model(folder)
    names = [sub.name for sub in model.layers]
    require(layer in names, f"weights={str(folder)!r}: its model.keras has no layer {layer!r} (layers: {names[:8]})")
    return model.get_layer(layer).get_weights()
