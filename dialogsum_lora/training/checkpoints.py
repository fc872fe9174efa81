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
from pathlib import Path

from transformers import TrainerCallback

from dialogsum_lora import distributed
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
    """The newest checkpoint marked complete; rank 0 removes the others (killed while being written).

    Not transformers' get_last_checkpoint: it takes the newest folder, complete or not.
    """
    marked = []
    for checkpoint in directory.glob("checkpoint-*"):
        if (checkpoint / CHECKPOINT_COMPLETE).exists():
            marked.append(checkpoint)
        elif distributed.is_main_process():
            shutil.rmtree(checkpoint)
    return max(marked, key=lambda path: int(path.name.split("-")[1]), default=None)


def remove_checkpoints(directory: Path) -> None:
    """Remove a finished run's checkpoints, and the checkpoints folder if nothing else is left in it."""
    shutil.rmtree(directory)
    if not any(CHECKPOINTS_DIR.iterdir()):
        CHECKPOINTS_DIR.rmdir()
