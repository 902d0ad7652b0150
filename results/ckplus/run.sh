#!/usr/bin/env bash
# How results/ckplus/ was made: the paper's LeNet sweeps (Table 4, Table 5, batch size) at its Table 2
# settings (50 epochs) on CK+48 under the paper's frame-level split and under the subject split, a
# 10-fold k-fold by subject at the Table 2 point, and the demo's ResNet-50 under both splits; then the
# tables and REPORT.md. Run from the repository root of a clone with a git identity, the environment
# activated (and PYTHONPATH=. for a clone that is not the editable install). The data: the CK+48
# folders (`<class>/S<subject>_<sequence>_<frame>.png`), given after `sweeps` or as CKPLUS=PATH.
#   results/ckplus/run.sh sweeps PATH/TO/ckplus [SWEEP ...]   # all sweeps below, or only those named
#   results/ckplus/run.sh report PATH/TO/ckplus   # the tables, REPORT.md; the data path is written $CKPLUS
set -euo pipefail
RESULTS=results/ckplus
CKPLUS=${2:-${CKPLUS:-}}
if [ -z "$CKPLUS" ] || [ "${1:-}" != sweeps ] && [ "${1:-}" != report ]; then
  echo "usage: $0 sweeps PATH/TO/ckplus [SWEEP ...] | $0 report PATH/TO/ckplus (or CKPLUS=PATH)" >&2
  exit 2
fi
CKPLUS=$(cd "$CKPLUS" && pwd)

source "$(dirname "$0")/../lib.sh"

sweep() {  # sweep NAME [-S ...]: its output on the terminal, its result lines appended to sweep_log.txt
  local name=$1 output status=0
  shift
  output=$(mktemp)
  python -m ferpipe sweep "$name" -S dataset=ckplus -S "sources.ckplus=$CKPLUS" "$@" --out "$RESULTS/sweeps" 2>&1 \
    | tee "$output" || status=$?
  log_lines < "$output" >> "$RESULTS/sweep_log.txt"
  rm -f "$output"
  return "$status"
}

case "$1" in
  sweeps)
    shift 2 || shift $#
    wanted=" ${*:-table4 table5 kfold protocols batch} "
    for name in table4 table5 kfold protocols batch; do
      [[ $wanted == *" $name "* ]] || continue
      # The CPU budget of one working session (a 2-core CPU) cuts the epochs of two sweeps, which their
      # tables and verdicts say: the k-fold's ten runs to 20 and the batch sweep's to 10 (batch 1 makes
      # 4,032 to 9,420 steps an epoch). The ResNet-50 is the demo's (params.yaml: from scratch, 32 px,
      # 10 epochs of 58 batches of 32).
      case $name in
        kfold) sweep kfold -S fetch.ckplus_protocol=subject -S fetch.folds=10 -S epochs=20 ;;
        protocols) sweep protocols ;;  # the sweep sets the split of each of its two runs
        *) for split in paper subject; do
             sweep "$name" -S "fetch.ckplus_protocol=$split" $([ "$name" = batch ] && echo "-S epochs=10")
           done ;;
      esac
    done
    ;;
  report)
    # The tables from DVC's experiments, then the Table 2 point under the paper's split (Table 4's run at
    # lr 0.05): its params.yaml, metrics/ and plots/ read from its experiment commit (nothing is re-run, and
    # the workspace stays as it is), beside the report that links them.
    python -m ferpipe tables --out "$RESULTS/sweeps"
    name=$(python -m ferpipe tables --out "$RESULTS/sweeps" --find table4 dataset=ckplus fetch.ckplus_protocol=paper lr=0.05)
    experiment_report "$RESULTS" "$name" --tables sweeps/tables.json
    # The data's location as the variable it came from; its content hash (metrics/data.json) names the data.
    grep -rlF "$CKPLUS" "$RESULTS" | xargs -r sed -i "s#$CKPLUS#\$CKPLUS#g"
    ;;
esac
