"""The settings registry: each DVC stage -> the params keys it reads (exactly as dvc.yaml's
`params:` lists them) -> the models that check them, plus the speed-only `runtime.faces` block that
no stage declares.

Stage scripts never import this module (each imports only its own part's settings, so that its
DVC dependencies stay its own), but for `check_params`, whose work is the whole-file check `check_all`,
also run by `python -m ferpipe params check`, `make repro` and the sweep's pre-check.
"""
from __future__ import annotations

import difflib
from typing import Any

from ferpipe.apply.generalize import GeneralizeSettings
from ferpipe.apply.target import Genki4kSource
from ferpipe.augment.transforms import AugmentSettings
from ferpipe.core.errors import FerpipeError
from ferpipe.core.settings import Settings, params_keys, validate
from ferpipe.data.fetch import FetchSettings
from ferpipe.data.sources.download import check_source
from ferpipe.eval.settings import CompareSettings
from ferpipe.features.extract import EmbedSettings
from ferpipe.svm.settings import SvmSettings
from ferpipe.faces.settings import FaceRuntime, FaceSettings
from ferpipe.nn.config import Backend, TrainConfig
from ferpipe.report.inputs import ReportParams

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
    """Every stage's own checks (generalize included) and the undeclared blocks', after unknown keys anywhere."""
    check_unknown(params, params_file)
    for model in all_models():
        validate(model, params, params_file)


def check_stage_params(params: dict[str, Any], params_file: str) -> None:
    """Run every stage's parameter checks (the ones the stages themselves run, generalize's included) and the
    whole-file check for unknown keys on `params`; a local source of a dataset in use must exist.
    `params_file` is the params file (and overrides) the values come from, named in messages."""
    check_all(params, params_file)
    in_use = {params["dataset"]} - {"demo"} | ({"genki4k"} if params["generalize"]["target"] == "genki4k" else set())
    for dataset in sorted(in_use):
        check_source(dataset, params["sources"], params_file)
