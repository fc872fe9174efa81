"""Record what was actually run, beside the results: revisions, versions, device.

Provenance files are DVC outputs (they are the same on every rerun on the same
machine); wall times are not, so they go to reports/timing/, which no stage
reads, DVC does not track and `dvc metrics` does not compare.
"""

import hashlib
import importlib.metadata
import platform
import time
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.outputs import read_json, write_json
from dialogsum_lora.paths import TIMING_DIR

LIBRARIES = ("torch", "transformers", "peft", "datasets", "dvc", "rouge_score")


def directory_hash(directory: Path) -> str:
    """A content hash of every file below `directory` (names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(file.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return f"sha256:{digest.hexdigest()}"


def environment(device=None, dtype=None) -> dict:
    """Python and library versions, and the torch device and dtype used."""
    record = {"python": platform.python_version()}
    record.update({name: importlib.metadata.version(name) for name in LIBRARIES})
    if device is not None:
        import torch

        record["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})"
        record["dtype"] = str(dtype).removeprefix("torch.")
    return record


def model_provenance(params, resolved: str, device, dtype) -> dict:
    """What a stage that loaded the base model ran with; `resolved` is the exact version
    (the hub commit, or the local directory's content hash)."""
    return {
        "model": {"name": params.model.name, "revision": params.model.revision, "resolved": resolved},
        "environment": environment(device, dtype),
    }


def read_data_source(stats_file: Path) -> dict:
    """The data `prepare` loaded, {name, revision, resolved}, from its statistics file."""
    stats = read_json(stats_file)
    source = stats.get("source") if isinstance(stats, dict) else None
    if not isinstance(source, dict) or not all(isinstance(source.get(key), str) for key in ("name", "resolved")):
        raise UserError(f"{stats_file} does not name the data it describes: run `dvc repro prepare` to remake it")
    return source


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
