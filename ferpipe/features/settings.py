"""The `embed` stage's settings, apart from its code: which features the SVM is fitted on (the network's, or
hand-crafted LBP / HOG ones and their geometry). The settings registry (check_params, the sweep's pre-check)
reads them without loading scikit-image or a deep-learning framework."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from ferpipe.core.errors import require
from ferpipe.core.settings import MAX_SEED, Expect, Settings

FEATURES = ("network", "lbp", "hog")
TRAIN_SOURCES = ("original", "augmented")
PROJECTIONS = ("pca", "tsne")
LBP_METHODS = ("nri_uniform", "uniform")


def _cells_of(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


CellCount = Annotated[int, Field(ge=1, le=64)]
Grid = Annotated[tuple[CellCount, CellCount], BeforeValidator(_cells_of),
                 Expect("two integers in [1, 64]: rows and columns of cells, e.g. [6, 6]")]


class LbpSettings(Settings):
    """Local binary pattern histograms on a grid of cells (`embed.features: lbp`)."""
    points: int = Field(ge=4, le=24, description="neighbours sampled on the circle (P)")
    radius: float = Field(gt=0, le=8, description="radius of the circle, px (R)")
    method: Literal[LBP_METHODS] = Field(description="nri_uniform: every uniform pattern its own code, P (P - 1) + 3 "
                                                     "codes (u2: 59 for P = 8) | uniform: rotations merged, P + 2 codes")
    grid: Grid = Field(description="cells over the crop, rows and columns; one histogram per cell, concatenated")


class HogSettings(Settings):
    """Histograms of oriented gradients (`embed.features: hog`)."""
    orientations: int = Field(ge=2, le=36, description="bins of unsigned gradient direction, 0..180 degrees")
    pixels_per_cell: int = Field(ge=2, le=64, description="side of a square cell, px")
    cells_per_block: int = Field(ge=1, le=16, description="side of a square normalisation block (L2-Hys), cells")


class EmbedSettings(Settings):
    """The features the SVM is fitted on, and their 2-D picture."""
    key = "embed"
    features: Literal[FEATURES] = Field(
        description="network: the trained network's `features` layer (the paper's deep features) | lbp: local binary "
                    "pattern histograms on a grid of cells (`embed.lbp`) | hog: histograms of oriented gradients "
                    "(`embed.hog`); lbp and hog read no model, the traditional baselines of the paper's Table 3")
    train_source: Literal[TRAIN_SOURCES] = Field(
        description="original: the un-augmented training crops (data/faces) | augmented: the x`augment.factor` set "
                    "(344k x 2,048 on FER-2013: too big for an RBF SVM)")
    projection: Literal[PROJECTIONS] = Field(description="plots/embeddings_2d.png, the test features in 2-D: pca | tsne")
    seed: int = Field(ge=0, le=MAX_SEED, description="of the t-SNE projection")
    lbp: LbpSettings = Field(description="the LBP features (used with features: lbp)")
    hog: HogSettings = Field(description="the HOG features (used with features: hog)")


def check_fits(kind: str, settings: LbpSettings | HogSettings, size: int) -> None:
    """The settings must fit size x size crops: an error naming the parameter and the params file otherwise."""
    where = f"{settings.params_file}: embed.{kind}"
    if kind == "lbp":
        require(max(settings.grid) <= size, f"{where}.grid {list(settings.grid)} has more cells than the "
                                             f"{size}x{size} crops have pixels a side")
        require(2 * settings.radius < size, f"{where}.radius {settings.radius} does not fit {size}x{size} crops")
    else:
        block = settings.pixels_per_cell * settings.cells_per_block
        require(block <= size, f"{where}: a block of {settings.cells_per_block}x{settings.cells_per_block} cells of "
                               f"{settings.pixels_per_cell} px ({block} px) does not fit {size}x{size} crops")
