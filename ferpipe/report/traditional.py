"""The paper's Table 3 claim, that its deep features + SVM "outperform traditional expression recognition
algorithms", judged on one protocol: the three-way table of `python -m ferpipe traditional` (the network's
features, LBP and HOG, each with the RBF SVM, on the same test images).

Table 3's own figures come from other papers, data and protocols: they are quoted, never judged. The
claim holds when the network + SVM beats every hand-crafted pipeline measured, each paired bootstrap
95% interval of the difference above 0; it does not hold when a hand-crafted pipeline is better (an
interval below 0); otherwise it cannot be judged on these test images.
"""
from __future__ import annotations

from typing import Any

from ferpipe.report import fmt
from ferpipe.report.claims import FAILS, HOLDS, UNJUDGED, Claim, Run, display_name
from ferpipe.report.paper import Paper

DEEP_PIPELINE = "network"  # the paper's method: the network's features + the SVM
NOT_MEASURED = ("each from another paper, on its own data and protocol: quoted as the paper prints them, "
                "not measured on this protocol")
HOW = ("`python -m ferpipe sweep traditional` (or `embed.features: lbp` / `hog`) runs the hand-crafted pipelines, "
       "`python -m ferpipe traditional` sets their test predictions against the network's, and the report stage's "
       "`--traditional` brings that table here")


def _network_text(run: Run, paper: Paper) -> str:
    claimed = paper.claims["traditional"]["arch"]
    return "" if run.arch == claimed else \
        f"; measured with {display_name(run.arch)} features, not the paper's {display_name(claimed)}"


def _judged(table: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in table["comparisons"] if c["deep"] == DEEP_PIPELINE]


def traditional_claim(paper: Paper, run: Run, table: dict[str, Any] | None) -> Claim:
    claim = paper.claims["traditional"]
    quoted = [row["accuracy_percent"] for row in claim["table3"]]
    claimed = (f"{claim['accuracy_percent']:.2f} % against {min(quoted):.2f} to {max(quoted):.2f} % "
               "(Table 3: other papers' data and protocols)")
    comparisons = _judged(table) if table else []
    if not comparisons:
        return Claim("deep features + SVM beat traditional methods", claim["where"], claimed, fmt.MISSING, run.dataset,
                     run.protocol, fmt.MISSING, f"{UNJUDGED}: no three-way table on this protocol (see the Table 3 "
                                                "section)")
    pipelines = table["pipelines"]
    measured = "; ".join(
        f"{pipelines[c['deep']]['label']} − {pipelines[c['handcrafted']]['label']} {fmt.points(100 * c['difference'])} "
        f"points ({fmt.points(100 * c['ci95_low'])}..{fmt.points(100 * c['ci95_high'])})" for c in comparisons)
    names = " and ".join(pipelines[c["handcrafted"]]["label"] for c in comparisons)
    if all(c["ci95_low"] > 0 for c in comparisons):
        verdict = f"{HOLDS}: the network + SVM beats {names}, every 95% interval above 0"
    elif any(c["ci95_high"] < 0 for c in comparisons):
        better = [pipelines[c["handcrafted"]]["label"] for c in comparisons if c["ci95_high"] < 0]
        verdict = f"{FAILS}: the network + SVM is beaten by {' and '.join(better)} (95% interval below 0)"
    else:
        verdict = f"{UNJUDGED}: a 95% interval holds no difference (too few test images to tell)"
    return Claim("deep features + SVM beat traditional methods", claim["where"], claimed, measured, run.dataset,
                 run.protocol, fmt.plain(table["n"]), verdict + _network_text(run, paper))


def traditional_section(paper: Paper, run: Run, table: dict[str, Any] | None) -> list[str]:
    claim = paper.claims["traditional"]
    quoted = fmt.md_table(["method (the paper's Table 3)", "accuracy % as printed"],
                          [[row["method"], f"{row['accuracy_percent']:.2f}"] for row in claim["table3"]]
                          + [["ResNet-50 + SVM (the paper's own)", f"{claim['accuracy_percent']:.2f}"]])
    parts = ["## Deep against hand-crafted features (the paper's Table 3)", "",
             f"The paper: {claim['passage']} Table 3's figures are {NOT_MEASURED}:", "", quoted, ""]
    if not table:
        return parts + [f"No three-way table on this protocol: {HOW}."]
    pipelines = table["pipelines"]
    several = table["files_per_pipeline"] > 1
    header = ["pipeline", f"test accuracy % ({table['n']} images" + (", all folds pooled)" if several else ")")]
    header += ["mean ± sd over the folds"] if several else []
    rows = [[row["label"], fmt.percent(100 * row["accuracy"])]
            + ([fmt.mean_sd({"mean": 100 * row["mean"], "sd": None if row["sd"] is None else 100 * row["sd"]})]
               if several else []) for row in pipelines.values()]
    if not table["comparisons"]:
        return parts + [fmt.md_table(header, rows), "", "No deep pipeline in the table, so no comparison and no verdict."]
    versus = [[c["difference_is"], fmt.points(100 * c["difference"]),
               f"{fmt.points(100 * c['ci95_low'])}..{fmt.points(100 * c['ci95_high'])}", fmt.p_value(c["mcnemar_p_value"]),
               f"{c['deep_only_correct']} / {c['handcrafted_only_correct']}"] for c in table["comparisons"]]
    verdict = traditional_claim(paper, run, table).verdict
    return parts + [
        (f"Measured here on {display_name(run.dataset)} ({run.protocol}; network: {run.budget}): every pipeline on the "
         "same test images, each hand-crafted one with the same RBF SVM, C and gamma chosen on val."), "",
        fmt.md_table(header, rows), "",
        fmt.md_table(["deep minus hand-crafted", "points", f"paired bootstrap 95% interval ({table['bootstrap_resamples']} "
                      "resamples)", "exact McNemar p", "right only by the deep / the hand-crafted one"], versus), "",
        f"**Verdict:** {verdict}."]
