"""Use a trained model on new recordings."""

from emomtl.inference.recognizer import Recognizer

__all__ = ["Recognizer"]
