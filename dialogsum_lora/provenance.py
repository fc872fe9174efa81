"""Record what was actually run, beside the results: revisions, versions, device.

Provenance files are DVC outputs (they are the same on every rerun on the same
machine); wall times are not, so they go to reports/timing/, which no stage
reads, DVC does not track and `dvc metrics` does not compare.
"""

import hashlib
import importlib.metadata
import os
import platform
import time
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import read_json, write_json
from dialogsum_lora.paths import TIMING_DIR
from dialogsum_lora.schema import Record, Text, parse

LIBRARIES = ("torch", "transformers", "peft", "datasets", "dvc", "rouge_score")


def directory_hash(directory: Path) -> str:
    """A content hash of every file below `directory`: names and bytes, in sorted order, each
    file streamed (constant memory, whatever its size). A name that is not valid UTF-8 is
    hashed as its bytes; a FIFO, device or socket among the files is refused (reading it
    would never end)."""
    digest = hashlib.sha256()
    for file in sorted(directory.rglob("*"), key=lambda p: os.fsencode(p)):
        if file.is_dir():
            continue
        if not file.is_file():
            raise UserError(
                f"{file} is not a regular file: a model, adapter or data directory holds files and directories only"
            )
        digest.update(os.fsencode(file.relative_to(directory).as_posix()) + b"\0")
        digest.update(file_hash(file))
    return f"sha256:{digest.hexdigest()}"


def file_hash(file: Path) -> bytes:
    """The sha256 of a file's bytes, read in blocks."""
    with file.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def environment(device=None, dtype=None) -> dict:
    """Python and library versions, and the torch device and dtype used."""
    record = {"python": platform.python_version()}
    record.update({name: importlib.metadata.version(name) for name in LIBRARIES})
    if device is not None:
        import torch

        record["device"] = (
            torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})"
        )
        record["dtype"] = str(dtype).removeprefix("torch.")
    return record


def model_provenance(model, resolved: str, device, dtype) -> dict:
    """What a stage that loaded the base model (params.yaml's `model` section) ran with; `resolved`
    is the exact version (the hub commit, or the local directory's content hash)."""
    return {
        "model": {"name": model.name, "revision": model.revision, "resolved": resolved},
        "environment": environment(device, dtype),
    }


class ModelRecord(Record):
    """The base model a stage loaded, as model_provenance records it."""

    name: Text
    revision: Text | None
    resolved: Text  # the hub commit, or sha256: of a local directory's files


class DataSource(Record):
    """The data `prepare` loaded, as reports/data_stats.json names it."""

    name: Text
    revision: Text | None
    resolved: Text  # the hub commit, or sha256: of a local directory's files


def read_data_source(stats_file: Path) -> DataSource:
    """The data `prepare` loaded, from its statistics file."""
    stats = read_json(stats_file)
    if not isinstance(stats, dict) or "source" not in stats:
        raise UserError(
            f"{stats_file} does not name the data it describes (no key source): run `dvc repro prepare` to remake it"
        )
    try:
        return parse(DataSource, stats["source"], f"{stats_file} source")
    except UserError as error:
        raise UserError(f"{error}: run `dvc repro prepare` to remake it") from None


class Stopwatch:
    """Wall time of a block of work, written with its throughput to reports/timing/STAGE.json."""

    def __init__(self, stage: str):
        self.stage = stage

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.perf_counter() - self.start

    def write(self, **throughput) -> None:
        write_json(TIMING_DIR / f"{self.stage}.json", {"wall_seconds": round(self.seconds, 3), **throughput})
