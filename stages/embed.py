"""Stage `embed`: the features the SVM is fitted on, for train, val and test.

`embed.features: network`, the trained network's deep features (its `features` layer), reads
data/model/; `lbp` and `hog`, hand-crafted features (the traditional baselines), read no model.
The crops: train from data/faces/train.npz (`embed.train_source: original`) or data/augmented/train.npz (`augmented`), val and test from data/faces/. Writes
data/embeddings/{train,val,test}.npz (float32 features, labels, ids, classes) and
plots/embeddings_2d.png (the test features projected to 2-D, coloured by class). Reads the
`embed:` block and the top-level `backend` key.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.eval.plots import plot_projection, project_2d
from ferpipe.features.extract import embed_splits
from ferpipe.features.settings import EmbedSettings
from ferpipe.nn.backend import backend_param, select_backend
from ferpipe.nn.saved import read_model_info


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--model")
    parser.add_argument("--faces", help="folder of the faces stage's split files")
    parser.add_argument("--augmented-train")
    parser.add_argument("--out")
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    with staged_outputs(args.out, args.plot) as (out, plot):
        params = load_params(args.params)
        settings = EmbedSettings.from_params(params, args.params)
        backend = backend_param(params, args.params)
        faces = Path(args.faces)
        split_files = {"train": faces / "train.npz" if settings.train_source == "original" else Path(args.augmented_train),
                       "val": faces / "val.npz", "test": faces / "test.npz"}
        if settings.features == "network":
            read_model_info(args.model)  # fail before the framework loads
            select_backend(backend)
        out.mkdir()
        embedded, classes = embed_splits(settings, Path(args.model), split_files, out)
        test = embedded["test"]
        kind = "" if settings.features == "network" else f"{settings.features.upper()} "
        title = f"test {kind}features ({test['features'].shape[1]}-d), {settings.projection.upper()} to 2-D, by true class"
        plot_projection(plot, project_2d(test["features"], settings.projection, settings.seed), test["labels"],
                        classes, title)
        print("embed: " + ", ".join(f"{split} {data['features'].shape[0]} x {data['features'].shape[1]}"
                                    for split, data in embedded.items()))


if __name__ == "__main__":
    run_stage(main)
