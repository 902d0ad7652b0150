"""The settings registry: each DVC stage -> the params keys it reads (exactly as dvc.yaml's
`params:` lists them) -> the models that check them, plus the speed-only `runtime.faces` block that
no stage declares.

Stage scripts never import this module (each imports only its own part's settings, so that its
DVC dependencies stay its own), but for `check_params`, whose work is the whole-file check `check_all`,
also run by `python -m ferpipe params check`, `make repro` and the sweep's pre-check.

`check_all` also makes, in the first second, the checks that a later stage would make only after the
expensive ones ran: across blocks (hand-crafted feature geometry against `faces.size`, a source model's
crops against `faces.size`) and on the files a parameter names (`weights`: a Keras weights file is HDF5,
a model folder lies under data/pretrained/ once links are resolved, holds no special file and its
model.json types its training configuration).
"""
from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path
from typing import Any

from ferpipe.apply.settings import GeneralizeSettings, Genki4kSource
from ferpipe.augment.settings import AugmentSettings
from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.settings import Settings, params_keys, validate
from ferpipe.core.textfile import kind_of, opened_regular
from ferpipe.data.settings import FetchSettings, check_source
from ferpipe.eval.settings import CompareSettings
from ferpipe.faces.settings import FaceRuntime, FaceSettings
from ferpipe.features.settings import EmbedSettings, check_fits
from ferpipe.nn.settings import Backend, TrainConfig
from ferpipe.nn.saved import read_model_info
from ferpipe.report.settings import ReportParams
from ferpipe.svm.settings import SvmSettings

STAGES: dict[str, tuple[type[Settings], ...]] = {
    "check_params": (),  # the whole file, as a file dependency: `check_all`
    "fetch": (FetchSettings,),
    "faces": (FaceSettings,),
    "augment": (AugmentSettings,),
    "train": (TrainConfig,),
    "evaluate_softmax": (Backend,),
    "embed": (Backend, EmbedSettings),
    "svm": (SvmSettings,),
    "export": (Backend, FaceSettings),
    "compare": (CompareSettings,),
    "generalize": (GeneralizeSettings, FaceSettings, Backend, Genki4kSource),
    "report": (ReportParams,),
}
UNDECLARED = (FaceRuntime,)  # speed only: read by stages, declared by none, so changing it reruns nothing
PRETRAINED_DIR = Path("data/pretrained")  # the train stage's --pretrained in dvc.yaml, a dependency of train (a test keeps them equal)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SIGNATURE_AT = (0, 512, 1024, 2048)  # where an HDF5 file's superblock may start


def stage_params(stage: str) -> list[str]:
    """The params keys `stage` reads, as its dvc.yaml `params:` must list them."""
    return [key for model in STAGES[stage] for key in params_keys(model)]


def all_models() -> list[type[Settings]]:
    """Every model once, in stage order, the undeclared ones last."""
    models = [m for stage in STAGES.values() for m in stage] + list(UNDECLARED)
    return list(dict.fromkeys(models))


def known_keys() -> dict[str, Any]:
    """The tree of known keys: a key maps to None where a model checks everything below it."""
    tree: dict[str, Any] = {}
    for model in all_models():
        for key in params_keys(model):
            *parents, leaf = key.split(".")
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
                if node is None:
                    break
            else:
                node[leaf] = None
    return tree


def check_unknown(params: dict[str, Any], params_file: str, tree: dict[str, Any] | None = None,
                  prefix: str = "") -> None:
    """A key no stage reads is an error, with the nearest known key as a hint (`lrr`: did you mean `lr`?)."""
    tree = known_keys() if tree is None else tree
    for key, value in params.items():
        if key not in tree:
            near = difflib.get_close_matches(str(key), list(tree), n=1)
            hint = f" (did you mean {prefix}{near[0]}?)" if near else ""
            raise FerpipeError(f"{params_file}: unknown parameter {prefix}{key}{hint}")
        if tree[key] is not None and isinstance(value, dict):
            check_unknown(value, params_file, tree[key], f"{prefix}{key}.")


