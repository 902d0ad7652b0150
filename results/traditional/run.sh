#!/usr/bin/env bash
# How results/traditional/ was made: the paper's Table 3 claim ("outperforms traditional expression
# recognition algorithms") tested on one protocol: the network's deep features against hand-crafted ones
# (`embed.features: lbp`, `hog`, params.yaml's settings), each with the same RBF SVM (C and gamma chosen on
# val), on the same test images. The stage scripts run directly, each run in a folder of its own under
# $WORK (default /tmp/ferpipe-traditional; the crops, models and features stay there, not committed) with
# a params.yaml written from the repository's and the overrides below. Run from the repository root with
# the environment activated (and PYTHONPATH=. for a clone that is not the editable install).
#   results/traditional/run.sh ckplus-paper PATH/TO/CK+48    # the paper's frame-level split: LeNet, LBP, HOG
#   results/traditional/run.sh ckplus-kfold PATH/TO/CK+48    # the subject 10-fold: LBP, HOG (the LeNet's
#                                                            #   figures are results/ckplus's k-fold sweep)
#   results/traditional/run.sh fer2013 PATH/TO/RUN           # FER-2013: LBP, HOG on the crops of a ResNet-50
#       run's folder (data/faces/, data/predictions/, metrics/ and params.yaml of results/fer2013-resnet50/run.sh)
#   results/traditional/run.sh report PATH/TO/RUN            # the three-way tables and REPORT.md files (RUN: the
#                                                            #   FER-2013 ResNet-50 run's folder, as above)
#   results/traditional/run.sh report-fer2013 PATH/TO/RUN    # FER-2013's alone (after `fer2013` alone)
set -euo pipefail
RESULTS=results/traditional
REPO=$(pwd)
WORK=${WORK:-/tmp/ferpipe-traditional}
# sweeps.yaml's paper_lenet: the paper's LeNet at its Table 2 settings, as in results/ckplus/
LENET=(arch=lenet train.input_size=48 lr=0.05 batch_size=56 epochs=50 "n_kerns=[20,50]" "pool_size=[2,2]"
       train.schedule=constant train.steps_per_epoch=null)
HANDCRAFTED=(lbp hog)

write_params() {  # write_params FILE OVERRIDE...: the repository's params.yaml with the overrides, checked
  mkdir -p "$(dirname "$1")"
  python - "$@" <<'PY'
import sys, yaml
from ferpipe.experiments.overrides import apply_overrides
from ferpipe.registry import check_stage_params
params = apply_overrides("params.yaml", sys.argv[2:])
check_stage_params(params, sys.argv[1])
open(sys.argv[1], "w").write(yaml.safe_dump(params, sort_keys=False))
PY
}

stage() {  # stage DIR PARAMS NAME ARGS...: stages/NAME.py in DIR; its result lines go to run_log.txt
  local dir=$1 params=$2 name=$3
  shift 3
  echo "==== $(basename "$dir") $name $(date -u +%H:%M:%S)" >> "$RESULTS/run_log.txt"
  (cd "$dir" && python "$REPO/stages/$name.py" --params "$params" "$@") 2>&1 \
    | tee >(tr '\r' '\n' | grep -aE '^([a-z_]+: |compare on |error: |\{"epoch")' >> "$RESULTS/run_log.txt")
}

handcrafted() {  # handcrafted DIR: embed + svm (+ compare against the softmax where there is one) for LBP and HOG
  local dir=$1 kind
  for kind in "${HANDCRAFTED[@]}"; do
    sed "s/^  features: network$/  features: $kind/" "$dir/params.yaml" > "$dir/params-$kind.yaml"
    stage "$dir" "params-$kind.yaml" embed --out "data/embeddings-$kind" --plot "plots/embeddings_2d-$kind.png"
    stage "$dir" "params-$kind.yaml" svm --embeddings "data/embeddings-$kind" --model "data/svm-$kind/model.skops" \
      --metrics "metrics/svm-$kind.json" --grid "plots/svm_grid-$kind.json" --confusion "plots/svm_confusion-$kind.json" \
      --predictions "data/predictions/svm-${kind}_test.npz"
    if [ -f "$dir/data/predictions/softmax_test.npz" ]; then
      stage "$dir" "params-$kind.yaml" compare --svm "data/predictions/svm-${kind}_test.npz" \
        --metrics "metrics/compare-$kind.json" --plot "plots/compare_recall-$kind.png"
    fi
  done
}

