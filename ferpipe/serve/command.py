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
import socket
import time
from pathlib import Path

from ferpipe.core.cli import run_stage
from ferpipe.core.errors import FerpipeError, require
from ferpipe.serve.limits import Capacity, Limits

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ferpipe serve", description=__doc__.splitlines()[0].split(": ", 1)[1],
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


def bound_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), so that the address printed is the one taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise FerpipeError(f"--host {host}: cannot listen there ({exc.strerror or exc})") from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise FerpipeError(f"{host}:{port}: cannot listen there ({exc.strerror or exc}); give another --port") from exc
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    if args.host not in LOCAL_HOSTS:  # said before the model loads, where it cannot be missed
        print(f"warning: --host {args.host}: listening beyond this machine: anyone who can reach it can use the "
              "page and the API (no login, plain HTTP; browsers allow the webcam only on localhost or HTTPS)",
              flush=True)
    import torch

    from ferpipe.serve.engine import Engine, default_export

    torch.set_num_threads(1)  # one torch thread per worker thread: the workers share the cores out
    folder = args.export or default_export()
    engine = Engine(folder)
    sock = bound_socket(args.host, args.port)

    import uvicorn

    from ferpipe.serve.app import create_app

    limits, capacity = Limits(args.max_bytes, args.max_pixels), Capacity(args.workers, args.queue)
    app = create_app(engine, limits, capacity)
    # lifespan off: the app has no start-up or shutdown handlers, and uvicorn's lifespan task, cancelled by Ctrl-C,
    # logs a traceback of its own before the one line `interrupted`
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5, lifespan="off")
    server = uvicorn.Server(config)
    print(f"serving {engine.describe()}", flush=True)
    print(f"open {url_of(sock)} (API: /api/predict, /api/model, /healthz; docs: /docs); ready in "
          f"{time.perf_counter() - started:.1f} s; Ctrl-C stops it", flush=True)
    server.run(sockets=[sock])


def main(argv: list[str] | None = None) -> None:
    run_stage(lambda a: serve(parse_args(a)), argv)
