"""Exceptions shared by every layer, so callers can catch one family."""

from __future__ import annotations


class EmomtlError(Exception):
    """Base class of every error emomtl raises on purpose."""


class ConfigError(EmomtlError, ValueError):
    """A recipe or setting is invalid; the message names the setting's dotted path."""


class AudioError(EmomtlError):
    """An audio file cannot be used; the message names the file and the reason."""


class LabelError(EmomtlError, ValueError):
    """A label is unknown, missing or inconsistent; the message names the file or column."""


class SpeakerLeakError(EmomtlError, AssertionError):
    """A speaker appears in more than one of train / validation / test."""


class CheckpointError(EmomtlError):
    """A checkpoint is missing, corrupt or belongs to another recipe."""


class OutputError(EmomtlError):
    """A result cannot be written (disk full, read-only folder, ...); the message names the path."""


class RunFolderError(EmomtlError):
    """A run folder holds results made with other settings or data, or another process is writing it."""
