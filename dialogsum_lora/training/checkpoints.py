"""Checkpoints to resume a killed finetune from: one folder per (params read, training data),
each checkpoint marked once it is completely written.

Checkpoints go to .trainer/KEY/, KEY a hash of the params and data finetune
reads: a run that is killed (preempted, out of memory) resumes from its last
complete checkpoint when rerun with the same inputs, and any other change
starts afresh. The finetune stage deletes the folder once the adapter is saved.
"""

import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

from transformers import TrainerCallback

from dialogsum_lora import distributed
from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import read_json
from dialogsum_lora.modeling.base import check_safetensors
from dialogsum_lora.params import StageParams
from dialogsum_lora.paths import CHECKPOINTS_DIR, SPLIT_FILES
from dialogsum_lora.provenance import file_hash

TRAINING_DATA = (SPLIT_FILES["train"], SPLIT_FILES["validation"])


def training_data_hashes() -> dict[str, str]:
    """The sha256 of each split finetune reads, by file name."""
    return {str(file): f"sha256:{file_hash(file).hex()}" for file in TRAINING_DATA}


def checkpoint_directory(params: StageParams) -> Path:
    """Where this run's checkpoints go: one folder per (params finetune reads, training data)."""
    key = hashlib.sha256(json.dumps(params.model_dump(), sort_keys=True).encode())
    key.update(json.dumps(training_data_hashes(), sort_keys=True).encode())
    return CHECKPOINTS_DIR / key.hexdigest()[:16]


CHECKPOINT_COMPLETE = "checkpoint_complete"  # written into a checkpoint once the Trainer has saved all of it


class MarkCompleteCheckpoints(TrainerCallback):
    """Mark each checkpoint once it is completely written (on_save runs after the Trainer's save)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            (Path(args.output_dir) / f"checkpoint-{state.global_step}" / CHECKPOINT_COMPLETE).touch()


def last_complete_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint marked complete whose files are whole; rank 0 removes the others
    (killed while being written, or cut short or corrupted since), saying so for a marked one.

    Not transformers' get_last_checkpoint: it takes the newest folder, complete or not.
    """
    marked = []
    for checkpoint in directory.glob("checkpoint-*"):
        if (checkpoint / CHECKPOINT_COMPLETE).exists():
            marked.append(checkpoint)
        elif distributed.is_main_process():
            shutil.rmtree(checkpoint)
    for checkpoint in sorted(marked, key=lambda path: int(path.name.split("-")[1]), reverse=True):
        damage = damaged_file(checkpoint)
        if damage is None:
            return checkpoint
        if distributed.is_main_process():
            print(f"warning: {checkpoint} is marked complete, but {damage}: it is skipped", file=sys.stderr)
            shutil.rmtree(checkpoint)
    return None


def damaged_file(checkpoint: Path) -> str | None:
    """What is wrong with a checkpoint's files, or None: every JSON file parses, every safetensors
    file is whole, and every torch file (a zip archive) passes its checksums."""
    if not (checkpoint / "trainer_state.json").is_file():
        return "it has no trainer_state.json"
    for file in sorted(checkpoint.iterdir()):
        try:
            if file.suffix == ".json":
                read_json(file)
            elif file.suffix == ".safetensors":
                check_safetensors(file)
            elif file.suffix in (".pt", ".pth", ".bin"):
                with zipfile.ZipFile(file) as archive:
                    bad = archive.testzip()
                if bad is not None:
                    return f"{file.name} is corrupt (its {bad} fails its checksum)"
        except UserError as error:
            return str(error).split(": save")[0]
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            return f"{file.name} is cut short or corrupt ({error})"
    return None


def remove_checkpoints(directory: Path) -> None:
    """Remove a finished run's checkpoints, and the checkpoints folder if nothing else is left in it."""
    shutil.rmtree(directory)
    if not any(CHECKPOINTS_DIR.iterdir()):
        CHECKPOINTS_DIR.rmdir()
