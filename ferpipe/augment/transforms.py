"""Training-set augmentation (the paper's 12x): each training image becomes `factor` images, the
original and factor - 1 random variants drawn from a seeded generator.

A variant combines a horizontal flip, a "cross-cut" (a random crop that keeps at least `crop` of
the side, re-sized back), a small shift and rotation (one affine warp, borders reflected), and a
brightness / contrast change. Only the training split is augmented; numpy and OpenCV only.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from ferpipe.augment.settings import AugmentSettings

CHUNK = 4096  # variants finished at a time: bounds the float working memory


@dataclass
class Variants:
    """The random draws for a batch of variants, one entry per variant."""
    original: np.ndarray  # index of the training image it comes from
    flip: np.ndarray
    angle: np.ndarray  # degrees, counter-clockwise
    keep: np.ndarray  # fraction of the side the crop keeps
    center: np.ndarray  # (n, 2) crop centre offset from the image centre, fraction of the side
    shift: np.ndarray  # (n, 2) translation, fraction of the side
    gain: np.ndarray  # contrast factor
    offset: np.ndarray  # brightness shift, grey levels

    @classmethod
    def draw(cls, n_images: int, s: AugmentSettings) -> Variants:
        rng = np.random.default_rng(s.seed)
        n = n_images * (s.factor - 1)
        keep = rng.uniform(s.crop, 1.0, n)
        return cls(
            original=np.tile(np.arange(n_images), s.factor - 1),
            flip=rng.random(n) < s.flip,
            angle=rng.uniform(-s.rotation, s.rotation, n),
            keep=keep,
            # The crop window stays inside the frame: its centre moves at most (1 - keep) / 2.
            center=rng.uniform(-1, 1, (n, 2)) * ((1 - keep) / 2)[:, None],
            shift=rng.uniform(-s.shift, s.shift, (n, 2)),
            gain=rng.uniform(1 - s.contrast, 1 + s.contrast, n),
            offset=rng.uniform(-s.brightness, s.brightness, n) * 255,
        )

    def caption(self, k: int) -> str:
        geometry = ("flip " if self.flip[k] else "") + f"{self.angle[k]:+.1f}deg crop {self.keep[k]:.2f}"
        return f"{geometry}\nb{self.offset[k]:+.0f} c{self.gain[k]:.2f}"


def warp(image: np.ndarray, v: Variants, k: int) -> np.ndarray:
    """Variant k's geometry: crop window scaled up to the full side, rotated, shifted, flipped."""
    size = image.shape[0]
    mid = (size - 1) / 2
    window = (mid + v.center[k, 0] * size, mid + v.center[k, 1] * size)
    matrix = cv2.getRotationMatrix2D(window, float(v.angle[k]), 1.0 / v.keep[k])
    matrix[:, 2] += (mid - window[0] + v.shift[k, 0] * size, mid - window[1] + v.shift[k, 1] * size)
    out = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return cv2.flip(out, 1) if v.flip[k] else out


def tone(images: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Contrast around each image's mean grey level, then a brightness shift; uint8 in and out."""
    x = images.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    x = (x - mean) * gain[:, None, None].astype(np.float32) + mean + offset[:, None, None].astype(np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def augment(images: np.ndarray, s: AugmentSettings) -> tuple[np.ndarray, np.ndarray, Variants]:
    """(N, S, S) uint8 -> (factor * N, S, S): the originals first, then the variants; also the
    index of each output's original image and the draws (for captions)."""
    v = Variants.draw(len(images), s)
    out = np.empty((len(images) * s.factor,) + images.shape[1:], dtype=np.uint8)
    out[:len(images)] = images
    with tqdm(total=len(v.original), unit="img", desc="augment") as progress:
        for start in range(0, len(v.original), CHUNK):
            ks = slice(start, min(start + CHUNK, len(v.original)))
            warped = np.stack([warp(images[v.original[k]], v, k) for k in range(ks.start, ks.stop)])
            out[len(images) + ks.start:len(images) + ks.stop] = tone(warped, v.gain[ks], v.offset[ks])
            progress.update(ks.stop - ks.start)
    original = np.concatenate([np.arange(len(images)), v.original])
    return out, original, v
