"""The fetch stage's parameters: which dataset (`dataset`), where each real dataset comes from
(`sources:`, which $FERPIPE_SOURCE_<DATASET> overrides) and how the chosen one is read and split
(`fetch:`, the sha256 that pins a download included)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ferpipe.core.errors import FerpipeError
from ferpipe.core.settings import MAX_SEED, Expect, Settings, invalid

DATASETS = ("demo", "fer2013", "ckplus", "genki4k")
CKPLUS_PROTOCOLS = ("subject", "paper")
REMOTE_PREFIXES = ("http://", "https://", "kaggle:")  # sources that are downloaded, not read in place

Source = Annotated[str | None, Expect("null, an http(s) URL, kaggle:<owner>/<dataset> or a local path")]
Sha256 = Annotated[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None, Expect("null or 64 hex digits")]


class Sources(Settings):
    """Where each real dataset comes from; $FERPIPE_SOURCE_<DATASET> overrides an entry."""
    key = "sources"
    fer2013: Source = Field(description="FER-2013: fer2013.csv or the Kaggle image-folder layout (a folder, or an "
                                        "archive of it), an http(s) URL or kaggle:<owner>/<dataset>; "
                                        "$FERPIPE_SOURCE_FER2013 overrides it")
    ckplus: Source = Field(description="CK+ in the CK+48 layout (<class>/S<subject>_<sequence>_<frame>.png): a folder, "
                                       "an archive or an http(s) URL; $FERPIPE_SOURCE_CKPLUS overrides it")
    genki4k: Source = Field(description="GENKI-4K (files/ and labels.txt): a folder, an archive or an http(s) URL; "
                                        "$FERPIPE_SOURCE_GENKI4K overrides it")


class Sha256s(Settings):
    """The sha256 of each dataset's archive, checked after a download (required for a URL)."""
    fer2013: Sha256 = Field(description="sha256 of the FER-2013 download or local archive (required for a URL)")
    ckplus: Sha256 = Field(description="sha256 of the CK+ download or local archive (required for a URL)")
    genki4k: Sha256 = Field(description="sha256 of the GENKI-4K download or local archive (required for a URL)")


class FetchDemo(Settings):
    """The synthetic demo dataset."""
    per_class: int = Field(ge=3, le=10_000, description="images per class; min(per_class, 120) identities, each showing every "
                                             "expression")
    size: int = Field(ge=32, le=1024, description="image side, px")


class FetchBlock(Settings):
    """How the chosen dataset is read and split."""
    key = "fetch"
    seed: int = Field(ge=0, le=MAX_SEED, description="of the seeded splits and of the demo renderer")
    sha256: Sha256s = Field(description="sha256 of a downloaded archive, per dataset (required for http(s) sources)")
    demo: FetchDemo = Field(description="the synthetic demo dataset")
    ckplus_protocol: Literal[CKPLUS_PROTOCOLS] = Field(
        description="ckplus: subject (no subject in two splits) | paper (the seed paper's frame-level 56/7/7 per class)")
    val_fraction: float = Field(ge=0, le=1, description="fraction of images (or subjects) for val where the dataset "
                                                        "has no official split")
    test_fraction: float = Field(ge=0, le=1, description="fraction of images (or subjects) for test where the dataset "
                                                         "has no official split (unused with k-fold)")
    folds: int = Field(ge=0, le=100, description="k-fold instead (ckplus subject protocol, genki4k, demo): k >= 2 makes fold "
                                         "`fold` the test split and val_fraction of the other folds val; folds of whole "
                                         "subjects where subjects are known, stratified by class. 0: no k-fold")
    fold: int = Field(ge=0, description="the test fold, 0..folds-1 (0 without k-fold)")
    drop_train_copies: bool = Field(description="drop training images that are pixel-identical to a val or test image")


class FetchSettings(Settings):
    """The fetch stage's parameters: `dataset`, `sources` and the `fetch:` block."""
    key = ""
    dataset: Literal[DATASETS] = Field(description="which dataset the pipeline runs on")
    sources: Sources = Field(description="where each real dataset comes from")
    fetch: FetchBlock = Field(description="how the chosen dataset is read and split")

    @model_validator(mode="after")
    def _check_split(self) -> FetchSettings:
        f = self.fetch
        if f.folds == 0:
            if f.val_fraction + f.test_fraction >= 1:
                raise invalid("fetch.val_fraction + fetch.test_fraction",
                              f"must be below 1, got {f.val_fraction + f.test_fraction}")
            if f.fold != 0:
                raise invalid("fetch.fold", f"= {f.fold} needs k-fold: set fetch.folds to k >= 2")
            return self
        if f.folds < 2:
            raise invalid("fetch.folds", f"must be 0 (no k-fold) or k >= 2, got {f.folds}")
        if f.fold >= f.folds:
            raise invalid("fetch.fold", f"must be in 0..{f.folds - 1} (fetch.folds = {f.folds}), got {f.fold}")
        if f.val_fraction >= 1:
            raise invalid("fetch.val_fraction", f"must be below 1, got {f.val_fraction}")
        if self.dataset == "fer2013":
            raise invalid("fetch.folds:", "fer2013 has an official split (Training / PublicTest / PrivateTest), so "
                          "k-fold is refused; set fetch.folds: 0")
        if self.dataset == "ckplus" and f.ckplus_protocol == "paper":
            raise invalid("fetch.folds:", "fetch.ckplus_protocol: paper is the paper's fixed frame-level split, so "
                          "k-fold is refused; use fetch.ckplus_protocol: subject")
        return self


# What a `sources.<dataset>` value means once $FERPIPE_SOURCE_<DATASET> is read: used by the fetch loaders and by
# the sweep's pre-check, which refuses a local source that does not exist before anything is queued.
def env_var(dataset: str) -> str:
    return f"FERPIPE_SOURCE_{dataset.upper()}"


def resolve_source(dataset: str, sources: dict, params_file: str) -> str:
    """The source for `dataset`: the environment variable if set, else `sources.<dataset>`."""
    value = os.environ.get(env_var(dataset)) or (sources or {}).get(dataset)
    if not value:
        raise FerpipeError(
            f"{params_file}: sources.{dataset} is not set: give a local path or URL there, with "
            f"`dvc exp run -S sources.{dataset}=/path/to/{dataset}`, or in ${env_var(dataset)}")
    return str(value)


def check_source(dataset: str, sources: dict, params_file: str) -> str:
    """The source for `dataset`, which must be set, and exist where it is a local path."""
    source = resolve_source(dataset, sources, params_file)
    if not source.startswith(REMOTE_PREFIXES) and not Path(source).expanduser().exists():
        where = f"${env_var(dataset)}" if os.environ.get(env_var(dataset)) else f"{params_file}: sources.{dataset}"
        raise FerpipeError(f"{where}: {Path(source).expanduser()} does not exist")
    return source
