"""The `train` stage's parameters, checked before any deep-learning framework is imported (this module
loads none: the registry and `check_params` read it on their own; `pretrained` reads a model folder's
model.json to check `weights`).

The paper's Table 2 names (`lr`, `batch_size`, `epochs`, `n_kerns`, `pool_size`) and the switches
`arch`, `backend`, `weights` live at the top level of params.yaml, so `dvc exp run -S lr=0.01`
works as typed; the rest sits in the `train:` block.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ferpipe.core.errors import require
from ferpipe.core.settings import MAX_SEED, Expect, Settings, invalid
from ferpipe.nn.pretrained import is_model_folder, source_problem

ARCHS = ("resnet50", "lenet")
BACKENDS = ("tensorflow", "torch")
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("auto", "mixed_float16", "mixed_bfloat16", "float32")
LOOPS = ("auto", "keras", "torch")
PRETRAINED_BATCHNORM = ("frozen", "train")
RESNET50_MIN_INPUT = 32  # keras.applications.ResNet50 refuses smaller inputs without its top
LENET_KERNEL = 5
TORCH_LOOP_ONLY = ("label_smoothing", "mixup")  # train.* keys that only the PyTorch loop (resnet50) implements
WEIGHTS = "imagenet, none, the path of an existing weights file or of a ferpipe model folder"


def _pair_of(value: Any) -> Any:
    """One integer n stands for [n, n]; a list is read as a tuple."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return tuple(value) if isinstance(value, list) else value


def _none_word(value: Any) -> Any:
    return None if isinstance(value, str) and value.lower() == "none" else value


MAX_KERNS = 1024  # LeNet filters per conv layer; 100,000 exhausts the memory of any machine
KernCount = Annotated[int, Field(ge=1, le=MAX_KERNS)]
Pair = Annotated[tuple[KernCount, KernCount], BeforeValidator(_pair_of),
                 Expect(f"two integers in [1, {MAX_KERNS}], e.g. [2, 2]")]
Weights = Annotated[Annotated[str, Field(min_length=1)] | None, BeforeValidator(_none_word), Expect(WEIGHTS)]


class Backend(Settings):
    """The top-level `backend` key, for the stages that only run a trained model."""
    key = ""
    backend: Literal[BACKENDS] = Field(description="Keras 3 backend: tensorflow | torch (a GPU machine with only "
                                                   "PyTorch needs -S backend=torch)")


