"""Each claim of the paper beside what was measured, with a one-line verdict.

An accuracy or error figure holds when the paper's figure lies inside the exact (Clopper-Pearson)
95% interval of the measured proportion on the test images; the SVM-against-softmax claim holds when
the paired bootstrap 95% interval of the measured difference contains the paper's difference and not
0. A claim measured on another dataset or network than the paper's cannot be judged, and says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import binomtest

from ferpipe.report import fmt
from ferpipe.report.paper import Paper
from ferpipe.report.run_description import budget_text, protocol_text, shorter_than_paper
from ferpipe.report.sweep_table import SweepTable

HOLDS, FAILS, UNJUDGED = "holds", "does not hold", "cannot be judged"
NAMES = {"fer2013": "FER-2013", "ckplus": "CK+", "genki4k": "GENKI-4K", "resnet50": "ResNet-50", "lenet": "LeNet"}
SWEEP_DATASETS = ("fer2013", "ckplus")  # the paper names FER-2013; its data description is CK+'s


@dataclass(frozen=True)
class Claim:
    claim: str
    where: str
    claimed: str
    measured: str
    dataset: str
    protocol: str
    test_images: str
    verdict: str


@dataclass(frozen=True)
class Run:
    """What the report knows of one run: its setting and its metrics."""
    dataset: str
    arch: str
    features: str  # what the SVM is fitted on: network, lbp or hog (embed.features)
    protocol: str
    budget: str
    shorter_than_paper: bool
    metrics: dict[str, dict[str, Any]]  # stem -> contents: data, train, softmax, svm, compare

    @classmethod
    def from_params(cls, flat: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> Run:
        """`flat`: the run's parameters, flattened (`train.steps_per_epoch`)."""
        return cls(dataset=metrics.get("data", {}).get("dataset", flat["dataset"]), arch=flat["arch"],
                   features=flat["embed.features"], protocol=protocol_text(flat), budget=budget_text(flat),
                   shorter_than_paper=shorter_than_paper(flat), metrics=metrics)

    @property
    def handcrafted(self) -> str | None:
        """LBP or HOG where the SVM is on hand-crafted features, not the network's; None otherwise."""
        return None if self.features == "network" else self.features.upper()


def proportion_interval(fraction: float, n: int) -> tuple[float, float]:
    """Exact 95% interval, in %, of a proportion measured as `fraction` of `n` images."""
    ci = binomtest(round(fraction * n), n).proportion_ci(confidence_level=0.95, method="exact")
    return 100.0 * ci.low, 100.0 * ci.high


def interval_verdict(claimed: float, measured_fraction: float, n: int, what: str, short: bool) -> str:
    """`what` ("test error", "val error", "SVM accuracy"...) names the split its `n` images come from."""
    low, high = proportion_interval(measured_fraction, n)
    inside = low <= claimed <= high
    images = "val images" if what.startswith("val ") else "test images"
    verdict = (f"{HOLDS}: {fmt.percent(claimed)} is inside" if inside else
               f"{FAILS}: {fmt.percent(claimed)} is outside") + \
        f" the 95% interval {fmt.percent(low)}..{fmt.percent(high)} of the measured {what} on {n} {images}"
    return verdict + ("; trained for less than the paper's 50 epochs" if short else "")


def difference_verdict(claimed: float, low: float, high: float) -> str:
    """The SVM-against-softmax rule: the bootstrap interval (points) must hold the claimed gain and exclude 0."""
    interval = f"the 95% interval {fmt.points(low)}..{fmt.points(high)}"
    if not low <= claimed <= high:
        side = "more" if low > claimed else "less"
        return f"{FAILS}: {interval} excludes {fmt.points(claimed)} (the SVM gains {side} than that)"
    if low <= 0.0:
        return f"{UNJUDGED}: {interval} holds both {fmt.points(claimed)} and no difference (too few test images)"
    return f"{HOLDS}: {interval} holds {fmt.points(claimed)} and excludes no difference"


def display_name(key: str) -> str:
    return NAMES.get(key, key)


def _not_judged(measured_how: str, claim_about: str) -> str:
    return f"{UNJUDGED}: measured {measured_how}, the claim is about {claim_about}"


