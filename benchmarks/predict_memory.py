"""Peak memory of ``Recognizer.process_file`` (what ``emomtl predict`` runs) on one long recording.

    python benchmarks/predict_memory.py [--minutes 1 5 10] [--checkpoint PATH] [--rate 16000] [--channels 1]

Without ``--checkpoint`` the quickstart model (multi-exit CNN on 64-band log-mels, windows of 1.5 s) is trained
for one epoch on a 4-speaker demo corpus first (a few seconds). For each duration a synthetic recording is
written (16-bit WAV at ``--rate``) and predicted in a fresh child process, because a process's peak RSS
never goes down. Prints a Markdown table:

* ``audio MB``: the decoded signal as float32 at the model rate (the floor of any whole-file front end);
* ``windows``: training-length windows the model saw;
* ``peak RSS MB``: the child's peak resident memory (``resource.getrusage``), model and libraries included;
* ``+ predict MB``: peak RSS minus the RSS after loading the model, i.e. what the recording itself cost;
* ``traced peak MB``: tracemalloc's peak over the prediction (NumPy and Python allocations; torch's own
  allocator is not traced).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

MB = 1024 * 1024


def rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(checkpoint: Path, audio: Path) -> dict[str, float]:
    """In the child: load the recognizer, then predict ``audio`` once, tracing memory."""
    import emomtl.training.evaluate as evaluate
    from emomtl.inference import Recognizer

    counted = {"windows": 0}
    real_windows = evaluate.windows

    def windows(*args, **kwargs):
        pieces = real_windows(*args, **kwargs)
        counted["windows"] += len(pieces)
        return pieces

    evaluate.windows = windows
    recognizer = Recognizer.from_checkpoint(checkpoint)
    recognizer.process_signal(np.zeros(16000, dtype=np.float32), 16000)  # warm up lazy imports and kernels
    counted["windows"] = 0
    baseline = max(rss_mb(), peak_rss_mb())
    tracemalloc.start()
    start = time.perf_counter()
    table = recognizer.process_file(audio)
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] / MB
    tracemalloc.stop()
    assert len(table) == 1
    peak = peak_rss_mb()
    return {"windows": counted["windows"], "peak_rss_mb": peak, "predict_mb": peak - baseline,
            "traced_mb": traced, "seconds": seconds, "model_rate": recognizer.sample_rate}


def train_checkpoint(folder: Path) -> Path:
    """The quickstart model, one epoch on a 4-speaker demo corpus."""
    from emomtl.cli.main import main as emomtl_main

    out = folder / "run"
    code = emomtl_main([
        "train", "quickstart", f"data.root={folder / 'demo'}", f"data.cache_dir={folder / 'cache'}",
        "data.options.speakers=4", "data.options.utterances_per_emotion=2", "train.epochs=1",
        "train.tensorboard=false", "--out", str(out), "--quiet",
    ])
    if code != 0:
        raise SystemExit(f"training the benchmark model failed (exit code {code})")
    return out / "checkpoint_best.pt"


def write_recording(path: Path, minutes: float, rate: int, channels: int) -> None:
    """A harmonic tone with a syllable-rate wobble, tiled to ``minutes`` and written block by block."""
    t = np.arange(rate) / rate
    second = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    second = (0.25 * second * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    block = np.tile(second, 10)
    if channels > 1:
        block = np.repeat(block[:, None], channels, axis=1)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=channels, subtype="PCM_16") as handle:
        for _ in range(int(round(minutes * 6))):  # blocks of 10 s
            handle.write(block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--checkpoint", type=Path, help="checkpoint_best.pt to use (default: train a tiny one)")
    parser.add_argument("--rate", type=int, default=16000, help="sample rate of the generated recordings")
    parser.add_argument("--channels", type=int, default=1, help="channels of the generated recordings")
    parser.add_argument("--child", nargs=2, metavar=("CHECKPOINT", "AUDIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return 0

    with tempfile.TemporaryDirectory(prefix="emomtl-predict-memory-") as temporary:
        folder = Path(temporary)
        checkpoint = args.checkpoint or train_checkpoint(folder)
        rows = []
        for minutes in args.minutes:
            audio = folder / f"{minutes:g}min.wav"
            write_recording(audio, minutes, args.rate, args.channels)
            child = subprocess.run([sys.executable, __file__, "--child", str(checkpoint), str(audio)],
                                   capture_output=True, text=True, env=os.environ | {"OMP_WAIT_POLICY": "PASSIVE"})
            if child.returncode != 0:
                print(child.stderr, file=sys.stderr)
                return child.returncode
            result = json.loads(child.stdout.strip().splitlines()[-1])
            result["audio_mb"] = minutes * 60 * result["model_rate"] * 4 / MB
            rows.append((minutes, result))
            audio.unlink()

    model = args.checkpoint or "quickstart (1 epoch)"
    print(f"Predict memory, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"input {args.rate} Hz x {args.channels} channel(s), checkpoint {model}\n")
    print("| minutes | audio MB | windows | peak RSS MB | + predict MB | traced peak MB | seconds |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for minutes, r in rows:
        print(f"| {minutes:g} | {r['audio_mb']:.1f} | {r['windows']} | {r['peak_rss_mb']:.0f} | "
              f"{r['predict_mb']:.0f} | {r['traced_mb']:.0f} | {r['seconds']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
