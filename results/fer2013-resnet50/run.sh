#!/usr/bin/env bash
# How results/fer2013-resnet50/ was made: the paper's ResNet-50 (from scratch) + RBF SVM on the real
# FER-2013, with the settings of presets/fer2013_cpu.args, then the report of that run. Run from the
# repository root of a clone with a git identity and the environment activated (PYTHONPATH=. for a
# clone that is not the editable install). The data: FER-2013's Kaggle folders (or fer2013.csv),
# given as the argument after `run` or in the environment variable FER2013.
#   results/fer2013-resnet50/run.sh run PATH/TO/fer2013   # one `dvc exp run` of the whole pipeline
#   results/fer2013-resnet50/run.sh report                # the run's params, metrics and plots beside
#                                                         # its REPORT.md, the data's path written $FER2013
#   results/fer2013-resnet50/run.sh progress              # progress.md: the epochs of a run still training
set -euo pipefail
RESULTS=results/fer2013-resnet50
case "${1:-}" in
  run)
    FER2013=${2:-${FER2013:-}}
    if [ -z "$FER2013" ]; then
      echo "error: results/fer2013-resnet50/run.sh run needs FER-2013's location: run.sh run PATH, or FER2013=PATH" >&2
      exit 1
    fi
    # The epochs' lines and each stage's result line go to run_log.txt (progress bars stay on the terminal).
    dvc exp run -n fer2013-resnet50 $(sed 's/#.*//' presets/fer2013_cpu.args) -S "sources.fer2013=$FER2013" 2>&1 \
      | tee >(tr '\r' '\n' | grep -E '^(\{"epoch"|Running stage|[a-z_]+: )' > "$RESULTS/run_log.txt")
    ;;
  report)
    mkdir -p "$RESULTS/metrics" "$RESULTS/plots"
    FER2013=$(python -c 'import yaml; print(yaml.safe_load(open("params.yaml"))["sources"]["fer2013"])')
    sed "s|$FER2013|\$FER2013|" params.yaml > "$RESULTS/params.yaml"
    cp metrics/{data,faces,augment,train,softmax,svm,compare,generalize}.json "$RESULTS/metrics/"
    cp plots/compare_recall.png plots/embeddings_2d.png "$RESULTS/plots/"
    cp -r plots/train "$RESULTS/plots/"
    (cd "$RESULTS" && python ../../stages/report.py --params params.yaml --paper ../../paper.yaml \
       --tables ../fer2013/sweeps/tables.json --out REPORT.md)
    ;;
  progress)
    # The long run's epochs so far, read from its checkpoint folder (CHECKPOINTS, default the train stage's):
    # written to progress.md whenever a stretch of work stops, so that a run that spans sessions is on record.
    python - "${CHECKPOINTS:-data/checkpoints/train}/state.json" "$RESULTS/progress.md" <<'PY'
import json, sys
from datetime import datetime, timezone
state = json.load(open(sys.argv[1]))["state"]
rows = ["| pass | train loss | train accuracy % | PublicTest loss | PublicTest accuracy % | learning rate |",
        "|---|---|---|---|---|---|"]
rows += [f"| {e['epoch']} | {e['train/loss']:.3f} | {100 * e['train/accuracy']:.1f} | {e['val/loss']:.3f} | "
         f"{100 * e['val/accuracy']:.1f} | {e['lr']:.4g} |" for e in state["history"]]
best = f"best so far: pass {state['best_epoch']}, PublicTest {100 * state['best_val_accuracy']:.1f}%"
when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
note = ("The train loss is the training objective (label smoothing included, where the run smooths); "
        "PublicTest's is plain cross-entropy. A pass is `train.steps_per_epoch` batches.")
open(sys.argv[2], "w").write(f"# The long run so far ({state['epochs_done']} passes done; {best}; read {when})\n\n"
                             + "\n".join(rows) + "\n\n" + note + "\n")
PY
    ;;
  *)
    echo "usage: $0 run PATH/TO/fer2013 | $0 report | $0 progress" >&2
    exit 2
    ;;
esac