ckplus_data() {
  CKPLUS=$(cd "${1:?usage: $0 ckplus-paper|ckplus-kfold PATH/TO/CK+48}" && pwd)
  DATA=(dataset=ckplus "sources.ckplus=$CKPLUS")
}

case "${1:-}" in
  ckplus-paper)
    ckplus_data "${2:-}"
    dir=$WORK/ckplus-paper
    write_params "$dir/params.yaml" "${DATA[@]}" fetch.ckplus_protocol=paper "${LENET[@]}"
    for name in fetch faces augment train evaluate_softmax embed svm compare; do stage "$dir" params.yaml $name; done
    handcrafted "$dir"
    ;;
  ckplus-kfold)
    ckplus_data "${2:-}"
    for fold in ${FOLDS:-0 1 2 3 4 5 6 7 8 9}; do  # FOLDS="0 1 2": some of them (the CPU lock's turns)
      dir=$WORK/ckplus-fold$fold
      write_params "$dir/params.yaml" "${DATA[@]}" fetch.ckplus_protocol=subject fetch.folds=10 "fetch.fold=$fold" \
        "${LENET[@]}" epochs=20  # results/ckplus's k-fold sweep: 20 epochs
      for name in fetch faces; do stage "$dir" params.yaml $name; done
      handcrafted "$dir"
    done
    ;;
  fer2013)
    run=$(cd "${2:?usage: $0 fer2013 PATH/TO/RUN}" && pwd)
    dir=$WORK/fer2013
    # the ResNet-50 run's SVM (C 1 / 10 / 100, gamma scale, the grid fitted on 5,000 training rows, refitted
    # on all) on the ResNet-50 run's crops (MTCNN, 48x48; PublicTest val, PrivateTest test)
    write_params "$dir/params.yaml" svm.grid_rows=5000
    mkdir -p "$dir/data/predictions" && rm -rf "$dir/data/faces" && cp -r "$run/data/faces" "$dir/data/faces"
    # its test predictions, where it has them: compare then sets LBP and HOG against its softmax
    for file in softmax_test.npz svm_test.npz; do
      [ ! -f "$run/data/predictions/$file" ] || cp "$run/data/predictions/$file" "$dir/data/predictions/"
    done
    handcrafted "$dir"
    ;;
  report|report-fer2013)
    # The three-way tables (the compare block's bootstrap: 10,000 resamples, seed 0), then the report stage
    # on the run's metrics with its three-way table; the data's location written as the variable it came from.
    traditional() {  # traditional OUT DIR...: the table of the runs in DIR... (one per fold), softmax and SVM where there
      local out=$1 args=() name file
      shift
      for name in softmax network lbp hog; do
        file=$([ $name = softmax ] && echo softmax || ([ $name = network ] && echo svm || echo "svm-$name"))_test.npz
        [ -f "$1/data/predictions/$file" ] || continue
        args+=("--$name")
        for dir in "$@"; do args+=("$dir/data/predictions/$file"); done
      done
      mkdir -p "$(dirname "$out")"
      rm -f "$out"  # this script's own table of an earlier run (a clone has no record that ferpipe wrote it)
      python -m ferpipe traditional --params "$1/params.yaml" "${args[@]}" --out "$out" | tee -a "$RESULTS/run_log.txt"
    }
    records() {  # records DIR OUT: params.yaml (the data's path as $VARIABLE) and metrics/ of a run
      mkdir -p "$2/metrics"
      cp "$1"/metrics/*.json "$2/metrics/"
      python - "$1/params.yaml" "$2/params.yaml" <<'PY'
import sys, yaml
params = yaml.safe_load(open(sys.argv[1]))
params["embed"].setdefault("features", "network")  # a run from before embed.features: the network's features
for name, path in params["sources"].items():
    params["sources"][name] = None if path is None else f"${name.upper()}"
open(sys.argv[2], "w").write(yaml.safe_dump(params, sort_keys=False))
PY
    }
    fer2013_report() {  # fer2013_report RUN: the ResNet-50 run's records, LBP's and HOG's metrics beside them, the
                        # three-way table, REPORT.md
      local run out=$RESULTS/fer2013
      run=$(cd "${1:?usage: $0 report PATH/TO/RUN}" && pwd)
      records "$run" "$out"
      cp "$WORK"/fer2013/metrics/*.json "$out/metrics/"
      mkdir -p "$out/plots" && cp "$run/plots/compare_recall.png" "$WORK"/fer2013/plots/compare_recall-*.png "$out/plots/"
      traditional "$out/traditional.json" "$WORK/fer2013"
      (cd "$out" && python ../../../stages/report.py --params params.yaml --paper ../../../paper.yaml \
         --tables ../../fer2013/sweeps/tables.json --traditional traditional.json --out REPORT.md)
    }
    if [ "$1" = report-fer2013 ]; then
      fer2013_report "${2:-}"
      exit 0
    fi
    dir=$WORK/ckplus-paper
    out=$RESULTS/ckplus-paper
    records "$dir" "$out"
    mkdir -p "$out/plots" && cp "$dir"/plots/compare_recall*.png "$out/plots/"
    traditional "$out/traditional.json" "$dir"
    (cd "$out" && python ../../../stages/report.py --params params.yaml --paper ../../../paper.yaml \
       --tables ../../ckplus/sweeps/tables.json --traditional traditional.json --out REPORT.md)
    folds=()
    for fold in 0 1 2 3 4 5 6 7 8 9; do
      folds+=("$WORK/ckplus-fold$fold")
      records "$WORK/ckplus-fold$fold" "$RESULTS/ckplus-kfold/fold$fold"
    done
    traditional "$RESULTS/ckplus-kfold/traditional.json" "${folds[@]}"
    # The LeNet's folds are results/ckplus's k-fold sweep (the same 10 folds: same data, seed and test images per
    # fold, checked here; its per-image predictions were not kept): LBP and HOG against it fold by fold, paired by
    # fold, the mean difference with its t-interval over the 10 folds (t, 9 degrees of freedom)
    python - "$RESULTS/ckplus-kfold/traditional.json" results/ckplus/sweeps/tables.json \
      "$RESULTS/ckplus-kfold/lenet_folds.json" <<'PY' | tee -a "$RESULTS/run_log.txt"
import json, statistics, sys
from scipy.stats import t
ours = json.load(open(sys.argv[1]))["pipelines"]
kfold = next(tb for tb in json.load(open(sys.argv[2]))["tables"] if tb["sweep"] == "kfold")
rows = sorted(kfold["rows"], key=lambda r: r["value"])
sizes = [r["test_images"] for r in rows]
for name, row in ours.items():
    assert row["images_per_file"] == sizes, (name, row["images_per_file"], sizes)
lenet = {"softmax": [r["softmax_accuracy"] for r in rows], "network": [r["svm_accuracy"] for r in rows]}
out = {"test_images_per_fold": sizes, "lenet_experiments": [r["experiment"] for r in rows], "pipelines": {},
       "comparisons": []}
for name, accs in [*lenet.items(), *((k, [100 * a for a in v["per_file"]]) for k, v in ours.items())]:
    pooled = sum(round(a / 100 * n) for a, n in zip(accs, sizes)) / sum(sizes)
    out["pipelines"][name] = {"per_fold": accs, "mean": statistics.fmean(accs), "sd": statistics.stdev(accs),
                              "pooled": 100 * pooled}
for deep in lenet:
    for crafted in ours:
        d = [a - b for a, b in zip(out["pipelines"][deep]["per_fold"], out["pipelines"][crafted]["per_fold"])]
        mean, sd = statistics.fmean(d), statistics.stdev(d)
        half = t.ppf(0.975, len(d) - 1) * sd / len(d) ** 0.5
        out["comparisons"].append({"deep": deep, "handcrafted": crafted, "mean_difference": mean, "sd": sd,
                                   "t95_low": mean - half, "t95_high": mean + half,
                                   "folds_deep_better": sum(x > 0 for x in d), "folds_handcrafted_better": sum(x < 0 for x in d)})
        c = out["comparisons"][-1]
        print(f"{deep} - {crafted} over 10 folds: {mean:+.1f} +- {sd:.1f} points (t 95% {c['t95_low']:+.1f}..{c['t95_high']:+.1f})")
json.dump(out, open(sys.argv[3], "w"), indent=2)
PY
    fer2013_report "${2:-}"
    ;;
  *)
    echo "usage: $0 ckplus-paper PATH | ckplus-kfold PATH | fer2013 PATH/TO/RUN | report PATH/TO/RUN | report-fer2013 PATH/TO/RUN" >&2
    exit 2
    ;;
esac
