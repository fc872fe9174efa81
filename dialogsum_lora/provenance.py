"""Record what was actually run, beside the results: revisions, versions, device. Wall times change every run,
so they go to reports/timing/, which no stage reads and DVC does not track."""

import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import write_json
from dialogsum_lora.paths import TIMING_DIR
from dialogsum_lora.schema import Record, Text, read_checked

LIBRARIES = ("torch", "transformers", "peft", "datasets", "dvc", "rouge_score")


def directory_hash(directory: Path) -> str:
    """sha256: of the names (as bytes) and contents of the files below `directory`, sorted; files only (UserError)."""
    digest = hashlib.sha256()
    for file in sorted(directory.rglob("*"), key=os.fsencode):
        if file.is_dir():
            continue
        if not file.is_file():  # a FIFO or a device: reading it would never end
            raise UserError(f"{file} is not a regular file: a model, adapter or data directory holds files only")
        digest.update(os.fsencode(file.relative_to(directory).as_posix()) + b"\0")
        digest.update(file_hash(file))
    return f"sha256:{digest.hexdigest()}"


def file_hash(file: Path) -> bytes:
    with file.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def model_provenance(model, resolved: str, device, dtype) -> dict:
    """What a stage ran with: the base model (`resolved`: its hub commit or directory hash), versions, device, dtype."""
    import torch

    return {
        "model": {"name": model.name, "revision": model.revision, "resolved": resolved},
        "environment": {
            "python": platform.python_version(),
            **{name: importlib.metadata.version(name) for name in LIBRARIES},
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})",
            "dtype": str(dtype).removeprefix("torch."),
        },
    }


class DataSource(Record):
    """The data `prepare` loaded (reports/data_stats.json), or the base model a stage loaded (model_provenance)."""

    name: Text
    revision: Text | None
    resolved: Text  # the hub commit, or sha256: of a local directory's files


def read_data_source(stats_file: Path) -> DataSource:
    return read_checked(DataSource, stats_file, "run `dvc repro prepare` to remake it", key="source")


def write_timing(stage: str, seconds: float, **throughput) -> None:
    """A stage's wall time and throughput, to reports/timing/STAGE.json (not an output)."""
    write_json(TIMING_DIR / f"{stage}.json", {"wall_seconds": round(seconds, 3), **throughput})
