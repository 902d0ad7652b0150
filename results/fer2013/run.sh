#!/usr/bin/env bash
# How results/fer2013/ was made: the paper's LeNet Table 4 and Table 5 sweeps on the real FER-2013,
# then the report of the Table 2 point (lr 0.05, n-kerns [20, 50]). Run from the repository root of a
# clone with a git identity, the environment activated (and PYTHONPATH=. for a clone that is not the
# editable install). The data: FER-2013's Kaggle folders (or fer2013.csv), given as the argument after
# `sweeps` or in the environment variable FER2013.
#   results/fer2013/run.sh sweeps PATH/TO/fer2013   # queues and runs both sweeps, writes results/fer2013/sweeps/
#   results/fer2013/run.sh report   # applies the Table 2 experiment, writes results/fer2013/REPORT.md with
#                                   # that experiment's params.yaml, metrics/ and plots/ beside it (the
#                                   # workspace then holds that experiment: `git checkout -- .` to leave it)
set -euo pipefail
RESULTS=results/fer2013
case "${1:-}" in
  sweeps)
    FER2013=${2:-${FER2013:-}}
    if [ -z "$FER2013" ]; then
      echo "error: results/fer2013/run.sh sweeps needs FER-2013's location: run.sh sweeps PATH, or FER2013=PATH" >&2
      exit 1
    fi
    # The CPU budget: 20 epochs of 500 batches of 56 (28,000 of the 336,072 augmented training crops
    # each; the paper trains 50 full epochs), the SVM's C grid fitted on 5,000 training rows.
    SETTINGS=(-S dataset=fer2013 -S "sources.fer2013=$FER2013" -S epochs=20 -S train.steps_per_epoch=500
              -S svm.grid_rows=5000)
    python -m ferpipe sweep table4 "${SETTINGS[@]}" --out "$RESULTS/sweeps"
    python -m ferpipe sweep table5 "${SETTINGS[@]}" --out "$RESULTS/sweeps"
    ;;
  report)
    # The tables from DVC's experiments, not from files of the checkout, which may be older.
    python -m ferpipe tables --out "$RESULTS/sweeps"
    # The newest Table 4 experiment at the paper's Table 2 values (lr 0.05, n-kerns [20, 50]).
    name=$(python -m ferpipe tables --out "$RESULTS/sweeps" --find table4 dataset=fer2013 lr=0.05)
    dvc exp apply "$name"
    # The applied workspace holds the results/ of the experiment's commit: the tables are written again.
    python -m ferpipe tables --out "$RESULTS/sweeps"
    # The experiment's params, metrics and recall plot beside its report, which links them relatively.
    mkdir -p "$RESULTS/metrics" "$RESULTS/plots"
    cp params.yaml "$RESULTS/params.yaml"
    cp metrics/{data,faces,augment,train,softmax,svm,compare,generalize}.json "$RESULTS/metrics/"
    cp plots/compare_recall.png plots/embeddings_2d.png "$RESULTS/plots/"
    (cd "$RESULTS" && python ../../stages/report.py --params params.yaml --paper ../../paper.yaml \
       --tables sweeps/tables.json --out REPORT.md)
    ;;
  *)
    echo "usage: $0 sweeps PATH/TO/fer2013 | $0 report" >&2
    exit 2
    ;;
esac
