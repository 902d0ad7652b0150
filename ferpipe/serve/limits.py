"""What `serve` accepts and how much at once: light, so that `serve --help` loads no framework."""
from __future__ import annotations

from dataclasses import dataclass

from ferpipe.core.errors import FerpipeError

RETRY_AFTER_S = 1  # what a 503 tells the client to wait


@dataclass(frozen=True)
class Limits:
    """What one upload may be: bytes of the request body, pixels of the image (checked before decoding)."""
    max_bytes: int = 10 * 2**20
    max_pixels: int = 25_000_000


@dataclass(frozen=True)
class Capacity:
    workers: int = 2  # predictions at once, one torch thread each
    queue: int = 8  # admitted requests waiting for a worker; more are answered 503


class BadUpload(FerpipeError):
    """A request the API refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
