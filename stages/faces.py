"""Stage `faces`: crop every image of the canonical dataset to its face with MTCNN.

Writes data/faces/{train,val,test}.npz (grey size x size crops), the detection report
metrics/faces.json and plots/faces_samples.png. Reads the `faces:` params block, and the speed-only
`runtime.faces:` block (device, workers, batch size), which dvc.yaml does not declare.
"""
from __future__ import annotations

import json
from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.data.dataset import Dataset
from ferpipe.faces.crop import crop_dataset, save_faces
from ferpipe.faces.detector import FaceDetector
from ferpipe.faces.summary import detection_report, plot_samples
from ferpipe.faces.settings import FaceRuntime, FaceSettings


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--dataset", help="canonical dataset folder (fetch's output)")
    parser.add_argument("--out", help="folder for the per-split face arrays")
    parser.add_argument("--metrics")
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    with staged_outputs(args.out, args.metrics, args.plot) as (out, metrics, plot):
        params = load_params(args.params)
        settings = FaceSettings.from_params(params, params_file=args.params)
        runtime = FaceRuntime.from_params(params, params_file=args.params)
        dataset = Dataset(args.dataset)
        splits = crop_dataset(dataset, settings, FaceDetector(settings, runtime))
        save_faces(Path(out), splits, dataset.classes)
        report = detection_report(splits)
        metrics.write_text(json.dumps(report, indent=2) + "\n")
        plot_samples(plot, splits, dataset.classes)
        print(f"faces: detection rate {report['all']['detection_rate']}, "
              f"{report['all']['fallback']} fallbacks, {report['all']['dropped']} dropped")


if __name__ == "__main__":
    run_stage(main)