def check_all(params: dict[str, Any], params_file: str = "params.yaml") -> None:
    """Every stage's own checks (generalize included) and the undeclared blocks', after unknown keys anywhere,
    the files that `weights` names and the dependency folder data/pretrained/ (before the stages' own checks,
    which read them), then the checks across blocks."""
    check_unknown(params, params_file)
    check_pretrained_folder(PRETRAINED_DIR)
    weights = params.get("weights")
    if isinstance(weights, str) and weights != "imagenet" and params.get("arch") == "resnet50":
        check_weights_file(weights, params_file)
    settings = {model: validate(model, params, params_file) for model in all_models()}
    check_across(settings[TrainConfig], settings[FaceSettings], settings[EmbedSettings], params_file)


def check_pretrained_folder(folder: Path) -> None:
    """data/pretrained/, a dependency of train that DVC hashes: a FIFO, device or socket there would hang or
    break `dvc status`, and a link that leads out of it hides changes from DVC (it does not follow links)."""
    if not folder.is_dir():
        return
    base = Path(os.path.realpath(folder))
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                target = Path(os.path.realpath(path))
                require(target.is_relative_to(base), f"{path}: a link to {target}, outside {folder}/; DVC does not "
                        "follow links, so a change there would not rerun train: copy the model into the folder")
            else:
                kind = kind_of(mode)
                require(kind in ("", "a folder"), f"{path}: is {kind} inside {folder}/ (a dependency of train, which "
                                                  "DVC reads): remove it")


def check_weights_file(weights: str, params_file: str) -> None:
    """`weights` naming a file: a Keras weights file (HDF5, regular); naming a folder: one under data/pretrained/
    after links are resolved, whose model.json is the project's and types its training configuration."""
    where = f"{params_file}: weights={weights!r}"
    try:
        mode = os.stat(weights).st_mode
    except OSError:
        return  # the stage's own check names a missing path
    if stat.S_ISDIR(mode):
        real, base = Path(os.path.realpath(weights)), Path(os.path.realpath(PRETRAINED_DIR))
        require(real.is_relative_to(base), f"{where}: resolves to {real}, outside {PRETRAINED_DIR}/ (a dependency "
                f"of train, so that DVC reruns training when the model changes): copy it there")
        info = read_model_info(real)
        for key in ("input_size", "epochs"):
            value = info.config.get(key)
            require(value is None or type(value) is int,
                    f"{real / 'model.json'}: config.{key} must be an integer, got {value!r}; retrain the source model")
        return
    kind = kind_of(mode)
    require(not kind, f"{where}: is {kind}, expected a Keras weights file (.h5) or a model folder")
    with opened_regular(weights, "a Keras weights file (.h5)") as fh:
        head = fh.read(max(HDF5_SIGNATURE_AT) + len(HDF5_SIGNATURE))
    require(any(head[at:at + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE for at in HDF5_SIGNATURE_AT),
            f"{where}: not a Keras weights file (no HDF5 signature); give a .h5 weights file of a ResNet-50 without "
            "its top, or a model folder under data/pretrained/")


def check_across(train: TrainConfig, faces: FaceSettings, embed: EmbedSettings, params_file: str) -> None:
    """What one block's values demand of another's, checked now rather than by the stage that meets both."""
    if embed.features in ("lbp", "hog"):
        block = getattr(embed, embed.features)
        block._params_file = params_file  # a nested block names the file its values came from
        check_fits(embed.features, block, faces.size)
    if train.arch == "resnet50" and train.weights not in (None, "imagenet") and Path(train.weights).is_dir():
        crop = read_model_info(train.weights).crop_size
        require(crop == faces.size, f"{params_file}: weights={train.weights!r}: trained on {crop}x{crop} crops, "
                                    f"faces.size is {faces.size}: set faces.size to {crop}")


def check_stage_params(params: dict[str, Any], params_file: str) -> None:
    """Run every stage's parameter checks (the ones the stages themselves run, generalize's included) and the
    whole-file check for unknown keys on `params`; a local source of a dataset in use must exist.
    `params_file` is the params file (and overrides) the values come from, named in messages."""
    check_all(params, params_file)
    in_use = {params["dataset"]} - {"demo"} | ({"genki4k"} if params["generalize"]["target"] == "genki4k" else set())
    for dataset in sorted(in_use):
        check_source(dataset, params["sources"], params_file)
