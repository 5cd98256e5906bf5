"""What each packaged Whisper encoder offers: layers, width, frame rate, and whether its packages are installed."""

from __future__ import annotations

from dataclasses import dataclass

from emomtl.features.whisper.encoder import FRAMES_PER_SECOND
from emomtl.features.whisper.packages import PACKAGED, available_models, model_file


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    installed: bool
    layers: int | None = None
    width: int | None = None
    mel_bands: int | None = None
    frames_per_second: float = FRAMES_PER_SECOND
    packages: tuple[str, ...] = ()


def describe_encoders() -> list[EncoderInfo]:
    """One entry per packaged model; the sizes are read from the file header of installed ones (no weights loaded)."""
    from emomtl.features.whisper.checkpoint import variable_shapes
    from emomtl.features.whisper.encoder import layer_count

    installed = set(available_models())
    infos = []
    for name, model in PACKAGED.items():
        if name not in installed:
            infos.append(EncoderInfo(name, False, packages=tuple(model.pip_names)))
            continue
        shapes = variable_shapes(model_file(name), prefix="encoder/")
        width, mels, _ = shapes["encoder/conv1/weight"]
        count = layer_count(shapes)
        infos.append(EncoderInfo(name, True, count, int(width), int(mels), packages=tuple(model.pip_names)))
    return infos
