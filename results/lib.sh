# Sourced by the results folders' run.sh scripts: what a sweep log keeps, and the report of one experiment.

log_lines() {  # what sweep_log.txt keeps of a sweep's output: what was queued, each stage's result line, the summary
  tr '\r' '\n' | grep -aE '^(queued |==== |experiment |(fetch|faces|augment|train|evaluate_softmax|embed|svm|compare|generalize|report): |[a-z0-9_]+ on [a-z0-9]+ |tables: |error: )' | grep -av '%|' || true
}

# experiment_report RESULTS EXPERIMENT --tables FILE [--tables FILE ...]: the experiment's params.yaml, metrics/
# and plots/ read from its experiment commit (nothing is re-run, and the workspace stays as it is), and REPORT.md
# written beside them by the report stage (table paths relative to RESULTS).
experiment_report() {
  local results=$1 name=$2 rev stem plot
  shift 2
  rev=$(git for-each-ref --format='%(objectname)' "refs/exps/*/*/$name")
  mkdir -p "$results/metrics" "$results/plots"
  git show "$rev:params.yaml" > "$results/params.yaml"
  for stem in data faces augment train softmax svm compare; do
    git show "$rev:metrics/$stem.json" > "$results/metrics/$stem.json"
  done
  for plot in compare_recall.png embeddings_2d.png; do git show "$rev:plots/$plot" > "$results/plots/$plot"; done
  (cd "$results" && python ../../stages/report.py --params params.yaml --paper ../../paper.yaml "$@" --out REPORT.md)
}
