"""``emomtl features list``: the feature kinds, and each pretrained encoder with its layers, width and frame rate."""

from __future__ import annotations

import argparse

from emomtl.features import available_kinds

#: One line per feature kind (what it computes and what it needs).
KIND_SUMMARIES = {
    "logmel": "log-mel spectrogram frames (librosa)",
    "opensmile": "openSMILE feature sets (ComParE_2016, eGeMAPSv02, ...): functionals or LLD frames",
    "speech_encoder": "hidden states of a transformers speech model (HuBERT, wav2vec 2.0, WavLM) from a local folder",
    "text_encoder": "hidden states of a transformers text model over the transcript",
    "text_tokens": "token ids of the transcript by the text model's own tokenizer",
    "video": "face crops of the video (OpenCV), for the audio-video model",
    "waveform": "the raw waveform",
    "whisper": "Whisper encoder states per layer (frames, or mean + std pooled), packaged CTranslate2 weights",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("features", help="feature kinds and pretrained encoders", description=__doc__)
    commands = parser.add_subparsers(dest="features_command", required=True)
    listing = commands.add_parser("list", help="feature kinds, and the Whisper encoders with their layers")
    listing.set_defaults(handler=list_features)


def list_features(args: argparse.Namespace) -> int:
    from emomtl.features.whisper.catalog import describe_encoders

    kinds = available_kinds()
    width = max(map(len, kinds))
    print("feature kinds:")
    for kind in kinds:
        print(f"  {kind:<{width}}  {KIND_SUMMARIES.get(kind, '')}".rstrip())
    print("\nWhisper encoders (features.<name>: {kind: whisper, model: NAME, layers: [...]}):")
    print("  name     installed  layers  hidden states  width  mel bands  frames/s")
    for info in describe_encoders():
        if info.installed:
            print(f"  {info.name:<8} yes        {info.layers:<7} 0..{info.layers:<10} {info.width:<6} "
                  f"{info.mel_bands:<10} "
                  f"{info.frames_per_second:g}")
        else:
            print(f"  {info.name:<8} no         pip install {' '.join(info.packages)}")
    print("\nOther encoders load from a local folder: features.<name>: {kind: speech_encoder, model: /path}.")
    return 0
