"""Decoding image files into the uint8 arrays the canonical dataset stores."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ferpipe.core.errors import FerpipeError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def read_image(path: Path, mode: str, upright: bool = False) -> np.ndarray:
    """Decode `path` as grey ("L", HxW) or colour ("RGB", HxWx3); RGBA, CMYK, palette files convert.
    With `upright`, the image is turned as its EXIF orientation tag says (phone photos are often
    stored sideways with such a tag).

    A corrupt or truncated file is an error naming it (PIL raises on `load` of a truncated file).
    """
    try:
        with Image.open(path) as img:
            img.load()
            turned = ImageOps.exif_transpose(img) if upright else img
            return np.asarray(turned.convert(mode), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise FerpipeError(f"{path}: corrupt or unreadable image ({exc})") from exc


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
