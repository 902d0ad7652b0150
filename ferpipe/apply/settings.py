"""The `generalize` stage's settings, apart from its code: the target (GENKI-4K or the synthetic demo
target), its split and the frozen-feature regression. The settings registry (check_params, the sweep's
pre-check) reads them without loading OpenCV, MTCNN or a deep-learning framework."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ferpipe.core.settings import MAX_SEED, Settings, subset
from ferpipe.data.settings import Sha256s, Sources

TARGETS = ("demo", "genki4k")


class DemoTarget(Settings):
    """The synthetic target."""
    seed: int = Field(ge=0, le=MAX_SEED, description="keep it apart from fetch.seed: the same seed would re-render the training "
                                        "subjects")
    per_class: int = Field(ge=2, le=10_000, description="faces rendered per expression: all happy ones (smiles) and as many of "
                                             "the six others are kept")
    size: int = Field(ge=32, le=1024, description="px of the face image (training demo: fetch.demo.size), put on a 1.6 x 1.3 "
                                         "times wider canvas")


class Genki4kSource(Settings):
    """Where GENKI-4K comes from: the fetch stage's `sources.genki4k` and `fetch.sha256.genki4k`."""
    key = ""
    sources: subset(Sources, "genki4k")
    fetch: subset(Settings, sha256=subset(Sha256s, "genki4k"))


class GeneralizeSettings(Settings):
    """The trained model on smiles it never saw (the paper's GENKI-4K generalization test)."""
    key = "generalize"
    target: Literal[TARGETS] = Field(description="demo: synthetic faces of other subjects, at another size, on another "
                                                 "background (generalize.demo) | genki4k: GENKI-4K from sources.genki4k "
                                                 "or $FERPIPE_SOURCE_GENKI4K (unset: the stage stops, naming it)")
    demo: DemoTarget = Field(description="the synthetic demo target")
    val_fraction: float = Field(gt=0, lt=1, description="zero-shot: the threshold on P(happy) is chosen on this "
                                                        "stratified part, accuracy is on the rest")
    folds: int = Field(ge=2, le=100, description="frozen features: k-fold cross-validation of a logistic regression on the "
                                         "network's features")
    C: float = Field(gt=0, description="its inverse L2 regularisation strength")
    seed: int = Field(ge=0, le=MAX_SEED, description="of the val part and the folds")
