#!/usr/bin/env bash
# How results/ckplus/ was made: the paper's LeNet sweeps (Table 4, Table 5, batch size) at its Table 2
# settings (50 epochs) on CK+48 under the paper's frame-level split and under the subject split, a
# 10-fold k-fold by subject at the Table 2 point, and the demo's ResNet-50 under both splits; then the
# tables and REPORT.md. Run from the repository root of a clone with a git identity, the environment
# activated (and PYTHONPATH=. for a clone that is not the editable install). The data: the CK+48
# folders (`<class>/S<subject>_<sequence>_<frame>.png`), given after `sweeps` or as CKPLUS=PATH.
#   results/ckplus/run.sh sweeps PATH/TO/ckplus [SWEEP ...]   # all sweeps below, or only those named
#   results/ckplus/run.sh report PATH/TO/ckplus   # tables, REPORT.md; the data path is written $CKPLUS
set -euo pipefail
RESULTS=results/ckplus
CKPLUS=${2:-${CKPLUS:-}}
if [ -z "$CKPLUS" ] || [ "${1:-}" != sweeps ] && [ "${1:-}" != report ]; then
  echo "usage: $0 sweeps PATH/TO/ckplus [SWEEP ...] | $0 report PATH/TO/ckplus (or CKPLUS=PATH)" >&2
  exit 2
fi
CKPLUS=$(cd "$CKPLUS" && pwd)

sweep() {  # sweep NAME PROTOCOL [-S ...]
  local name=$1 protocol=$2
  shift 2
  python -m ferpipe sweep "$name" -S dataset=ckplus -S "sources.ckplus=$CKPLUS" \
    -S "fetch.ckplus_protocol=$protocol" "$@" --out "$RESULTS/sweeps" 2>&1 | tee -a "$RESULTS/sweep_log.txt"
}

case "$1" in
  sweeps)
    shift 2 || shift $#
    wanted=" ${*:-table4 table5 kfold protocols batch} "
    for name in table4 table5 kfold protocols batch; do
      [[ $wanted == *" $name "* ]] || continue
      case $name in
        kfold) sweep kfold subject -S fetch.folds=10 ;;
        protocols) sweep protocols subject ;;  # the sweep sets the protocol of each of its two runs
        *) sweep "$name" paper; sweep "$name" subject ;;
      esac
    done
    ;;
  report)
    python - "$CKPLUS" "$RESULTS" <<'PY'
import subprocess, sys
from ferpipe.results_report import main
main(["--data", sys.argv[1], "--out", sys.argv[2]])
PY
    ;;
esac