def accuracy_claim(paper: Paper, run: Run) -> Claim:
    claim = paper.claims["accuracy"]
    svm = run.metrics.get("svm", {})
    claimed = float(claim["accuracy_percent"])
    if run.dataset != claim["dataset"]:
        verdict = _not_judged(f"on {display_name(run.dataset)}", display_name(claim["dataset"]))
    elif run.handcrafted:
        verdict = _not_judged(f"with {run.handcrafted} features", f"{display_name(claim['arch'])} features")
    elif run.arch != claim["arch"]:
        verdict = _not_judged(f"with {display_name(run.arch)} features", f"{display_name(claim['arch'])} features")
    elif "accuracy" not in svm:
        verdict = f"{UNJUDGED}: no SVM metrics (metrics/svm.json)"
    else:
        verdict = interval_verdict(claimed, svm["accuracy"], svm["n"], "SVM accuracy", run.shorter_than_paper)
    return Claim("accuracy of the deep features + RBF SVM", claim["where"], f"{fmt.percent(claimed)} %",
                 _pct_or_missing(svm.get("accuracy")) + " % (SVM)", run.dataset, run.protocol,
                 fmt.plain(svm.get("n")), verdict)


def _pct_or_missing(fraction: float | None) -> str:
    return fmt.percent(None if fraction is None else 100.0 * fraction)


def svm_vs_softmax_claim(paper: Paper, run: Run) -> Claim:
    claim = paper.claims["svm_vs_softmax"]
    cmp = run.metrics.get("compare", {})
    claimed = float(claim["difference_points"])
    measured = fmt.MISSING
    if "accuracy_difference" not in cmp:
        verdict = f"{UNJUDGED}: no comparison (metrics/compare.json)"
    else:
        diff, low, high = (100.0 * cmp[k] for k in ("accuracy_difference", "bootstrap_ci95_low", "bootstrap_ci95_high"))
        measured = (f"{fmt.points(diff)} points (95% interval {fmt.points(low)}..{fmt.points(high)}, "
                    f"McNemar p = {fmt.p_value(cmp['mcnemar_p_value'])})")
        if run.handcrafted:
            verdict = _not_judged(f"with the SVM on {run.handcrafted} features",
                                  "an SVM on the network's own features")
        elif run.arch != claim["arch"]:
            verdict = _not_judged(f"with {display_name(run.arch)} features", f"{display_name(claim['arch'])} features")
        else:
            verdict = difference_verdict(claimed, low, high)
    return Claim("SVM better than the softmax head", claim["where"], f"{fmt.points(claimed)} points", measured,
                 run.dataset, run.protocol, fmt.plain(cmp.get("n")), verdict)


def data_claim(paper: Paper, run: Run) -> Claim:
    data = paper.data
    claimed = "/".join(str(data["images"][s]) for s in ("train", "val", "test"))
    counts = run.metrics.get("data", {}).get("counts", {})
    measured = "/".join(fmt.plain(counts.get(s, {}).get("total")) for s in ("train", "val", "test"))
    if run.dataset != data["dataset"]:
        verdict = _not_judged(f"on {display_name(run.dataset)}", f"{display_name(data['dataset'])}'s images")
    elif measured == claimed:
        verdict = f"{HOLDS}: the same train/val/test counts"
    else:
        verdict = f"{FAILS}: {display_name(data['dataset'])} has {measured} train/val/test images here, not {claimed}"
    return Claim("data: train/val/test images", data["where"], claimed, measured, run.dataset, run.protocol,
                 fmt.plain(counts.get("test", {}).get("total")), verdict)


def sweep_claims(paper: Paper, table: SweepTable) -> list[Claim]:
    """One claim per row of a sweep table for which the paper gives a figure."""
    paper_table = paper.tables.get(table.sweep)
    if paper_table is None:
        return []
    claims = []
    for row in table.rows:
        for key, claimed in row["paper"].items():
            what = key.replace("_", " ")
            measured_pct = row[key]
            n = row["test_images"] if key == "test_error" else row.get("val_images")
            label = f"{what} at {table.param} = {fmt.plain(row['value'])}"
            if table.dataset not in SWEEP_DATASETS:
                verdict = _not_judged(f"on {display_name(table.dataset)}", "FER-2013 (CK+ by its data description)")
            elif table.arch != paper_table.arch:
                verdict = _not_judged(f"with {display_name(table.arch)}", display_name(paper_table.arch))
            elif measured_pct is None or not n:
                verdict = f"{UNJUDGED}: not measured (experiment `{row['experiment']}` has no {what})"
            else:
                verdict = interval_verdict(claimed, measured_pct / 100.0, n, what, table.shorter_than_paper)
            claims.append(Claim(label, paper_table.where, f"{fmt.percent(claimed)} %",
                                f"{fmt.percent(measured_pct)} % (`{row['experiment']}`)", table.dataset,
                                f"{table.protocol}; {table.budget}", fmt.plain(n),
                                verdict))
    return claims
