"""The FastAPI application of ``emomtl serve``: ``GET /`` (the page), ``POST /predict`` (JSON), ``GET /model``.

Uploads are checked before any model runs: file type (by extension), size (read in blocks, stopped at the
limit) and duration. An upload lives only in a private temporary folder, deleted when the request ends.
Predictions of the whole file are :meth:`Recognizer.process_file`'s, so they equal ``emomtl predict``'s; a
recording longer than one model window also gets a timeline from :meth:`Recognizer.process_stream`.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from emomtl.data.audio import audio_info, load_audio
from emomtl.errors import ConfigError, EmomtlError
from emomtl.export.locate import find_checkpoint
from emomtl.export.onnx import SPEC_FILE
from emomtl.inference.recognizer import Recognizer

STATIC = Path(__file__).parent / "static"
#: Bytes read per block while receiving an upload.
BLOCK = 1 << 16


@dataclass(frozen=True)
class ServeLimits:
    """What an upload may be: at most ``max_bytes``, ``max_seconds`` long, with an extension in ``allowed_types``."""

    max_bytes: int = 20_000_000
    max_seconds: float = 600.0
    allowed_types: tuple[str, ...] = ("wav", "flac", "ogg", "mp3")


class TaskResult(BaseModel):
    name: str
    kind: str
    label: str | None = None
    probabilities: dict[str, float] | None = None
    value: float | None = None
    values: dict[str, float] | None = None


class Window(BaseModel):
    start: float
    end: float
    tasks: list[TaskResult]


class Prediction(BaseModel):
    file: str
    seconds: float
    tasks: list[TaskResult]
    timeline: list[Window]


def load_recognizer(path: str | Path, run: str | None = None) -> Recognizer:
    """An ONNX export (folder with ``model.json``, or its file) runs on onnxruntime; anything else is a checkpoint."""
    path = Path(path)
    if (path / SPEC_FILE).is_file() or path.suffix in (".onnx", ".json"):
        return Recognizer.from_onnx(path)
    return Recognizer.from_checkpoint(find_checkpoint(path, run, setting="serve"))


def task_results(recognizer: Recognizer, row: pd.Series) -> list[TaskResult]:
    """One row of a recognizer table as per-task results."""
    results = []
    for task in recognizer.tasks:
        if task.kind == "classification":
            probabilities = {c: float(row[f"{task.name}.prob.{c}"]) for c in task.classes or []}
            results.append(TaskResult(name=task.name, kind=task.kind, label=str(row[task.name]),
                                      probabilities=probabilities))
        elif task.kind == "regression":
            results.append(TaskResult(name=task.name, kind=task.kind, value=float(row[task.name])))
        else:
            values = {c: float(row[f"{task.name}.{c}"]) for c in task.columns or []}
            results.append(TaskResult(name=task.name, kind=task.kind, values=values))
    return results


def _receive(upload: UploadFile, folder: Path, limits: ServeLimits) -> Path:
    """Check the type, then copy the upload into ``folder`` block by block, refusing it past ``max_bytes``."""
    name = Path(upload.filename or "upload").name
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in limits.allowed_types:
        raise HTTPException(415, f"{name}: file type '.{suffix}' is not accepted; allowed: "
                                 f"{', '.join('.' + t for t in limits.allowed_types)} (--allowed-types)")
    target = folder / f"upload.{suffix}"
    size = 0
    with target.open("wb") as out:
        while block := upload.file.read(BLOCK):
            size += len(block)
            if size > limits.max_bytes:
                raise HTTPException(413, f"{name}: larger than the limit of {limits.max_bytes / 1e6:g} MB "
                                         "(--max-upload-mb)")
            out.write(block)
    if size == 0:
        raise HTTPException(400, f"{name}: the file is empty")
    return target


class _BodyTooLarge(Exception):
    pass


class UploadSizeLimit:
    """ASGI middleware: a request body past ``max_bytes`` (plus room for the form's own headers) is refused with
    413 as soon as its ``Content-Length`` says so, or while it streams in, before it is spooled to disk whole."""

    FORM_OVERHEAD = 1 << 16

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.limit = app, max_bytes + self.FORM_OVERHEAD

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(scope, receive, send)
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        megabytes = (self.limit - self.FORM_OVERHEAD) / 1e6
        await JSONResponse({"detail": f"upload larger than the limit of {megabytes:g} MB (--max-upload-mb)"},
                           status_code=413)(scope, receive, send)


def create_app(recognizer: Recognizer, limits: ServeLimits | None = None) -> FastAPI:
    limits = limits or ServeLimits()
    lock = threading.Lock()  # one prediction at a time: the recognizer is not thread-safe
    try:
        window = recognizer.stream_window()
    except ConfigError:
        window = None
    app = FastAPI(title="emomtl", description="Multi-task speech emotion recognition of uploaded recordings.",
                  version="1")
    app.add_middleware(UploadSizeLimit, max_bytes=limits.max_bytes)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/model")
    def model() -> dict[str, Any]:
        """The tasks with their classes or columns, the upload limits and the timeline window."""
        return {"tasks": [{"name": t.name, "kind": t.kind, "classes": t.classes, "columns": t.columns}
                          for t in recognizer.tasks],
                "limits": {"max_bytes": limits.max_bytes, "max_seconds": limits.max_seconds,
                           "allowed_types": list(limits.allowed_types)},
                "window_seconds": None if window is None else window[0]}

    @app.post("/predict", response_model=Prediction,
              responses={400: {"description": "unreadable or too long"}, 413: {"description": "too large"},
                         415: {"description": "file type not accepted"}})
    def predict(file: UploadFile = File(..., description="an audio file")) -> Prediction:
        """Every task's prediction for the whole recording, and a timeline of windows for a long one."""
        with tempfile.TemporaryDirectory(prefix="emomtl-serve-") as folder:
            path = _receive(file, Path(folder), limits)
            name = Path(file.filename or "upload").name
            try:  # the header's length first: a small file can decode to hours of audio
                header = audio_info(path)
            except (EmomtlError, OSError, ValueError, RuntimeError):
                header = None  # e.g. a format only the decoder below reads; it reports what is wrong
            if header is not None and header.frames / header.sample_rate > limits.max_seconds:
                raise HTTPException(400, f"{name}: {header.frames / header.sample_rate:.1f} s is longer than the "
                                         f"limit of {limits.max_seconds:g} s (--max-seconds)")
            with lock:
                try:
                    signal = load_audio(path, recognizer.sample_rate)
                except (EmomtlError, OSError, ValueError, RuntimeError) as error:
                    raise HTTPException(400, f"{name}: not a readable audio file "
                                             f"({str(error).replace(str(path), name)})") from error
                seconds = len(signal) / recognizer.sample_rate
                if seconds > limits.max_seconds:
                    raise HTTPException(400, f"{name}: {seconds:.1f} s is longer than the limit of "
                                             f"{limits.max_seconds:g} s (--max-seconds)")
                whole = recognizer.process_file(path)
                timeline = []
                if window is not None and seconds > window[0]:
                    rate = recognizer.sample_rate
                    chunks = (signal[i : i + rate] for i in range(0, len(signal), rate))
                    for frame in recognizer.process_stream(chunks, rate):
                        start, end = frame.index[0]
                        timeline.append(Window(start=round(float(start), 3), end=round(float(end), 3),
                                               tasks=task_results(recognizer, frame.iloc[0])))
        return Prediction(file=name, seconds=round(seconds, 3), tasks=task_results(recognizer, whole.iloc[0]),
                          timeline=timeline)

    return app


__all__ = ["Prediction", "ServeLimits", "create_app", "load_recognizer"]
