"""The `svm` stage's settings, apart from its code: the settings registry (check_params, the sweep's
pre-check) reads them without loading scikit-learn."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from ferpipe.core.settings import MAX_SEED, Expect, Settings, invalid

SVM_BACKENDS = ("sklearnex", "sklearn")
REFIT_ON = ("train", "train_val")
GAMMA_WORDS = ("scale", "auto")  # scikit-learn's: 1 / (features x variance), 1 / features
CALIBRATION_FOLDS = 5


def _grid_of(value: Any) -> Any:
    """A list as a tuple; a single value is a grid of one."""
    return tuple(value) if isinstance(value, list) else value if isinstance(value, tuple) else (value,)


MAX_GRID = 50  # values of C, and of gamma: every pair is one SVM fit
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
CGrid = Annotated[tuple[Positive, ...], BeforeValidator(_grid_of), Field(min_length=1, max_length=MAX_GRID),
                  Expect(f"a list of 1 to {MAX_GRID} numbers > 0")]
GammaGrid = Annotated[tuple[Positive | Literal[GAMMA_WORDS], ...], BeforeValidator(_grid_of),
                      Field(min_length=1, max_length=MAX_GRID),
                      Expect(f"a list of 1 to {MAX_GRID} numbers > 0 or " + " or ".join(GAMMA_WORDS))]


class SvmSettings(Settings):
    """The RBF SVM on the deep features and its (C, gamma) grid."""
    key = "svm"
    C: CGrid = Field(description="grid; the point with the best val accuracy is kept (`dvc exp run -S 'svm.C=[0.5,5]'`)")
    gamma: GammaGrid = Field(description="grid: numbers > 0, or scale (1 / (features x variance): 1 / features after "
                                         "standardising) or auto")
    pca: int | None = Field(ge=1, le=100_000, description="principal components kept after standardising (null: all features)")
    class_weight: Literal["balanced"] | None = Field(description="null | balanced")
    refit_on: Literal[REFIT_ON] = Field(description="the chosen C/gamma is refitted on: train | train_val")
    probability: bool = Field(description="class probabilities in the predictions file (sigmoid calibration: "
                                          f"{CALIBRATION_FOLDS} more fits)")
    grid_rows: int | None = Field(ge=2, le=10_000_000, description="fit the grid on this many random training rows (null: all); the "
                                                    "chosen point is refitted on all")
    backend: Literal[SVM_BACKENDS] = Field(description="sklearnex (scikit-learn-intelex's oneDAL SVC: the same RBF SVC, "
                                                       "several times faster) | sklearn")
    seed: int = Field(ge=0, le=MAX_SEED, description="of the PCA solver, the grid_rows sample and the calibration folds")

    @field_validator("C", "gamma")
    @classmethod
    def _no_repeats(cls, values: tuple) -> tuple:
        if len(set(values)) != len(values):
            raise invalid("", f"must be a list without repeated values, got {list(values)}")
        return values
