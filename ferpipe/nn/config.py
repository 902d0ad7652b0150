"""The `train` stage's parameters, checked before any deep-learning framework is imported.

The paper's Table 2 names (`lr`, `batch_size`, `epochs`, `n_kerns`, `pool_size`) and the switches
`arch`, `backend`, `weights` live at the top level of params.yaml, so `dvc exp run -S lr=0.01`
works as typed; the rest sits in the `train:` block.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferpipe.core.errors import require
from ferpipe.core.params import pick

ARCHS = ("resnet50", "lenet")
BACKENDS = ("tensorflow", "torch")
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("mixed_float16", "mixed_bfloat16", "float32")
TOP_LEVEL_KEYS = ("arch", "backend", "weights", "lr", "batch_size", "epochs", "n_kerns", "pool_size")
BLOCK_KEYS = ("input_size", "head_epochs", "dropout", "momentum", "nesterov", "weight_decay", "schedule",
              "steps_per_epoch", "mixed_precision", "seed")
RESNET50_MIN_INPUT = 32  # keras.applications.ResNet50 refuses smaller inputs without its top
LENET_KERNEL = 5


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    backend: str
    weights: str | None  # "imagenet", a weights file path, or None (random initialisation)
    lr: float
    batch_size: int
    epochs: int
    n_kerns: tuple[int, int]
    pool_size: tuple[int, int]
    input_size: int
    head_epochs: int
    dropout: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str
    steps_per_epoch: int | None
    mixed_precision: str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    require(_is_int(value) and value >= minimum, f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _pair(name: str, value: Any) -> tuple[int, int]:
    if _is_int(value):
        value = [value, value]
    require(isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) and v >= 1 for v in value),
            f"{name} must be two positive integers, e.g. [2, 2], got {value!r}")
    return int(value[0]), int(value[1])


def _weights(value: Any, arch: str) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    require(isinstance(value, str) and value != "", f"weights must be imagenet, none or a weights file path, got {value!r}")
    require(arch == "resnet50", f"weights={value!r}: only arch=resnet50 loads weights; lenet trains from scratch (use weights=none)")
    if value != "imagenet":
        require(Path(value).is_file(), f"weights={value!r}: no such weights file (or use weights=imagenet or weights=none)")
    return value


def train_config(params: dict[str, Any], source: str = "params.yaml") -> TrainConfig:
    """Check every training parameter; a bad one raises FerpipeError naming it."""
    top = pick(params, *TOP_LEVEL_KEYS, "train", source=source)
    block = top.pop("train")
    require(isinstance(block, dict), f"{source}: train must be a mapping")
    block = pick(block, *BLOCK_KEYS, source=f"{source} (train block)")

    arch, backend = top["arch"], top["backend"]
    require(arch in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    require(backend in BACKENDS, f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    require(_is_number(top["lr"]) and top["lr"] > 0, f"lr must be a number > 0, got {top['lr']!r}")
    epochs = _positive_int("epochs", top["epochs"])
    input_size = _positive_int("train.input_size", block["input_size"])
    if arch == "resnet50":
        require(input_size >= RESNET50_MIN_INPUT,
                f"train.input_size={input_size} is too small for ResNet-50 (at least {RESNET50_MIN_INPUT})")
    head_epochs = block["head_epochs"]
    require(_is_int(head_epochs) and 0 <= head_epochs < epochs,
            f"train.head_epochs must be an integer in 0..epochs-1 ({epochs - 1}), got {head_epochs!r}")
    require(arch == "resnet50" or head_epochs == 0, "train.head_epochs: two-phase fine-tuning applies to arch=resnet50 only")
    for name in ("dropout", "momentum"):
        value = block[name]
        require(_is_number(value) and 0 <= value < 1, f"train.{name} must be a number in [0, 1), got {value!r}")
    require(isinstance(block["nesterov"], bool), f"train.nesterov must be true or false, got {block['nesterov']!r}")
    require(_is_number(block["weight_decay"]) and block["weight_decay"] >= 0,
            f"train.weight_decay must be a number >= 0, got {block['weight_decay']!r}")
    require(block["schedule"] in SCHEDULES, f"train.schedule must be one of {', '.join(SCHEDULES)}, got {block['schedule']!r}")
    steps = block["steps_per_epoch"]
    require(steps is None or (_is_int(steps) and steps >= 1),
            f"train.steps_per_epoch must be null (whole training set) or an integer >= 1, got {steps!r}")
    require(block["mixed_precision"] in PRECISIONS,
            f"train.mixed_precision must be one of {', '.join(PRECISIONS)}, got {block['mixed_precision']!r}")
    require(_is_int(block["seed"]), f"train.seed must be an integer, got {block['seed']!r}")

    return TrainConfig(
        arch=arch, backend=backend, weights=_weights(top["weights"], arch), lr=float(top["lr"]),
        batch_size=_positive_int("batch_size", top["batch_size"]), epochs=epochs,
        n_kerns=_pair("n_kerns", top["n_kerns"]), pool_size=_pair("pool_size", top["pool_size"]),
        input_size=input_size, head_epochs=head_epochs, dropout=float(block["dropout"]),
        momentum=float(block["momentum"]), nesterov=block["nesterov"], weight_decay=float(block["weight_decay"]),
        schedule=block["schedule"], steps_per_epoch=steps, mixed_precision=block["mixed_precision"],
        seed=block["seed"],
    )


def lenet_feature_sizes(input_size: int, pool_size: tuple[int, int]) -> list[tuple[int, int]]:
    """Feature-map sizes after each conv(5x5, valid) + max-pool of the paper's LeNet.

    Raises FerpipeError naming pool_size when a pool window is larger than the map it pools.
    """
    h = w = input_size
    sizes = []
    for layer in (1, 2):
        if layer == 2:
            require(h >= LENET_KERNEL and w >= LENET_KERNEL,
                    f"pool_size={list(pool_size)} leaves a {h}x{w} feature map after LeNet's pool 1, smaller than "
                    f"its second {LENET_KERNEL}x{LENET_KERNEL} convolution (input {input_size}x{input_size})")
        else:
            require(h >= LENET_KERNEL, f"train.input_size={input_size} is too small for LeNet's {LENET_KERNEL}x{LENET_KERNEL} convolutions")
        h, w = h - LENET_KERNEL + 1, w - LENET_KERNEL + 1
        require(pool_size[0] <= h and pool_size[1] <= w,
                f"pool_size={list(pool_size)} is larger than the {h}x{w} feature map after LeNet's conv {layer} "
                f"(input {input_size}x{input_size})")
        h, w = h // pool_size[0], w // pool_size[1]
        sizes.append((h, w))
    return sizes
