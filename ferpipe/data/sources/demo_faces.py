"""Synthetic face-expression images: the pipeline's default dataset, generated offline from a seed.

Each image is a photo-like head and shoulders on a cluttered background: a skin ellipsoid lit by a
random directional light, hair, ears, neck, eyes (sclera, iris, lids) in shaded sockets, brows,
nose, lips. It is drawn at twice the output size and downsampled, then blurred and noised like a
cheap camera whose exposure is metered on the face. The expression lives in the mouth (curvature,
width, opening, teeth), the brows (height, inner-end tilt, arch) and the eyes (openness), plus
wrinkles (frown furrow, nose wrinkle, smile folds). The expressions are caricatures, each told from
the others by several features, because the default network (ResNet-50 from scratch, 32 px, trained
in the demo's CPU budget of minutes) must learn them from a few hundred images; pose, scale, skin tone, hair,
lighting, background and noise are milder nuisances. Expression strength varies a little per image.
Identities (face shape, skin, hair, feature geometry) come from a pool of up to MAX_SUBJECTS, each
showing every expression, so a split by identity keeps every class in every split. Images are RGB:
colour skin on a coloured background helps MTCNN.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import cv2
import numpy as np

from ferpipe.core.errors import require

# FER-2013 class ids: label id = position.
DEMO_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

MAX_SUBJECTS = 120  # identities: many, so that val and test each hold about a dozen unseen people
_RENDER_SCALE = 2
_FACE_GREY = 0.6  # grey level the camera exposes a face for
_SUBPIXEL_BITS = 4


@dataclass
class Expression:
    """Face geometry that an expression moves, in face units (face half-width = 1, v points down)."""
    mouth_curve: float      # corners above the mouth centre (+ smile, - frown)
    mouth_width: float      # half-width of the mouth
    mouth_open: float       # gap between the lips at the centre
    teeth: float            # fraction of the opening filled by upper teeth
    upper_lip_raise: float  # one-sided raise of the upper lip (disgust sneer)
    lip_thickness: float    # factor on the subject's lip thickness (pressed lips < 1)
    brow_raise: float       # brows moved up
    brow_tilt: float        # inner brow end down (+ anger) or up (- sadness, fear)
    brow_arch: float
    eye_open: float         # factor on the subject's upper-lid opening
    lower_lid_raise: float  # squint from below (smile, disgust)
    smile_folds: float      # nasolabial fold strength
    frown_furrow: float     # vertical lines between the brows
    nose_wrinkle: float
    forehead_lines: float


_NEUTRAL = Expression(0.0, 0.33, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.04, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)

# Caricatured prototypes: each class differs from every other in at least two of mouth, brows, eyes
# by several pixels at the 32 px the default network sees.
_PROTOTYPES = {
    "angry": Expression(-0.06, 0.26, 0.0, 0.0, 0.0, 0.35, -0.13, 0.3, 0.0, 0.6, 0.5, 0.0, 1.3, 0.4, 0.0),
    "disgust": Expression(-0.09, 0.30, 0.07, 0.6, 0.2, 1.0, -0.07, 0.08, 0.0, 0.5, 0.75, 0.4, 0.5, 1.3, 0.0),
    "fear": Expression(-0.03, 0.45, 0.2, 0.5, 0.0, 0.8, 0.15, -0.17, 0.0, 1.9, 0.0, 0.0, 0.4, 0.0, 0.8),
    "happy": Expression(0.24, 0.48, 0.09, 0.8, 0.0, 0.9, 0.02, 0.0, 0.06, 0.65, 0.65, 1.3, 0.0, 0.0, 0.0),
    "sad": Expression(-0.22, 0.27, 0.0, 0.0, 0.0, 0.9, 0.0, -0.24, 0.0, 0.6, 0.0, 0.0, 0.3, 0.0, 0.3),
    "surprise": Expression(0.0, 0.18, 0.36, 0.0, 0.0, 0.9, 0.2, -0.02, 0.12, 1.9, 0.0, 0.0, 0.0, 0.0, 1.2),
    "neutral": _NEUTRAL,
}

# Per-image jitter of each Expression field (standard deviation, face units).
_JITTER = Expression(0.012, 0.015, 0.008, 0.05, 0.01, 0.05, 0.012, 0.015, 0.01, 0.05, 0.04, 0.05, 0.05, 0.05, 0.05)


def _sample_expression(label: int, rng: np.random.Generator) -> Expression:
    """The class prototype at a random strength, jittered; strength < 1 drifts towards neutral."""
    proto = _PROTOTYPES[DEMO_CLASSES[label]]
    strength = 1.0 if proto is _NEUTRAL else rng.uniform(0.85, 1.15)
    values = {}
    for f in fields(Expression):
        base, target, sd = getattr(_NEUTRAL, f.name), getattr(proto, f.name), getattr(_JITTER, f.name)
        values[f.name] = base + strength * (target - base) + rng.normal(0.0, sd)
    expr = Expression(**values)
    expr.mouth_open = max(expr.mouth_open, 0.0)
    expr.mouth_width = max(expr.mouth_width, 0.12)
    expr.teeth = float(np.clip(expr.teeth, 0.0, 0.8))
    expr.eye_open = max(expr.eye_open, 0.3)
    return expr


@dataclass
class Subject:
    """A synthetic identity: what stays the same across one person's expressions."""
    skin: np.ndarray        # RGB in [0, 1]
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    hair_style: int         # 0 short, 1 long, 2 receding, 3 fringe
    face_height: float      # face half-height over half-width
    eye_gap: float          # eye centre distance from the midline
    eye_size: float
    eye_height: float
    brow_thickness: float
    nose_length: float
    mouth_level: float
    lip_size: float
    glasses: bool


