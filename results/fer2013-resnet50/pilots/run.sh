#!/usr/bin/env bash
# Short pilot runs of ResNet-50 on FER-2013 that chose the long run's recipe on PublicTest (val): each one
# the `train` stage itself on the augmented crops of the long run's data stages, with the settings of
# presets/fer2013_cpu.args changed by the pilot's own overrides. Run from the repository root with the
# environment activated; AUGMENTED is the folder of the data stages' train.npz and val.npz (a `dvc repro
# augment` of the preset on FER-2013), PARAMS that run's params.yaml.
#   results/fer2013-resnet50/pilots/run.sh one AUGMENTED PARAMS NAME [KEY=VALUE ...]  # one pilot -> pilots/NAME/
#   results/fer2013-resnet50/pilots/run.sh table                                       # pilots/README.md's table
# A pilot's model and checkpoints go to a scratch folder (PILOT_SCRATCH, default /tmp/ferpipe-pilots): only its
# params.yaml, metrics (train.json), dvclive's per-epoch tables (curves/) and the stage's lines (log.txt) are kept
# here. A killed pilot run again resumes from its checkpoint (the speed in its last line is then the resumed part's).
set -euo pipefail
HERE=results/fer2013-resnet50/pilots
case "${1:-}" in
  one)
    augmented=$2 base=$3 name=$4
    shift 4
    out=$HERE/$name scratch=${PILOT_SCRATCH:-/tmp/ferpipe-pilots}/$name
    mkdir -p "$out" "$scratch"
    python - "$base" "$out/params.yaml" "$@" <<'PY'
import sys, yaml
base, target, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
params = yaml.safe_load(open(base))
params["sources"] = {key: None for key in params["sources"]}  # the data's path is no setting of the pilot
for override in overrides:
    key, value = override.split("=", 1)
    block = params
    *parents, last = key.split(".")
    for part in parents:
        block = block[part]
    block[last] = yaml.safe_load(value)
yaml.safe_dump(params, open(target, "w"), sort_keys=False)
PY
    python stages/train.py --params "$out/params.yaml" --train "$augmented/train.npz" --val "$augmented/val.npz" \
      --model "$scratch/model" --live "$scratch/live" --metrics "$out/train.json" --checkpoints "$scratch/checkpoints" \
      --pretrained "$scratch/pretrained" 2>&1 | tr '\r' '\n' | grep -E '^(\{"epoch"|train: |error: |resuming )' | tee "$out/log.txt"
    # every epoch's figures, those a resumed pilot replayed from its checkpoint included (dvclive's tables)
    rm -rf "$out/curves" && cp -r "$scratch/live/plots/metrics" "$out/curves"
    ;;
  table)
    python - "$HERE" <<'PY'
import json, sys, yaml
from pathlib import Path
here = Path(sys.argv[1])
keys = ["lr", "batch_size", "epochs", "train.input_size", "train.warmup_epochs", "train.label_smoothing",
        "train.mixup", "train.weight_decay", "train.schedule"]
def flat(params, key):
    value = params
    for part in key.split("."):
        value = value[part]
    return value
print("| pilot | " + " | ".join(keys) + " | PublicTest accuracy per epoch | best | train loss (last) | img/s |")
print("|" + "---|" * (len(keys) + 5))
for folder in sorted(p for p in here.iterdir() if (p / "train.json").is_file()):
    params = yaml.safe_load(open(folder / "params.yaml"))
    metrics = json.loads((folder / "train.json").read_text())
    lines = open(folder / "log.txt").read().splitlines()
    def column(name):
        rows = (folder / "curves" / f"{name}.tsv").read_text().splitlines()[1:]
        return [float(row.split("\t")[1]) for row in rows]
    epochs = [{"val/accuracy": value} for value in column("val/accuracy")]
    speed = next((line.split(" training images/s")[0].rsplit(", ", 1)[-1] for line in lines if line.startswith("train: ")), "")
    curve = " / ".join(f"{100 * e['val/accuracy']:.1f}" for e in epochs)
    print(f"| {folder.name} | " + " | ".join(str(flat(params, k)) for k in keys)
          + f" | {curve} | **{100 * metrics['best_val_accuracy']:.1f}** | {column('train/loss')[-1]:.3f} | "
          f"{speed} |")
PY
    ;;
  *)
    echo "usage: $0 one AUGMENTED PARAMS NAME [KEY=VALUE ...] | $0 table" >&2
    exit 2
    ;;
esac
