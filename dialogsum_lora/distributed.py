"""Run a stage as N processes (param `processes`), one per GPU or, on a CPU, per core.

A stage started as `python -m stages.X` re-launches itself under torchrun
when `processes` > 1, so dvc.yaml stays the same for one process or many.
Training uses the Trainer's DDP; generation gives each process an interleaved
share of the (length-sorted) dialogues and gathers the summaries on rank 0,
which alone writes outputs.
"""

import logging
import os
import sys

from dialogsum_lora.errors import UserError


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_worker() -> bool:
    """True in a process torchrun started (its parent launched it and waits for it)."""
    return "LOCAL_RANK" in os.environ


def is_main_process() -> bool:
    """True in the one process that logs and writes outputs."""
    return rank() == 0


def relaunch_if_needed(processes: int, module: str) -> None:
    """Run `module` as `processes` processes under torchrun, then exit with their outcome,
    unless there is one process or this already is one of them.

    Call it after the stage has checked its params and inputs, so that a user's mistake is
    reported once, by this process. Each worker's own UserError is printed by rank 0 only
    (run_main); the launcher adds no traceback: it exits with the workers' exit code.
    """
    if processes <= 1 or is_worker():
        return
    import torch

    if torch.cuda.is_available() and processes > torch.cuda.device_count():
        raise UserError(
            f"params.yaml: processes is {processes}, but this machine has {torch.cuda.device_count()} GPUs"
        )
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # torchrun's notices (threads per process, which worker ended how) are not for users: the
    # workers print their own errors, and this process names a failed one.
    for name in ("torch.distributed.run", "torch.distributed.elastic"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    arguments = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={processes}", "-m", module])
    try:
        run(arguments)
    except ChildFailedError as error:
        failed_rank, failure = min(error.failures.items())
        if failed_rank != 0:  # rank 0 prints the errors; another rank failing alone says nothing
            print(f"error: process {failed_rank} of {processes} failed (exit code {failure.exitcode})", file=sys.stderr)
        sys.exit(failure.exitcode if failure.exitcode > 0 else 1)
    except SignalException:
        raise KeyboardInterrupt from None
    sys.exit(0)


def backend() -> str:
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def init_for_generation() -> None:
    """Join the process group (generation stages; the Trainer does this itself)."""
    import torch.distributed as dist

    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group(backend())


def my_share(items: list) -> list:
    """This process's share of `items`: every N-th item from its rank on (N processes)."""
    return items[rank() :: world_size()]


def gather_in_order(shard: list, indices: list[int], total: int) -> list | None:
    """Put each process's results (for `indices`) back in the original order: the full list
    on rank 0, None elsewhere."""
    gathered = [list(zip(indices, shard))]
    if world_size() > 1:
        import torch.distributed as dist

        gathered = [None] * world_size() if is_main_process() else None
        dist.gather_object(list(zip(indices, shard)), gathered, dst=0)
    if not is_main_process():
        return None
    merged = [None] * total
    for pairs in gathered:
        for i, value in pairs:
            merged[i] = value
    return merged