_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.92, 0.72, 0.58], [0.84, 0.63, 0.48],
                        [0.72, 0.52, 0.38], [0.55, 0.38, 0.26], [0.40, 0.27, 0.18]])
_HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.22, 0.14, 0.08], [0.40, 0.26, 0.14],
                          [0.78, 0.64, 0.40], [0.55, 0.53, 0.50], [0.50, 0.22, 0.10]])
_IRIS_COLOURS = np.array([[0.30, 0.18, 0.10], [0.15, 0.10, 0.06], [0.30, 0.45, 0.60], [0.35, 0.42, 0.25]])


def _sample_subject(rng: np.random.Generator) -> Subject:
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.93, 1.05, 3)
    lips = skin * np.array([0.82, 0.55, 0.55]) + np.array([0.08, 0.0, 0.0])
    return Subject(
        skin=np.clip(skin, 0, 1),
        hair=np.clip(_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.85, 1.15), 0, 1),
        iris=_IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))],
        lips=np.clip(lips, 0, 1),
        hair_style=int(rng.integers(4)),
        face_height=rng.uniform(1.22, 1.45),
        eye_gap=rng.uniform(0.36, 0.44),
        eye_size=rng.uniform(0.2, 0.24),
        eye_height=rng.uniform(0.085, 0.1),
        brow_thickness=rng.uniform(0.08, 0.11),
        nose_length=rng.uniform(0.38, 0.48),
        mouth_level=rng.uniform(0.74, 0.84),
        lip_size=rng.uniform(0.06, 0.085),
        glasses=bool(rng.random() < 0.05),
    )


