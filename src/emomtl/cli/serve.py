"""``emomtl serve RUN_DIR_OR_CHECKPOINT``: a web page and JSON API that run the model on uploaded audio."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Serve a trained model: a page where you upload a recording or record from the microphone and see each task's
prediction (with class probabilities, and a timeline of windows for long recordings), and a JSON API beside it
(POST /predict; OpenAPI documentation at /docs). Binds to 127.0.0.1 unless --host says otherwise."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="web page + JSON API running a trained model on uploads",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, metavar="RUN_DIR_OR_CHECKPOINT",
                        help="a checkpoint, a run folder, a cv / compare folder (with --run) or an ONNX export folder")
    parser.add_argument("--run", metavar="STRATEGY/FOLD", help="the run of a cv / compare folder, e.g. uw/fold0_seed0")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload in MB (default: 20)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="longest recording in seconds (default: 600)")
    parser.add_argument("--allowed-types", default="wav,flac,ogg,mp3",
                        help="comma-separated file extensions accepted (default: wav,flac,ogg,mp3)")
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from emomtl.serve.app import ServeLimits, create_app, load_recognizer

    limits = ServeLimits(max_bytes=int(args.max_upload_mb * 1e6), max_seconds=args.max_seconds,
                         allowed_types=tuple(t.strip().lower().lstrip(".") for t in args.allowed_types.split(",")))
    app = create_app(load_recognizer(args.path, args.run), limits)
    print(f"emomtl serve: http://{args.host}:{args.port}/  (API documentation: /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
