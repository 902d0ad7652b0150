"""The `serve` command's server (ferpipe/commands/serve.py, whose help says what it serves): the export loaded
into an `Engine`, a listening socket taken, and uvicorn run on the app until Ctrl-C.
"""
from __future__ import annotations

import argparse
import socket
import time

from ferpipe.core.errors import FerpipeError
from ferpipe.serve.limits import Capacity, Limits

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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
