"""`python -m ferpipe serve [--export DIR] [--host 127.0.0.1] [--port 8000]`: the trained model behind a web
page (photos, live webcam, the model card) and a JSON API.

The page: drop or choose photos to see every face boxed with its label and each head's class
probabilities; a webcam mode that labels faces live; the model card. The API: POST /api/predict (an
image; each face as `predict --json` gives it), GET /api/model, GET /healthz; its docs at /docs.

The model is an export folder (the export stage's ONNX files and model card), run as `predict` runs
it (MTCNN and ONNX Runtime; no TensorFlow): by default models/fer2013-resnet50/ where it exists,
else data/export/. It listens on 127.0.0.1 (this machine only) unless --host says otherwise.
Ctrl-C stops it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ferpipe.core.cli import run_stage
from ferpipe.core.errors import require
from ferpipe.serve.limits import Capacity, Limits
from ferpipe.serve.server import serve
from ferpipe.commands import help_description

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ferpipe serve", description=help_description(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--export", type=Path, help="the export folder to serve (default: models/fer2013-resnet50 where "
                                                    "it exists, else data/export)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST}, this "
                                                             "machine only; 0.0.0.0: every network interface)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default: {DEFAULT_PORT}; 0: any free port, printed)")
    parser.add_argument("--workers", type=int, default=Capacity.workers,
                        help=f"predictions at once, one thread each (default: {Capacity.workers})")
    parser.add_argument("--queue", type=int, default=Capacity.queue,
                        help=f"requests waiting for a worker; more are answered 503 (default: {Capacity.queue})")
    parser.add_argument("--max-bytes", type=int, default=Limits.max_bytes,
                        help=f"largest upload in bytes (default: {Limits.max_bytes:,})")
    parser.add_argument("--max-pixels", type=int, default=Limits.max_pixels,
                        help=f"largest image in pixels, width x height (default: {Limits.max_pixels:,})")
    args = parser.parse_args(argv)
    require(0 <= args.port <= 65535, f"--port must be 0..65535, got {args.port}")
    require(1 <= args.workers <= 64, f"--workers must be 1..64, got {args.workers}")
    require(0 <= args.queue <= 10_000, f"--queue must be 0..10000, got {args.queue}")
    require(args.max_bytes >= 1024, f"--max-bytes must be at least 1024, got {args.max_bytes}")
    require(args.max_pixels >= 400, f"--max-pixels must be at least 400, got {args.max_pixels}")
    return args


def main(argv: list[str] | None = None) -> None:
    run_stage(lambda a: serve(parse_args(a)), argv)
