"""The evaluation stages' PNG plots: per-class recall side by side, the 2-D picture of the features."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from ferpipe.core.figures import save_png  # noqa: E402

TSNE_INPUT_DIMS = 50  # t-SNE runs on the first principal components (the usual speed-up)


def plot_recall(path: Path, classes: list[str], recall: dict[str, dict[str, float]], title: str) -> None:
    """Grouped bars: one group per class, one bar per classifier."""
    names = list(recall)
    width = 0.8 / len(names)
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(classes) + 2), 4.2))
    for i, name in enumerate(names):
        values = [recall[name][c] for c in classes]
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, classes, rotation=20)
    ax.set_ylim(0, 1.2)  # room for the legend above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("recall")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper center", ncol=len(names), fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def project_2d(features: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Standardised features projected to 2-D by PCA or (seeded) t-SNE."""
    x = StandardScaler().fit_transform(features)
    if method == "pca" or len(x) < 5:
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    x = PCA(n_components=min(TSNE_INPUT_DIMS, *x.shape), random_state=seed).fit_transform(x)
    return TSNE(n_components=2, init="pca", perplexity=min(30.0, (len(x) - 1) / 3), random_state=seed).fit_transform(x)


def plot_projection(path: Path, points: np.ndarray, labels: np.ndarray, classes: list[str], title: str) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    size = float(np.clip(3000 / len(points), 4, 30))  # big dots for a few points, small for thousands
    for k, name in enumerate(classes):
        mine = labels == k
        if mine.any():
            ax.scatter(points[mine, 0], points[mine, 1], s=size, alpha=0.7, color=colours(k % colours.N), label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    ax.legend(loc="best", fontsize=7, markerscale=1.5)
    fig.tight_layout()
    save_png(fig, path, dpi=100)
