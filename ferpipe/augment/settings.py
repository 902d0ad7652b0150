"""The `augment` stage's settings, apart from its code: the settings registry (check_params, the sweep's
pre-check) reads them without loading OpenCV."""
from __future__ import annotations

from pydantic import Field

from ferpipe.core.settings import MAX_SEED, Settings


class AugmentSettings(Settings):
    """How each training image becomes `factor` images."""
    key = "augment"
    seed: int = Field(ge=0, le=MAX_SEED, description="of the random variants")
    factor: int = Field(ge=1, le=100, description="images out per training image, the original included (the paper's 12)")
    flip: float = Field(ge=0, le=1, description="probability of a horizontal flip")
    brightness: float = Field(ge=0, le=1, description="largest grey-level shift, fraction of 255")
    contrast: float = Field(ge=0, le=1, description="contrast factor drawn from [1 - c, 1 + c]")
    crop: float = Field(ge=0.1, le=1, description="cross-cut: a random crop keeps at least this fraction of the side, "
                                                  "resized back (1: none)")
    shift: float = Field(ge=0, le=0.5, description="largest translation, fraction of the side")
    rotation: float = Field(ge=0, le=180, description="largest rotation, degrees")
