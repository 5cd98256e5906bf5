"""openSMILE features through the opensmile Python package: functionals ``(dim,)`` or low-level descriptors.

eGeMAPSv02 functionals have 88 values, ComParE_2016 functionals 6373; LLDs are ``(frames, dim)`` at 100 frames/s.
NaN values (openSMILE's marker for segments too short for a descriptor) become 0.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from emomtl.features.base import AudioExtractor, AudioOptions, require
from emomtl.features.opensmile_native import HtkSmile

LEVELS = {"functionals": "Functionals", "lld": "LowLevelDescriptors", "lld_deltas": "LowLevelDescriptors_Deltas"}
FEATURE_SETS = (
    "eGeMAPSv02", "ComParE_2016", "GeMAPSv01b", "eGeMAPSv01b", "emobase", "IS09", "IS10", "IS11", "IS12", "IS13",
)


@dataclasses.dataclass(frozen=True)
class OpenSmileOptions(AudioOptions):
    """``feature_set``: a member of ``opensmile.FeatureSet``; ``level``: functionals, lld or lld_deltas."""

    feature_set: str = "eGeMAPSv02"
    level: str = "functionals"

    def check(self, setting: str, sample_rate: int) -> None:
        super().check(setting, sample_rate)
        require(self.feature_set in FEATURE_SETS, setting, "feature_set", f"must be one of {', '.join(FEATURE_SETS)}")
        require(self.level in LEVELS, setting, "level", f"must be one of {', '.join(LEVELS)}")


class OpenSmileExtractor(AudioExtractor):
    """Output: functionals ``(dim,)`` (input ``"functionals"``) or LLDs ``(frames, dim)`` (input ``"lld"``)."""

    kind = "opensmile"
    #: openSMILE runs in native code through ctypes, which releases the GIL: threads scale over the cores without
    #: the start-up of worker processes, and one ``Smile`` object serves them all (each call builds its own
    #: native instance, read back through openSMILE's HTK sink: see :mod:`~emomtl.features.opensmile_native`).
    parallel = "thread"
    Options = OpenSmileOptions

    @property
    def input_name(self) -> str:
        return "functionals" if self.options.level == "functionals" else "lld"

    @property
    def time_axis(self) -> int | None:
        return None if self.options.level == "functionals" else 0

    @property
    def frames_per_second(self) -> float | None:
        return None if self.options.level == "functionals" else 100.0

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns, in order."""
        return list(self._smile.feature_names)

    @property
    def _smile(self):
        return self.resource("smile", self._build_smile)

    def _build_smile(self):
        import opensmile

        # Too-short segments come back as NaN, which from_prepared turns into 0; the warning is filtered once here
        # because warnings.catch_warnings() around each call is not thread-safe.
        warnings.filterwarnings("ignore", message="Segment too short", category=UserWarning)
        return opensmile.Smile(
            feature_set=opensmile.FeatureSet[self.options.feature_set],
            feature_level=opensmile.FeatureLevel[LEVELS[self.options.level]],
        )

    @property
    def _native(self) -> HtkSmile | None:
        return self.resource("native", self._build_native)

    def _build_native(self) -> HtkSmile | None:
        """The HTK-sink runner, or None (with a warning) if this openSMILE build cannot run it."""
        try:
            native = HtkSmile(self._smile)
            native(np.random.default_rng(0).normal(0, 0.1, self.sample_rate).astype(np.float32), self.sample_rate)
            return native
        except Exception as error:  # an opensmile release with another layout: keep the Python API's slower path
            warnings.warn(f"openSMILE's HTK sink is unavailable ({error}); using the slower Python API sink")
            return None

    def from_prepared(self, signal: np.ndarray) -> np.ndarray:
        native = self._native
        if native is None:
            values = self._smile.process_signal(signal, self.sample_rate).to_numpy(dtype=np.float32)
        else:
            values = native(signal, self.sample_rate)
            if not len(values):  # too short for one frame: the Python API's row of NaN
                values = np.full((1, native.dim), np.nan, dtype=np.float32)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        if self.options.level == "functionals":
            return np.ascontiguousarray(values[0])
        return np.ascontiguousarray(values)
