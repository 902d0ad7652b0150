"""The `generalize` stage's target: photos of smiling and non-smiling faces that the model never saw.

- `genki4k`: GENKI-4K (the paper's generalization test), read with the fetch loader from
  `sources.genki4k` or $FERPIPE_SOURCE_GENKI4K.
- `demo`: the synthetic stand-in that makes the stage real on the default pipeline. Demo faces are
  rendered with their own seed (other subjects and draws than the training set's `fetch.seed`) at
  their own size, then put on a wider 4:3 canvas of another kind of background (smooth colour
  noise instead of the renderer's indoor shapes) at a random place, with a soft edge. Every
  `happy` face is a smile; as many non-smiles are taken evenly from the six other expressions, so
  that the classes are balanced like GENKI-4K's (2,162 smiles, 1,838 not).

Both come as canonical records labelled non_smile (0) / smile (1), split into a `val` part (where
the zero-shot threshold is chosen) and a `test` part (the rest), stratified and seeded.
"""
from __future__ import annotations

import cv2
import numpy as np

from ferpipe.apply.settings import DemoTarget, Genki4kSource
from ferpipe.data.dataset import ImageRecord
from ferpipe.data.sources import genki4k
from ferpipe.data.sources.demo_faces import DEMO_CLASSES, demo_faces_at
from ferpipe.data.sources.download import materialize
from ferpipe.data.splits import stratified_split

TARGET_CLASSES = genki4k.CLASSES  # non_smile, smile
SMILE = TARGET_CLASSES.index("smile")
SMILE_EXPRESSION = "happy"  # the model's class whose probability is P(smile)
CANVAS = (1.6, 1.3)  # demo canvas width and height, in face-image sides
EDGE = 0.08  # demo: width of the soft edge of the pasted face image, fraction of its side


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth colour noise with fine grain: nothing like the renderer's flat shapes."""
    coarse = rng.uniform(0, 255, (3, 4, 3)).astype(np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return field + rng.normal(0, 8, field.shape).astype(np.float32)


def demo_photo(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rendered face image placed on a wider canvas of another background, with a soft edge."""
    side = face.shape[0]
    width, height = round(CANVAS[0] * side), round(CANVAS[1] * side)
    canvas = _background(rng, height, width)
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    ramp = np.clip(np.minimum(np.arange(side), np.arange(side)[::-1]) / (EDGE * side), 0, 1)
    alpha = np.minimum.outer(ramp, ramp)[..., None]
    window = canvas[top:top + side, left:left + side]
    canvas[top:top + side, left:left + side] = alpha * face + (1 - alpha) * window
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def demo_records(target: DemoTarget) -> list[ImageRecord]:
    """Every rendered smile and as many non-smiles, dealt round-robin over the six other expressions."""
    smile = DEMO_CLASSES.index(SMILE_EXPRESSION)
    others = [c for c in range(len(DEMO_CLASSES)) if c != smile]
    # indices of generate_demo's images, which come class by class, per_class each
    smiles = [smile * target.per_class + i for i in range(target.per_class)]
    non_smiles = [c * target.per_class + i for i in range(target.per_class) for c in others][:target.per_class]
    rendered = demo_faces_at(target.seed, target.per_class, target.size, smiles + non_smiles)
    rng = np.random.default_rng([target.seed, 1])  # the canvas draws, apart from the renderer's
    records = []
    for i in sorted(smiles + non_smiles):
        image, label, subject = rendered[i]
        records.append(ImageRecord("test", SMILE if label == smile else 1 - SMILE, subject, f"demo target {i} ({DEMO_CLASSES[label]})",
                              demo_photo(image, rng)))
    return records


def genki4k_records(params: dict, params_file: str, seed: int) -> list[ImageRecord]:
    # The same source params as `fetch`: a local folder or archive, or a sha256-pinned download.
    where = Genki4kSource.from_params(params, params_file)
    path = materialize("genki4k", where.sources.model_dump(), where.fetch.sha256.model_dump(), params_file)
    _, records = genki4k.load(path, 0.0, 0.0, seed)
    return records


def assign_parts(records: list[ImageRecord], val_fraction: float, seed: int) -> None:
    """Mark a stratified, seeded `val_fraction` of the records `val`, the rest `test`."""
    parts = stratified_split(np.array([r.label for r in records]), val_fraction, 0.0, seed)
    for record, part in zip(records, parts):
        record.split = "val" if part == "val" else "test"


def load_target(target: str, demo: DemoTarget, params: dict, params_file: str, val_fraction: float, seed: int
                ) -> list[ImageRecord]:
    records = demo_records(demo) if target == "demo" else genki4k_records(params, params_file, seed)
    assign_parts(records, val_fraction, seed)
    return records
