"""Stage `export`: the kept network and the SVM as ONNX, with a model card, for programs without the training stack.

Reads data/model/, data/svm/model.skops, data/augmented/test.npz (parity check) and the metrics of
fetch, evaluate_softmax and svm; writes data/export/: network.onnx (input `crops`; outputs
`probabilities` and `features`), svm.onnx (input `features`; outputs `label` and `scores`) and
model_card.json (classes, crop size and preprocessing, the faces: settings, the dataset's content
hash, each head's test accuracy, the parity measured, each file's sha256). Reads the top-level
`backend` key and the `faces:` block.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.faces.settings import FaceSettings
from ferpipe.nn.backend import backend_param, select_backend
from ferpipe.nn.saved import read_model_info


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--model")
    parser.add_argument("--svm")
    parser.add_argument("--test")
    parser.add_argument("--data-metrics")
    parser.add_argument("--softmax-metrics")
    parser.add_argument("--svm-metrics")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    with staged_outputs(args.out) as (out,):
        params = load_params(args.params)
        backend = backend_param(params, args.params)
        faces = FaceSettings.from_params(params, args.params)
        read_model_info(args.model)  # fail before the framework loads
        select_backend(backend)
        from ferpipe.export.run import run_export

        card = run_export(Path(args.model), Path(args.svm), Path(args.test), Path(args.data_metrics),
                          Path(args.softmax_metrics), Path(args.svm_metrics), faces, backend, out)
        check = card["parity"]
        print(f"export: {args.out} ({card['network']['arch']} on {backend}); parity on {check['crops']} test crops: "
              f"probabilities within {check['max_probability_difference']:.1e}, every argmax and SVM label equal")


if __name__ == "__main__":
    run_stage(main)