class _Camera:
    """Maps face coordinates (u right, v down, z towards the camera) to canvas pixels."""

    def __init__(self, centre: tuple[float, float], scale: float, roll: float, yaw: float, pitch: float):
        self.cx, self.cy = centre
        self.scale = scale
        # Python floats keep the per-pixel maths in float32 (NumPy scalars would promote it).
        self.cos_r, self.sin_r = float(np.cos(roll)), float(np.sin(roll))
        self.cos_y, self.sin_y = float(np.cos(yaw)), float(np.sin(yaw))
        self.cos_p, self.sin_p = float(np.cos(pitch)), float(np.sin(pitch))

    def project(self, u, v, z) -> np.ndarray:
        u, v, z = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float), np.asarray(z, float))
        x1 = u * self.cos_y + z * self.sin_y
        z1 = -u * self.sin_y + z * self.cos_y
        y1 = v * self.cos_p - z1 * self.sin_p
        px = self.cx + self.scale * (x1 * self.cos_r - y1 * self.sin_r)
        py = self.cy + self.scale * (x1 * self.sin_r + y1 * self.cos_r)
        return np.stack([px, py], axis=-1)

    def to_face_plane(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canvas pixels back to unrotated face-plane coordinates (for per-pixel shading)."""
        dx, dy = (px - self.cx) / self.scale, (py - self.cy) / self.scale
        return dx * self.cos_r + dy * self.sin_r, -dx * self.sin_r + dy * self.cos_r


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL_BITS)).astype(np.int32).reshape(-1, 1, 2)


def _fill(img: np.ndarray, points: np.ndarray, colour) -> None:
    cv2.fillPoly(img, [_fixed(points)], _colour(colour), lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)


def _line(img: np.ndarray, points: np.ndarray, colour, thickness: float) -> None:
    cv2.polylines(img, [_fixed(points)], False, _colour(colour), max(1, int(round(thickness))),
                  lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)


def _colour(colour):
    return tuple(float(c) for c in np.atleast_1d(colour))


def _ellipse(cu: float, cv: float, au: float, av: float, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return cu + au * np.cos(t), cv + av * np.sin(t)


def _depth(u, v, face_height: float) -> np.ndarray:
    """Height of the face surface above the face plane (an ellipsoid of depth 0.8)."""
    r2 = np.asarray(u) ** 2 + (np.asarray(v) / face_height) ** 2
    return 0.8 * np.sqrt(np.clip(1.0 - r2, 0.0, None))


def _draw_eye(img: np.ndarray, sclera: np.ndarray, iris: np.ndarray, pupil: np.ndarray, iris_colour) -> None:
    """Sclera, then iris and pupil clipped to it, drawn in the eye's bounding box only."""
    x0, y0 = np.maximum(np.floor(sclera.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(sclera.max(axis=0)).astype(int) + 2, img.shape[1::-1])
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    origin = np.array([x0, y0])
    eye_mask = np.zeros(roi.shape[:2], np.float32)
    _fill(eye_mask, sclera - origin, 1.0)
    eye_rgb = np.full(roi.shape, (0.88, 0.86, 0.82), np.float32)
    _fill(eye_rgb, iris - origin, iris_colour)
    _fill(eye_rgb, pupil - origin, (0.05, 0.04, 0.04))
    roi += (eye_rgb - roi) * eye_mask[..., None]


def _muted(rng: np.random.Generator, brightness: float) -> np.ndarray:
    """A random colour of the given mean brightness, mostly grey like indoor scenes."""
    return np.clip(brightness + rng.uniform(0.05, 0.5) * rng.uniform(-0.5, 0.5, 3), 0, 1)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    base = _muted(rng, rng.uniform(0.2, 0.8))
    low_freq = cv2.resize(rng.uniform(-0.15, 0.15, (4, 4, 3)).astype(np.float32), (size, size),
                          interpolation=cv2.INTER_CUBIC)
    img = np.clip(base + low_freq, 0, 1).astype(np.float32)
    for _ in range(rng.integers(3, 9)):
        colour = _muted(rng, rng.uniform(0.05, 0.95))
        kind = rng.integers(3)
        p = rng.uniform(-0.2, 1.2, 2) * size
        if kind == 0:
            q = p + rng.uniform(0.1, 0.6, 2) * size
            cv2.rectangle(img, tuple(int(x) for x in p), tuple(int(x) for x in q), _colour(colour), -1)
        elif kind == 1:
            axes = tuple(int(a) for a in rng.uniform(0.05, 0.3, 2) * size)
            cv2.ellipse(img, tuple(int(x) for x in p), axes, float(rng.uniform(0, 180)), 0, 360, _colour(colour), -1)
        else:
            q = rng.uniform(-0.2, 1.2, 2) * size
            cv2.line(img, tuple(int(x) for x in p), tuple(int(x) for x in q), _colour(colour),
                     int(rng.integers(1, 1 + size // 25)))
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.0) * size / 192)


class _Face:
    """One posed face: where its parts go on the canvas and how big its strokes are."""

    def __init__(self, subject: Subject, cam: _Camera, size: int):
        self.subject, self.cam, self.size = subject, cam, size
        self.height = subject.face_height
        self.eye_v = 0.0
        self.nose_v = subject.nose_length
        self.mouth_v = subject.mouth_level
        # the outline of a yawed ellipsoid is a little narrower than its front view
        self.silhouette = float(np.sqrt(cam.cos_y ** 2 + (0.8 * cam.sin_y) ** 2))

    def at(self, u, v, dz=0.0) -> np.ndarray:
        """Canvas position of a point on the face surface (dz: raised above it, e.g. the nose)."""
        return self.cam.project(u, v, _depth(u, v, self.height) + dz)

    def px(self, length: float) -> float:
        """Face units to pixels, for stroke widths and blur radii."""
        return length * self.cam.scale

    def layer(self) -> np.ndarray:
        return np.zeros((self.size, self.size), np.float32)


def _strip(u: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outline of the band between two curves over the same u."""
    return np.concatenate([u, u[::-1]]), np.concatenate([top, bottom[::-1]])


def _draw_body(img: np.ndarray, face: _Face, shirt: np.ndarray) -> None:
    """Shoulders, neck, hair behind the head and ears, in flat colours."""
    sub, H, cam = face.subject, face.height, face.cam
    _fill(img, cam.project(*_ellipse(0.0, H + 1.15, 2.0, 0.9), 0.0), shirt)
    neck_u, neck_v = np.array([-0.5, 0.5, 0.55, -0.55]), np.array([0.6, 0.6, H + 0.55, H + 0.55])
    _fill(img, cam.project(neck_u, neck_v, -0.3), sub.skin * 0.72)
    if sub.hair_style != 2:
        hu, hv = _ellipse(0.0, -0.12 * H, 1.12, 1.02 * H)
        if sub.hair_style == 1:  # long hair falls behind the neck to the shoulders
            keep = hv < 0
            hu = np.concatenate([hu[keep], [1.25, -1.25]])
            hv = np.concatenate([hv[keep], [H + 0.5, H + 0.5]])
            order = np.argsort(np.arctan2(hv - 0.2, hu))
            hu, hv = hu[order], hv[order]
        _fill(img, cam.project(hu, hv, -0.4), sub.hair * 0.8)
    for side in (-1, 1):
        _fill(img, cam.project(*_ellipse(side * 0.98, 0.08, 0.14, 0.27), -0.15), sub.skin * 0.85)


def _draw_skin(img: np.ndarray, face: _Face) -> np.ndarray:
    """Flat skin over the face ellipse; returns its soft-edged mask."""
    mask = face.layer()
    fu, fv = _ellipse(0.0, 0.0, 1.0, face.height, 64)
    _fill(mask, face.cam.project(fu * face.silhouette, fv, 0.0), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), face.px(0.03))
    img += (face.subject.skin.astype(np.float32) - img) * mask[..., None]
    return mask


def _darken_shadows_and_creases(img: np.ndarray, face: _Face, expr: Expression, shadow_side: int) -> None:
    """Soft shadows (eye sockets, nose side, under nose, lip and chin) and expression creases."""
    sub, at, px = face.subject, face.at, face.px
    broad = face.layer()
    for side in (-1, 1):
        _fill(broad, at(*_ellipse(side * sub.eye_gap, face.eye_v - 0.03, sub.eye_size * 1.45, 0.17)), 0.35)
    nose_side = np.array([shadow_side * 0.09, shadow_side * 0.13])
    _line(broad, at(nose_side, np.array([face.eye_v + 0.05, face.nose_v - 0.05]), 0.1), 0.3, px(0.07))
    _fill(broad, at(*_ellipse(0.0, face.nose_v + 0.1, 0.14, 0.045), 0.1), 0.3)
    _fill(broad, at(*_ellipse(0.0, face.mouth_v + 0.17, 0.16, 0.05)), 0.22)
    _fill(broad, at(*_ellipse(0.0, face.height * 0.93, 0.45, 0.1)), 0.12)
    broad = cv2.GaussianBlur(broad, (0, 0), px(0.06))

    fine = face.layer()
    if expr.smile_folds > 0.15:
        # from beside the nostril, bowing out past the raised mouth corner, down to below it
        t = np.linspace(0, 1, 12)[:, None]
        corner = face.mouth_v - max(expr.mouth_curve, 0.0)
        start, bow, end = [np.array(p) for p in ((0.22, face.nose_v - 0.02), (expr.mouth_width + 0.2, corner - 0.02),
                                                  (expr.mouth_width + 0.05, face.mouth_v + 0.14))]
        u, v = ((1 - t) ** 2 * start + 2 * t * (1 - t) * bow + t ** 2 * end).T
        for side in (-1, 1):
            _line(fine, at(side * u, v), 0.3 * min(expr.smile_folds, 1.2), px(0.035))
    if expr.frown_furrow > 0.15:
        for side in (-1, 1):
            _line(fine, at(np.array([side * 0.06, side * 0.05]), np.array([face.eye_v - 0.32, face.eye_v - 0.16])),
                  0.35 * min(expr.frown_furrow, 1.2), px(0.025))
    if expr.nose_wrinkle > 0.15:
        for k in range(3):
            v = face.eye_v + 0.03 + 0.06 * k
            _line(fine, at(np.array([-0.09, 0.0, 0.09]), np.array([v + 0.015, v, v + 0.015])),
                  0.3 * min(expr.nose_wrinkle, 1.2), px(0.02))
    if expr.forehead_lines > 0.15:
        u = np.linspace(-0.45, 0.45, 9)
        for k in range(3):
            v = face.eye_v - 0.55 - 0.1 * k - expr.brow_raise
            _line(fine, at(u, v + 0.05 * (u / 0.45) ** 2), 0.25 * min(expr.forehead_lines, 1.2), px(0.02))
    fine = cv2.GaussianBlur(fine, (0, 0), px(0.012))
    img *= 1 - np.clip(broad + fine, 0, 0.8)[..., None]


def _draw_eyes(img: np.ndarray, face: _Face, expr: Expression, gaze: np.ndarray) -> None:
    """Almond-shaped eyes opened by the expression, lash line on the upper lid, lid crease."""
    sub, at, px = face.subject, face.at, face.px
    t = np.linspace(-1, 1, 17)
    up = sub.eye_height * expr.eye_open * (1 - t ** 2) ** 0.7 * 1.15
    low = sub.eye_height * (1 - np.clip(expr.lower_lid_raise, 0, 0.8) * 0.6) * (1 - t ** 2) ** 0.8 * 0.8
    crease = face.eye_v - up - 0.05 - 0.02 * expr.eye_open
    for side in (-1, 1):
        cu, w = side * sub.eye_gap, sub.eye_size
        tilt = -0.015 * side * t  # outer corners slightly higher
        eu = cu + w * t
        upper_v, lower_v = face.eye_v - up + tilt, face.eye_v + low + tilt
        iris_u, iris_v = cu + gaze[0] * w, face.eye_v + gaze[1] * sub.eye_height
        _draw_eye(img, at(*_strip(eu, upper_v, lower_v)),
                  at(*_ellipse(iris_u, iris_v, 0.42 * w, 0.42 * w, 24)),
                  at(*_ellipse(iris_u, iris_v, 0.18 * w, 0.18 * w, 16)), sub.iris)
        _line(img, at(eu, upper_v), sub.hair * 0.4, px(0.035))
        _line(img, at(eu[3:-3], lower_v[3:-3]), sub.skin * 0.55, px(0.012))
        _line(img, at(eu[2:-2], (crease + tilt)[2:-2]), sub.skin * 0.7, px(0.015))


def _draw_brows(img: np.ndarray, face: _Face, expr: Expression) -> None:
    """Tapered strips; tilt lowers (anger) or raises (sadness, fear) the inner end."""
    sub = face.subject
    t = np.linspace(0, 1, 12)
    v = face.eye_v - 0.24 - expr.brow_raise - expr.brow_arch * np.sin(np.pi * t) + expr.brow_tilt * (1 - t) \
        + 0.06 * t ** 2
    half = sub.brow_thickness * (1 - 0.45 * t) / 2
    for side in (-1, 1):
        u = side * (0.1 + (sub.eye_gap + sub.eye_size * 1.15 - 0.1) * t)
        # never lighter than shaded skin, so that fair brows on fair skin still show in grey
        _fill(img, face.at(*_strip(u, v - half, v + half)), np.minimum(sub.hair * 0.6, sub.skin * 0.35))


def _draw_nose(img: np.ndarray, face: _Face) -> None:
    tip = face.layer()
    _fill(tip, face.at(*_ellipse(0.0, face.nose_v, 0.08, 0.06), 0.3), 0.12)
    img += cv2.GaussianBlur(tip, (0, 0), face.px(0.04))[..., None]
    for side in (-1, 1):
        nostril = _ellipse(side * 0.075, face.nose_v + 0.06, 0.045, 0.022, 16)
        _fill(img, face.at(*nostril, 0.2), face.subject.skin * 0.35)


def _draw_mouth(img: np.ndarray, face: _Face, expr: Expression) -> None:
    """Lips around a curved midline; an open mouth shows a dark inside and upper teeth."""
    w = expr.mouth_width
    t = np.linspace(-1, 1, 25)
    u = w * t
    bulge = np.sqrt(1 - t ** 2)
    mid = face.mouth_v - expr.mouth_curve * t ** 2 - expr.upper_lip_raise * np.clip(t, 0, None) * bulge
    gap = expr.mouth_open * bulge ** 0.8
    lip = face.subject.lip_size * max(expr.lip_thickness, 0.3)
    cupid = 0.25 * lip * np.exp(-(t * w / 0.05) ** 2)
    upper_in, lower_in = mid - gap / 2 - expr.upper_lip_raise * 0.3 * bulge, mid + gap / 2
    upper_out = upper_in - lip * bulge ** 0.6 * 0.9 + cupid
    lower_out = lower_in + lip * bulge ** 0.6 * 1.2
    _fill(img, face.at(*_strip(u, upper_out, lower_out)), face.subject.lips)
    if expr.mouth_open > 0.015:
        _fill(img, face.at(*_strip(u, upper_in, lower_in)), (0.22, 0.08, 0.08))
        if expr.teeth > 0.05:
            teeth_low = upper_in + (lower_in - upper_in) * expr.teeth
            inner = slice(2, -2)
            _fill(img, face.at(*_strip(u[inner], upper_in[inner], teeth_low[inner])), (0.85, 0.83, 0.78))
    _line(img, face.at(u, mid), face.subject.lips * 0.35, face.px(0.035))


def _draw_glasses(img: np.ndarray, face: _Face) -> None:
    sub, frame, width = face.subject, (0.1, 0.1, 0.1), face.px(0.025)
    for side in (-1, 1):
        gu, gv = _ellipse(side * sub.eye_gap, face.eye_v + 0.01, sub.eye_size * 1.35, 0.16, 28)
        _line(img, face.at(np.append(gu, gu[0]), np.append(gv, gv[0]), 0.1), frame, width)
    _line(img, face.at(np.array([-0.1, 0.1]), np.full(2, face.eye_v - 0.02), 0.15), frame, width)


def _draw_front_hair(img: np.ndarray, face: _Face) -> None:
    """Hair over the forehead, cut by a hairline that depends on the style."""
    sub, H = face.subject, face.height
    hairline = {0: -0.72, 1: -0.7, 2: -0.95, 3: -0.5}[sub.hair_style] * H
    t = np.linspace(-1, 1, 25)
    line_v = hairline + (0.1 if sub.hair_style == 3 else 0.28) * H * t ** 2
    top = np.linspace(0, np.pi, 25)
    cap_u, cap_v = 1.06 * np.cos(top), -1.06 * H * np.sin(top) - 0.02
    _fill(img, face.cam.project(np.concatenate([1.02 * t, cap_u]), np.concatenate([line_v, cap_v]), 0.1),
          sub.hair * (0.6 if sub.hair_style == 2 else 0.9))


def _light(img: np.ndarray, face: _Face, face_mask: np.ndarray, light: tuple[float, float, float],
           ambient: float) -> None:
    """Lambert plus a little specular on the face ellipsoid, a plane gradient on the rest."""
    lx, ly, lz = light
    size = face.size
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    fx, fy = face.cam.to_face_plane(xs, ys)
    nx, ny = fx / face.silhouette, fy / face.height
    nz = np.sqrt(np.clip(1 - nx ** 2 - ny ** 2, 0.02, None))
    lambert = np.clip((nx * lx + ny * ly + nz * lz) / np.sqrt(nx ** 2 + ny ** 2 + nz ** 2), 0, None)
    face_light = ambient + (1.15 - ambient) * lambert + 0.25 * lambert ** 24
    scene_light = 0.95 + 0.3 * ((xs / size - 0.5) * lx + (ys / size - 0.5) * ly)
    img *= (scene_light + (face_light - scene_light) * face_mask)[..., None]


def _render(subject: Subject, expr: Expression, rng: np.random.Generator, size: int) -> np.ndarray:
    """One RGB float image in [0, 1] of size x size. Features are drawn flat and lit at the end."""
    H = subject.face_height
    # Framing: face half-width 0.21-0.31 of the image, the whole face inside it.
    scale = rng.uniform(0.21, 0.31) * size
    margin_x, margin_y = 1.15 * scale, 1.1 * H * scale
    centre = (rng.uniform(margin_x, size - margin_x), rng.uniform(margin_y, size - margin_y))
    cam = _Camera(centre, scale, roll=np.radians(rng.uniform(-8, 8)), yaw=np.radians(rng.uniform(-12, 12)),
                  pitch=np.radians(rng.uniform(-6, 6)))
    face = _Face(subject, cam, size)
    img = _background(rng, size)
    _draw_body(img, face, shirt=_muted(rng, rng.uniform(0.1, 0.85)))
    face_mask = _draw_skin(img, face)
    light = rng.normal(0, 1, 3) * np.array([0.3, 0.2, 0.0]) + np.array([0.0, -0.3, 1.0])
    light = tuple(float(c) for c in light / np.linalg.norm(light))
    _darken_shadows_and_creases(img, face, expr, shadow_side=-1 if light[0] > 0 else 1)
    _draw_eyes(img, face, expr, gaze=rng.uniform(-0.25, 0.25, 2) * np.array([1.0, 0.4]))
    _draw_brows(img, face, expr)
    _draw_nose(img, face)
    _draw_mouth(img, face, expr)
    if subject.glasses:
        _draw_glasses(img, face)
    if subject.hair_style != 2 or rng.random() < 0.5:
        _draw_front_hair(img, face)
    _light(img, face, face_mask, light, ambient=rng.uniform(0.5, 0.7))
    return np.clip(img, 0, 1)


def _metered_gain(skin: np.ndarray) -> float:
    """Exposure metered on the face, as phone cameras do: dark skin gets more gain, so that the
    features keep their grey-level contrast."""
    luma = float(skin @ np.array([0.299, 0.587, 0.114]))
    return float(np.clip(_FACE_GREY / luma, 0.7, 2.2))


def _camera_finish(img: np.ndarray, rng: np.random.Generator, size: int, gain: float) -> np.ndarray:
    """Exposure, colour cast, gamma, defocus, downsampling, sensor noise: float RGB to uint8."""
    cast = (gain * rng.uniform(0.85, 1.1) * rng.uniform(0.94, 1.06, 3)).astype(np.float32)
    img = np.clip(img * cast, 0, 1) ** rng.uniform(0.9, 1.1)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.9))
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) * 255
    img += rng.normal(0, rng.uniform(1.5, 4.0), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def generate_demo(seed: int, per_class: int, size: int) -> list[tuple[np.ndarray, int, str]]:
    """`per_class` synthetic faces for each of DEMO_CLASSES, as (RGB uint8 size x size x 3, label, subject).

    Same seed, same pixels. Images come class by class; subject `s<k>` appears in every class
    (the pool holds min(per_class, MAX_SUBJECTS) subjects; image i of each class shows subject
    i mod pool size).
    """
    return list(demo_faces_at(seed, per_class, size, range(len(DEMO_CLASSES) * per_class)).values())


def demo_faces_at(seed: int, per_class: int, size: int, indices: Iterable[int]) -> dict[int, tuple[np.ndarray, int, str]]:
    """Image i -> generate_demo(seed, per_class, size)[i], for `indices` only: each image has a seed of its own,
    so the others need not be drawn."""
    require(isinstance(seed, (int, np.integer)) and seed >= 0,
            f"fetch.seed must be a non-negative integer, got {seed!r}")
    require(isinstance(per_class, (int, np.integer)) and per_class >= 1,
            f"fetch.demo.per_class must be a positive integer, got {per_class!r}")
    require(isinstance(size, (int, np.integer)) and size >= 32,
            f"fetch.demo.size must be an integer of at least 32 pixels, got {size!r}")
    n_subjects = min(per_class, MAX_SUBJECTS)
    subject_seq, *image_seqs = np.random.SeedSequence(int(seed)).spawn(1 + len(DEMO_CLASSES) * per_class)
    subject_rng = np.random.default_rng(subject_seq)
    subjects = [_sample_subject(subject_rng) for _ in range(n_subjects)]
    render_size = size * _RENDER_SCALE
    out = {}
    for index in sorted(indices):
        label, i = divmod(index, per_class)
        rng = np.random.default_rng(image_seqs[index])
        k = i % n_subjects
        expr = _sample_expression(label, rng)
        img = _render(subjects[k], expr, rng, render_size)
        out[index] = (_camera_finish(img, rng, size, _metered_gain(subjects[k].skin)), label, f"s{k:03d}")
    return out