class TrainBlock(Settings):
    """The rest of the training recipe."""
    key = "train"
    input_size: int = Field(ge=1, le=512,
                            description="crops are resized to this side before the network (ResNet-50 needs at "
                                        "least 32); 32 is the demo's CPU budget: from scratch, ResNet-50 at 48 px "
                                        "needs more epochs than fit in minutes")
    head_epochs: int = Field(ge=0, description="two-phase fine-tuning: first train only the new head this many epochs "
                                               "(with pretrained weights: imagenet, a file or a model folder), then every "
                                               "layer; below epochs")
    finetune_lr_factor: float = Field(gt=0, le=1, description="phase 2 of two-phase fine-tuning runs at lr x this (and "
                                                              "decays from there with the cosine schedule)")
    pretrained_batchnorm: Literal[PRETRAINED_BATCHNORM] = Field(
        description="BatchNorm layers of pretrained weights: frozen (keep the source's statistics, scale and offset, "
                    "inference mode, the Keras fine-tuning recipe) | train (re-estimated from each batch, like the "
                    "rest); ignored with weights: none, where BatchNorm always trains")
    dropout: float = Field(ge=0, lt=1, description="before the new softmax head (resnet50); 0.5 kept the demo's short "
                                                   "from-scratch run at chance")
    momentum: float = Field(ge=0, lt=1, description="the paper's MSGD is plain minibatch SGD; momentum 0.9 at lr 0.05 "
                                                    "diverged on FER-2013 (docs/pipeline.md)")
    nesterov: bool = Field(description="Nesterov momentum")
    weight_decay: float = Field(ge=0, description="SGD weight decay (0: none)")
    schedule: Literal[SCHEDULES] = Field(description="learning rate: cosine (decays to 0 over the run) | constant")
    warmup_epochs: float = Field(ge=0, description="the learning rate rises linearly from 0 to lr over this many "
                                                   "epochs' batches (a fraction is fine), then follows `schedule` over "
                                                   "the rest (0: no warm-up); with two-phase fine-tuning, phase 2's")
    label_smoothing: float = Field(ge=0, lt=1, description="the training loss's targets: 1 - s on the true class, s "
                                                           "spread evenly over all classes (0: plain cross-entropy; "
                                                           "the val loss stays plain; PyTorch loop only)")
    mixup: float = Field(ge=0, le=10, description="mixup's Beta(a, a) parameter a: each training batch is blended "
                                                  "with a shuffled copy of itself, inputs and targets alike, by one "
                                                  "weight drawn from Beta(a, a) (0: off; PyTorch loop only)")
    steps_per_epoch: int | None = Field(ge=1, description="cap on the batches of an epoch (null: the whole training set "
                                                          "each epoch); 58 x 32 = a quarter of the demo's x12 training "
                                                          "set per epoch, so the best epoch is picked among 10")
    mixed_precision: Literal[PRECISIONS] = Field(
        description="auto (the hardware's: mixed_bfloat16 on a CPU that executes bf16 natively, i.e. with avx512_bf16 "
                    "or AMX; float32 on other CPUs; mixed_float16 on a GPU) | mixed_bfloat16 | mixed_float16 (a GPU's, with loss "
                    "scaling; Keras loop only) | float32. bf16 keeps float32 weights, loss and softmax")
    loop: Literal[LOOPS] = Field(
        description="the training loop: auto (torch for resnet50 on a CPU, keras otherwise) | keras (model.fit on "
                    "`backend`) | torch (resnet50 only: the same network, optimizer and batches in plain PyTorch, "
                    "channels-last; about 2x Keras on a CPU, docs/benchmarks.md); the model is saved as Keras either way")
    seed: int = Field(ge=0, le=MAX_SEED, description="of the weights' initialisation, the batch order and dropout")


