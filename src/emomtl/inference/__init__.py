"""Use trained models on new recordings.

``Recognizer`` is imported on first use, so worker processes that only extract features
(:mod:`emomtl.inference.extraction`) start without loading the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emomtl.inference.recognizer import Recognizer

__all__ = ["Recognizer"]


def __getattr__(name: str) -> Any:
    if name == "Recognizer":
        from emomtl.inference.recognizer import Recognizer

        return Recognizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
