"""The `compare` stage's settings, apart from its code: the settings registry (check_params, the sweep's
pre-check) reads them without loading SciPy, scikit-learn and matplotlib."""
from __future__ import annotations

from pydantic import Field

from ferpipe.core.settings import MAX_SEED, Settings

MIN_RESAMPLES = 100


class CompareSettings(Settings):
    """The softmax head against the SVM on the same test images."""
    key = "compare"
    bootstrap: int = Field(ge=MIN_RESAMPLES, le=100_000, description="paired bootstrap resamples of the test set (95% interval of "
                                                         "the accuracy difference)")
    seed: int = Field(ge=0, le=MAX_SEED, description="of the bootstrap resamples")
