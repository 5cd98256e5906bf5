"""Read the variables of a CTranslate2 model file (``model.bin``) into numpy arrays.

Layout, as CTranslate2's ``model_spec.py`` writes it (little-endian): uint32 format version, a string spec name,
uint32 revision, uint32 variable count, then per variable a string name, uint8 rank, rank x uint32 shape, uint8
dtype id, uint32 byte count and the raw bytes; aliases follow. A string is a uint16 length then the bytes,
NUL-terminated. Nothing in the file is executed: it is read as numbers only.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from emomtl.errors import EmomtlError

#: CTranslate2 DataType ids -> numpy dtypes.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
#: Format versions this reader understands.
SUPPORTED_VERSIONS = range(5, 7)


class CTranslate2FormatError(EmomtlError, ValueError):
    """A ``model.bin`` that is truncated, corrupt or of an unknown format; the message names the file."""


def read_variables(path: str | Path, prefix: str = "") -> tuple[str, dict[str, np.ndarray]]:
    """``(spec name, {variable name: array})`` for the variables whose name starts with ``prefix``.

    Other variables are skipped without being read, so taking the encoder of a Whisper file costs only its bytes.
    """
    spec, found = _scan(Path(path), prefix, read=True)
    return spec, found  # type: ignore[return-value]


def variable_shapes(path: str | Path, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """``{variable name: shape}`` from the file's headers alone (no weights are read)."""
    return _scan(Path(path), prefix, read=False)[1]  # type: ignore[return-value]


def _scan(path: Path, prefix: str, read: bool) -> tuple[str, dict[str, np.ndarray | tuple[int, ...]]]:
    size = path.stat().st_size
    variables: dict[str, np.ndarray | tuple[int, ...]] = {}
    with open(path, "rb") as handle:
        try:
            version = _unpack(handle, "<I")
            if version not in SUPPORTED_VERSIONS:
                raise CTranslate2FormatError(f"{path}: CTranslate2 format version {version} is not supported "
                                             f"(known: {list(SUPPORTED_VERSIONS)})")
            spec = _string(handle)
            _unpack(handle, "<I")  # revision
            for _ in range(_unpack(handle, "<I")):
                name = _string(handle)
                rank = _unpack(handle, "<B")
                shape = struct.unpack(f"<{rank}I", _exactly(handle, 4 * rank))
                dtype_id = _unpack(handle, "<B")
                nbytes = _unpack(handle, "<I")
                if handle.tell() + nbytes > size:
                    raise CTranslate2FormatError(f"{path}: variable {name!r} runs past the end of the file "
                                                 f"(truncated or incomplete file)")
                if not name.startswith(prefix) or not read:
                    handle.seek(nbytes, 1)
                    if name.startswith(prefix):
                        variables[name] = tuple(shape)
                    continue
                if dtype_id not in DTYPES:
                    raise CTranslate2FormatError(f"{path}: variable {name!r} has unknown dtype id {dtype_id}")
                array = np.frombuffer(_exactly(handle, nbytes), dtype=DTYPES[dtype_id])
                if array.size != int(np.prod(shape)):
                    raise CTranslate2FormatError(f"{path}: variable {name!r} has {array.size} values for shape {shape}")
                variables[name] = array.reshape(shape)
        except (struct.error, UnicodeDecodeError) as error:
            raise CTranslate2FormatError(f"{path}: not a readable CTranslate2 model file ({error})") from error
    return spec, variables


def _unpack(handle: BinaryIO, fmt: str) -> int:
    return struct.unpack(fmt, _exactly(handle, struct.calcsize(fmt)))[0]


def _string(handle: BinaryIO) -> str:
    length = _unpack(handle, "<H")
    return _exactly(handle, length).rstrip(b"\0").decode("utf-8")


def _exactly(handle: BinaryIO, count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise CTranslate2FormatError(f"{handle.name}: ended after {handle.tell()} bytes (truncated or incomplete file)")
    return data


def write_variables(path: str | Path, spec: str, variables: dict[str, np.ndarray], version: int = 6) -> None:
    """Write ``variables`` in the same layout (tests build small files with it; no aliases)."""
    codes = {np.dtype(v): k for k, v in DTYPES.items()}

    def string(text: str) -> bytes:
        raw = text.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    parts = [struct.pack("<I", version), string(spec), struct.pack("<I", 1), struct.pack("<I", len(variables))]
    for name, value in variables.items():
        array = np.array(value, order="C")  # ascontiguousarray would turn a scalar into shape (1,)
        parts += [string(name), struct.pack("<B", array.ndim), struct.pack(f"<{array.ndim}I", *array.shape),
                  struct.pack("<B", codes[array.dtype]), struct.pack("<I", array.nbytes), array.tobytes()]
    parts.append(struct.pack("<I", 0))
    Path(path).write_bytes(b"".join(parts))
