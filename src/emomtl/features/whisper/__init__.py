"""Whisper encoders in torch, loaded offline from CTranslate2 ``model.bin`` files shipped on the package registry.

``checkpoint`` reads the CTranslate2 file, ``packages`` finds (and for multilingual base assembles) the packaged
files, ``encoder`` builds transformers' ``WhisperEncoder`` from them and runs it on unpadded input, and
``extractor`` is the ``whisper`` feature kind (per-layer frames or pooled functionals).
"""
