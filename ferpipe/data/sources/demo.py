"""The embedded demo dataset: synthetic faces generated from a seed, split by identity.

Whole identities go to train, val or test, so test accuracy is accuracy on unseen people. Every
identity shows every expression, so every class is in every split.
"""
from __future__ import annotations

import numpy as np

from ferpipe.data.dataset import ImageRecord
from ferpipe.data.sources.demo_faces import DEMO_CLASSES, generate_demo
from ferpipe.data.splits import subject_split


def load(per_class: int, size: int, val_fraction: float, test_fraction: float, seed: int
         ) -> tuple[list[str], list[ImageRecord]]:
    samples = generate_demo(seed, per_class, size)
    subjects = np.array([subject for _, _, subject in samples])
    labels = np.array([label for _, label, _ in samples])
    splits = subject_split(subjects, labels, val_fraction, test_fraction, seed)
    return list(DEMO_CLASSES), [ImageRecord(split, int(label), subject, f"demo:{i}", image)
                                for i, ((image, label, subject), split) in enumerate(zip(samples, splits))]
