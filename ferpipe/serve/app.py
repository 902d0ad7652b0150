"""The web application of `serve`: the page (static files of this package), the JSON API and its docs.

Every error is one JSON object `{"error": "..."}` with a 4xx status (a 5xx for the server's own
failures), never a traceback page. Predictions run in a pool of `workers` threads behind a bounded
queue: a request that finds `workers + queue` others admitted is answered 503 with Retry-After at
once, so that load never piles up unbounded.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from ferpipe.probabilities.names import HEADS
from ferpipe.serve.limits import RETRY_AFTER_S, BadUpload, Capacity, Limits

STATIC = Path(__file__).parent / "static"
ONE_FILE = "a multipart/form-data upload must hold one file (e.g. curl -F file=@photo.jpg)"
log = logging.getLogger("ferpipe.serve")


class Model(Protocol):
    """What the application needs of the model: `Engine`, or a stand-in in tests."""
    heads: tuple[str, ...]

    def describe(self) -> str: ...

    def model_card(self, limits: Limits) -> dict: ...

    def predict(self, data: bytes, name: str, heads: tuple[str, ...], limits: Limits) -> dict: ...


class Gate:
    """Admission to the worker pool. Counted on the event loop's thread only, so no lock is needed."""

    def __init__(self, capacity: Capacity):
        self.capacity = capacity
        self.limit = capacity.workers + capacity.queue
        self.admitted = 0
        self.pool = ThreadPoolExecutor(capacity.workers, thread_name_prefix="ferpipe-serve")

    async def run(self, fn, *args):
        """`fn(*args)` on a worker; BadUpload(503) when `limit` requests are admitted already."""
        if self.admitted >= self.limit:
            raise BadUpload(503, f"the server is busy ({self.admitted} requests in hand, {self.capacity.workers} at "
                                 f"a time); try again in {RETRY_AFTER_S} s")
        self.admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        finally:
            self.admitted -= 1


class BoundedRequests:
    """ASGI middleware: at most `limit` requests in hand at once (their bodies, at most Limits.max_bytes
    each, are what the server holds in memory); more are answered 503 before their body is read.
    /healthz is always answered, so that a busy server still says it is up."""

    def __init__(self, app, limit: int):
        self.app, self.limit, self.active = app, limit, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        if self.active >= self.limit:
            return await error(503, f"the server is busy ({self.active} requests open); try again in "
                                    f"{RETRY_AFTER_S} s")(scope, receive, send)
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


def error(status: int, message: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most `limit` bytes (more is a 413 as soon as it is known), held in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadUpload(413, f"the upload is {int(declared):,} bytes, more than the limit of {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadUpload(413, f"the upload is more than the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _one_file(request: Request, body: bytes) -> tuple[bytes, str, str]:
    """(bytes, file name, content type) of the one file of a multipart/form-data body, parsed in memory."""
    async def stream():
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=8, max_part_size=64 * 1024)
    parser.spool_max_size = len(body) + 1  # the whole file stays in memory: the body is capped already
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise BadUpload(400, ONE_FILE) from exc
        raise BadUpload(400, f"malformed multipart/form-data upload ({exc.message})") from exc
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    if len(files) != 1:
        raise BadUpload(400, ONE_FILE)
    data = await files[0].read()
    return data, files[0].filename or "upload", files[0].content_type or ""


async def upload(request: Request, limit: int) -> tuple[bytes, str]:
    """The uploaded image's bytes and name: a multipart/form-data file, or a body of type image/*."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data" and not kind.startswith("image/"):
        raise BadUpload(415, f"content type {kind or '(none)'!r}: send an image (image/jpeg, image/png...) as the "
                             "body, or as the file of a multipart/form-data form")
    body = await read_body(request, limit)
    if kind == "multipart/form-data":
        data, name, kind = await _one_file(request, body)
        if kind and not kind.startswith("image/") and kind != "application/octet-stream":
            raise BadUpload(415, f"{name}: content type {kind!r} is not an image type")
        return data, name
    return body, request.headers.get("x-filename", "upload")


PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "image/*": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def create_app(model: Model, limits: Limits = Limits(), capacity: Capacity = Capacity(),
               connections: int | None = None) -> FastAPI:
    """The application; `connections`: requests in hand at once, of any kind (default: 4 x what the
    queue admits, at least 32)."""
    gate = Gate(capacity)
    app = FastAPIOffline(title="ferpipe serve", version="1",
                         description=f"Facial expressions of every face in a photo, by {model.describe()}.")
    app.add_middleware(BoundedRequests, limit=connections or max(32, 4 * gate.limit))

    @app.exception_handler(BadUpload)
    async def _bad_upload(request: Request, exc: BadUpload) -> JSONResponse:
        return error(exc.status, str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error(400, problems)

    @app.exception_handler(Exception)
    async def _failed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error(500, f"the server failed on this request ({type(exc).__name__}); see its terminal")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.post("/api/predict", openapi_extra=PREDICT_BODY, summary="Every face of an image and its expression")
    async def predict(request: Request, head: Literal[HEADS] | None = Query(
            None, description="one head only (default: every head the export has)")) -> dict:
        """The image is the body (Content-Type image/...) or the file of a multipart/form-data form. Each
        face of each head is the JSON `python -m ferpipe predict --json` prints for the same photo."""
        if head and head not in model.heads:
            return error(400, f"head {head}: this model has only {', '.join(model.heads)}")
        data, name = await upload(request, limits.max_bytes)
        heads = (head,) if head else model.heads
        return await gate.run(model.predict, data, name, heads, limits)

    @app.get("/api/model", summary="The model card of the served export")
    async def model_card() -> dict:
        return model.model_card(limits)

    @app.get("/healthz", summary="Whether the server is up, and how busy")
    async def healthz() -> dict:
        return {"status": "ok", "admitted": gate.admitted, "limit": gate.limit, "workers": capacity.workers}

    return app
