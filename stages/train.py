"""Stage `train`: fit ResNet-50 (or the paper's LeNet) on the augmented training crops; keep the best val epoch.

Reads data/augmented/{train,val}.npz; writes the model (data/model/model.keras + model.json), the
per-epoch curves (plots/train/) and metrics/train.json. Reads the top-level keys arch, backend,
weights, lr, batch_size, epochs, n_kerns, pool_size and the `train:` block. `weights` may name a ferpipe
model folder under --pretrained (data/pretrained/): its ResNet-50 backbone starts this one. A killed
run resumes from its last finished epoch (checkpoints in --checkpoints, removed when training ends).
`main` returns what `ferpipe.nn.training.train` returned (its speed is the GPU benchmark's figure).
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.errors import require
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.data.arrays import load_split
from ferpipe.nn.backend import select_backend, torch_sees_cuda
from ferpipe.nn.settings import train_config
from ferpipe.nn.pretrained import check_source_fits, describe_source, is_model_folder
from ferpipe.nn.precision import resolve_loop

if TYPE_CHECKING:
    from ferpipe.nn.training import EpochLogger, TrainResult


@contextlib.contextmanager
def epoch_curves(live_dir: Path, curves: bool) -> Iterator[EpochLogger]:
    """Log each epoch's metrics as dvclive curves in `live_dir`; with `curves` False, nowhere (`live_dir`
    stays empty), for a machine without dvc and dvclive (benchmarks/gpu_fer2013.py)."""
    if not curves:
        live_dir.mkdir()
        yield lambda entry: None
        return
    from dvclive import Live

    from ferpipe.nn.live import dvclive_logger

    with Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None) as live:
        yield dvclive_logger(live)


def main(argv: list[str] | None = None, curves: bool = True) -> TrainResult:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--train")
    parser.add_argument("--val")
    parser.add_argument("--model", help="output folder: model.keras and model.json")
    parser.add_argument("--live", help="output folder of the dvclive curves")
    parser.add_argument("--metrics")
    parser.add_argument("--pretrained",
                        help="the folder a ferpipe model given as `weights` must lie in (a DVC dependency)")
    parser.add_argument("--checkpoints", help="per-epoch checkpoints (not a DVC output)")
    args = parser.parse_args(argv)
    with staged_outputs(args.model, args.live, args.metrics) as (model_dir, live_dir, metrics_path):
        cfg = train_config(load_params(args.params), params_file=args.params)
        train_split, val_split = load_split(args.train), load_split(args.val)
        classes = [str(c) for c in train_split["classes"]]
        require(classes == [str(c) for c in val_split["classes"]], f"{args.val}: its classes differ from {args.train}'s")
        crop_size = int(train_split["images"].shape[1])
        source = None
        if is_model_folder(cfg.weights):
            source = describe_source(cfg.weights, cfg.train.input_size)
            check_source_fits(source, crop_size, Path(args.pretrained))
        # The PyTorch loop runs beside Keras' torch backend: TensorFlow loaded in the same process slows
        # PyTorch's CPU kernels several times (docs/benchmarks.md). The saved model.keras loads on either.
        loop = resolve_loop(cfg.train.loop, cfg.arch, torch_sees_cuda())
        select_backend("torch" if loop == "torch" else cfg.backend)
        from ferpipe.nn.models import FEATURES_LAYER
        from ferpipe.nn.saved import ModelInfo, write_model_folder
        from ferpipe.nn.training import train

        with epoch_curves(live_dir, curves) as log_epoch:
            result = train(cfg, train_split["images"], train_split["labels"], val_split["images"], val_split["labels"],
                           len(classes), Path(args.checkpoints), log_epoch=log_epoch)
        write_model_folder(model_dir, result.model, ModelInfo(
            classes=classes, crop_size=crop_size, feature_layer=FEATURES_LAYER, config=cfg.as_dict(),
            precision=result.precision, pretrained=source))
        last = result.history[-1]
        metrics_path.write_text(json.dumps({
            "arch": cfg.arch, "backend": cfg.backend, "lr": cfg.lr, "batch_size": cfg.batch_size,
            "epochs": len(result.history), "best_epoch": result.best_epoch,
            "best_val_accuracy": result.best_val_accuracy, "best_val_loss": result.best_val_loss,
            "final_train_loss": last["train/loss"], "final_train_accuracy": last["train/accuracy"],
            "train_images": int(len(train_split["images"])), "val_images": int(len(val_split["images"])),
            "precision": result.precision, "loop": result.loop,
            "pretrained": source.model_dump() if source else None,
        }, indent=2) + "\n")
        print(f"train: best val accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch}/{cfg.epochs}, "
              f"{result.seconds:.0f} s, {result.images_per_s:.1f} training images/s ({result.loop} loop, {result.precision})")
    return result


if __name__ == "__main__":
    run_stage(main)
