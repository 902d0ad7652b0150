"""Stage `report`: REPORT.md, the paper's claims beside this run's metrics and the sweep tables, with verdicts.

Reads metrics/{data,train,softmax,svm,compare}.json, paper.yaml (the paper's own figures) and the
sweep tables (sweeps/tables.json, written by `python -m ferpipe tables`) and, where given with
--traditional, the three-way table of `python -m ferpipe traditional` (deep against hand-crafted
features on the same test images: the paper's Table 3 claim); writes REPORT.md. Reads the parameters
it describes the run with (ferpipe.report.settings.REPORT_PARAMS).
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import generated_file, staged_outputs
from ferpipe.core.params import load_params
from ferpipe.report.document import REPORT_MARK, ReportInputs, build_report
from ferpipe.report.inputs import read_json, read_tables, report_params
from ferpipe.report.paper import load_paper

METRICS = ("data", "train", "softmax", "svm", "compare")


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    for stem in METRICS:
        parser.add_argument(f"--{stem}")
    parser.add_argument("--paper", help="the paper's figures")
    # default=None: an appended option adds to its default, so dvc.yaml's file is taken only when none is given
    parser.add_argument("--tables", action="append", default=None, help="the sweep tables (python -m ferpipe tables; "
                        "default: dvc.yaml's); given again, the tables of another file join them (their plots stay in "
                        "their own file's folder)")
    parser.add_argument("--traditional", help="the three-way table of `python -m ferpipe traditional` (none: the Table 3 "
                                              "claim is left unjudged)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    args.tables = args.tables or [parser.get_default("tables")]
    with staged_outputs(args.out, recognise=generated_file(REPORT_MARK)) as (out_path,):
        params = report_params(load_params(args.params), args.params)
        tables = [(Path(path), table) for path in args.tables for table in read_tables(path)]
        metrics = {stem: read_json(getattr(args, stem), "run the stage that writes it (`dvc repro`)") for stem in METRICS}
        inputs = ReportInputs(params=params, metrics=metrics, paper=load_paper(args.paper),
                              tables=[table for _, table in tables], table_sources=[path for path, _ in tables],
                              tables_files=[Path(path) for path in args.tables],
                              out=Path(args.out),
                              traditional=read_json(args.traditional, "it is written by `python -m ferpipe traditional`")
                              if args.traditional else None)
        out_path.write_text(build_report(inputs))
        print(f"report: {args.out} ({metrics['data'].get('dataset')}, {len(inputs.tables)} sweep table(s))")


if __name__ == "__main__":
    run_stage(main)