class TrainConfig(Settings):
    """The train stage's parameters: the paper's Table 2 names and the switches at the top level, and `train:`."""
    key = ""
    arch: Literal[ARCHS] = Field(description="resnet50 (the paper's fine-tuned network) | lenet (the paper's "
                                             "LeNet-style CNN)")
    backend: Literal[BACKENDS] = Backend.model_fields["backend"]
    weights: Weights = Field(description="resnet50 start: imagenet | none | path to a Keras ResNet-50 no-top weights "
                                         "file (.h5) | a ferpipe model folder under data/pretrained/ (a train stage's "
                                         "output: its ResNet-50 backbone, a new head; docs/transfer.md). The paper "
                                         "fine-tunes ImageNet weights: offline, put "
                                         "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 in ~/.keras/models/, "
                                         "then -S weights=imagenet")
    lr: float = Field(gt=0, description="learning rate; demo default chosen on val (benchmarks/results/"
                                        "demo_tuning.txt); paper Table 2: 0.05")
    batch_size: int = Field(ge=1, description="demo default: more steps in the CPU budget than 56 (chosen on val); "
                                              "paper Table 2: 56")
    epochs: int = Field(ge=1, le=10_000,
                        description="passes over the training set (capped by train.steps_per_epoch); paper "
                                    "Table 2: 50 (`dvc exp run -S epochs=50`); the demo's 6 keep it CPU-sized")
    n_kerns: Pair = Field(description="lenet: filters of its two 5x5 conv layers (paper Table 2)")
    pool_size: Pair = Field(description="lenet: max-pool window after each conv layer (paper Table 2)")
    train: TrainBlock = Field(description="the rest of the training recipe")

    @field_validator("weights")
    @classmethod
    def _weights_exist(cls, value: str | None) -> str | None:
        if value is not None and value != "imagenet" and not Path(value).is_file() and not Path(value).is_dir():
            raise invalid("", f"must be {WEIGHTS}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _fits_the_arch(self) -> TrainConfig:
        t = self.train
        if self.weights is not None and self.arch != "resnet50":
            raise invalid("weights", f"must be none for arch={self.arch} (only resnet50 loads weights; {self.arch} "
                                     f"trains from scratch), got {self.weights!r}")
        if self.arch == "resnet50" and is_model_folder(self.weights):
            problem = source_problem(self.weights, t.input_size)
            if problem:
                raise invalid("weights", problem)
        if self.arch == "resnet50" and t.input_size < RESNET50_MIN_INPUT:
            raise invalid("train.input_size", f"must be at least {RESNET50_MIN_INPUT} for ResNet-50, got {t.input_size}")
        if t.head_epochs > self.epochs - 1:
            raise invalid("train.head_epochs", f"must be an integer in [0, {self.epochs - 1}] (below epochs), "
                                               f"got {t.head_epochs}")
        if self.arch != "resnet50" and t.head_epochs:
            raise invalid("train.head_epochs", f"must be 0 for arch={self.arch} (two-phase fine-tuning applies to "
                                               f"arch=resnet50 only), got {t.head_epochs}")
        for key in TORCH_LOOP_ONLY:
            if getattr(t, key) and (t.loop == "keras" or self.arch != "resnet50"):
                raise invalid(f"train.{key}", f"must be 0 with arch={self.arch} and train.loop={t.loop}: only the "
                                              f"PyTorch loop of resnet50 trains with it, got {getattr(t, key)}")
        if t.warmup_epochs and t.warmup_epochs > self.epochs - t.head_epochs:
            raise invalid("train.warmup_epochs", f"must be at most the {self.epochs - t.head_epochs} epochs of the "
                                                 f"phase it warms up, got {t.warmup_epochs}")
        if t.loop == "torch" and self.arch != "resnet50":
            raise invalid("train.loop", f"must be auto or keras for arch={self.arch} (the PyTorch loop trains "
                                        f"resnet50 only), got 'torch'")
        if self.arch == "lenet":
            problem = _lenet_maps(t.input_size, self.pool_size)[1]
            if problem:
                raise invalid("", problem)
        return self

    def as_dict(self) -> dict[str, Any]:
        """Every training parameter in one flat mapping (model.json's `config`)."""
        return {**self.model_dump(exclude={"train"}), **self.train.model_dump()}

    @property
    def batchnorm_frozen(self) -> bool:
        """Pretrained BatchNorm layers keep their statistics, scale and offset (and run in inference
        mode) while the rest of the backbone trains; from scratch, BatchNorm always trains."""
        return self.weights is not None and self.train.pretrained_batchnorm == "frozen"


def train_config(params: dict[str, Any], params_file: str = "params.yaml") -> TrainConfig:
    """Check every training parameter; a bad one raises FerpipeError naming the file and the parameter."""
    return TrainConfig.from_params(params, params_file)


def lenet_feature_sizes(input_size: int, pool_size: tuple[int, int], params_file: str = "params.yaml"
                        ) -> list[tuple[int, int]]:
    """Feature-map sizes after each conv(5x5, valid) + max-pool of the paper's LeNet.

    Raises FerpipeError naming `params_file` and pool_size when a pool window is larger than the map it pools.
    """
    sizes, problem = _lenet_maps(input_size, pool_size)
    require(problem is None, f"{params_file}: {problem}")
    return sizes


def _lenet_maps(input_size: int, pool_size: tuple[int, int]) -> tuple[list[tuple[int, int]], str | None]:
    """The feature-map sizes, or what makes them impossible."""
    h = w = input_size
    sizes: list[tuple[int, int]] = []
    for layer in (1, 2):
        if h < LENET_KERNEL or w < LENET_KERNEL:
            if layer == 1:
                return sizes, (f"train.input_size={input_size} is too small for LeNet's {LENET_KERNEL}x{LENET_KERNEL} "
                               "convolutions")
            return sizes, (f"pool_size={list(pool_size)} leaves a {h}x{w} feature map after LeNet's pool 1, smaller "
                           f"than its second {LENET_KERNEL}x{LENET_KERNEL} convolution (input {input_size}x{input_size})")
        h, w = h - LENET_KERNEL + 1, w - LENET_KERNEL + 1
        if pool_size[0] > h or pool_size[1] > w:
            return sizes, (f"pool_size={list(pool_size)} is larger than the {h}x{w} feature map after LeNet's conv "
                           f"{layer} (input {input_size}x{input_size})")
        h, w = h // pool_size[0], w // pool_size[1]
        sizes.append((h, w))
    return sizes, None
