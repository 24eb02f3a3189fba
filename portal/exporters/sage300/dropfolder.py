"""The drop folder: where import files land, one per batch (the file-drop connector's folder,
and the simulator's copy of what it imported). Shared by connectors and the simulator, so
neither imports the other for it."""
from __future__ import annotations

import os
import tempfile

from .fileformat import FILE_ENCODING, UnwritableCharacter, drop_file_name, encoding_problem


def write_import_file(folder: str, batch_id: str, content: str, durable: bool = True) -> str:
    """Write the batch's import file atomically (temp file + os.replace); returns its name.
    durable: flushed to disk before it appears (the file drop: the file is the export).
    A character outside the file's encoding is UnwritableCharacter (nothing written), never "?"."""
    problem = encoding_problem(content)
    if problem:
        raise UnwritableCharacter(problem)
    os.makedirs(folder, exist_ok=True)
    name = drop_file_name(batch_id)
    # the temp file lives in the same folder so os.replace stays a same-filesystem rename,
    # and a Sage import scanning *.txt never sees a half-written file
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding=FILE_ENCODING, newline="") as f:
            f.write(content)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return name
