"""Run a stage as N processes (param `processes`; one per GPU, or per CPU core): the stage relaunches itself
under torchrun, so dvc.yaml is the same for one process or many; rank 0 alone writes outputs."""

import logging
import os
import signal
import sys
import tempfile

from dialogsum_lora.errors import Terminated, UserError


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0  # the one process that logs and writes outputs


def relaunch_if_needed(processes: int, module: str) -> None:
    """Run `module` as `processes` processes under torchrun and exit with their outcome, unless there is
    one process or this is one of them (torchrun sets LOCAL_RANK). Call it once params and inputs are checked."""
    # Not `torchrun` in dvc.yaml with `errors.record`: one process would pay for a launcher, and record reports a
    # traceback in a table; here the first failed process's one `error:` line (its reply file) is printed once.
    if processes <= 1 or "LOCAL_RANK" in os.environ:
        return
    import torch
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    if torch.cuda.is_available() and processes > torch.cuda.device_count():
        raise UserError(f"params.yaml: processes is {processes}, but this machine has {torch.cuda.device_count()} GPUs")
    # torchrun's notices (threads per process, which worker ended how) are not for users.
    for name in ("torch.distributed.run", "torch.distributed.elastic"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="dialogsum-torchrun-") as log_dir:  # the reply files go with the run
        arguments = get_args_parser().parse_args(
            ["--standalone", f"--nproc-per-node={processes}", f"--log-dir={log_dir}", "-m", module]
        )
        try:
            run(arguments)
        except ChildFailedError as error:
            sys.exit(_report(error.failures, processes))
        except SignalException as error:
            raise (Terminated() if error.sigval == signal.SIGTERM else KeyboardInterrupt()) from None
    sys.exit(0)


def _report(failures: dict, processes: int) -> int:
    """Print the `error:` line of the failure that ended the run, not of those it caused; return the exit code.
    First a reported mistake; then any failure but torchrun's SIGTERM, one that reported nothing (a kill, out of
    memory, an exit without a line) before a reported bug; ties by the time it reported, then by rank."""
    # torchrun stops the others (SIGTERM) once one fails; on the CPU a process whose peer has gone fails in its next
    # collective with a bug of its own. get_first_failure orders by whole seconds alone.
    found = []
    for rank, failure in failures.items():
        reply = failure.error_file_data if os.path.isfile(failure.error_file) else {}  # errors.run_main's
        line = reply.get("message") if isinstance(reply.get("message"), str) else None
        stopped = failure.exitcode in (-signal.SIGTERM, 128 + signal.SIGTERM)
        mistake = line is not None and failure.exitcode == 2
        order = (not mistake, stopped, line is not None, reply.get("time_ns", 0), rank)
        found.append((order, rank, failure, line))
    _, rank, failure, line = min(found, key=lambda item: item[0])
    # A negative exit code: killed by a signal (the kernel's SIGKILL, say).
    how = f"was killed by {failure.signal_name()}" if failure.exitcode < 0 else f"failed (exit code {failure.exitcode})"
    print(f"error: {line or f'process {rank} of {processes} {how}'}", file=sys.stderr)
    return failure.exitcode if failure.exitcode > 0 else 128 - failure.exitcode


def backend() -> str:
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def init_for_generation() -> None:
    """Join the process group (generation stages; the Trainer does this itself)."""
    import torch.distributed as dist

    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group(backend())


def my_share(items: list) -> list:
    """This process's share of `items`: every N-th item from its rank on (accelerate's split_between_processes
    gives contiguous shares: of length-sorted dialogues, one process would get all the long ones)."""
    return items[rank() :: world_size()]


def gather_in_order(shard: list, indices: list[int], total: int) -> list | None:
    """Each process's results (for `indices`, one each) in the original order: all on rank 0, None elsewhere."""
    pairs = list(zip(indices, shard, strict=True))
    gathered = [pairs]
    if world_size() > 1:
        import torch.distributed as dist

        gathered = [None] * world_size() if is_main_process() else None
        dist.gather_object(pairs, gathered, dst=0)
    if not is_main_process():
        return None
    merged = dict(pair for pairs in gathered for pair in pairs)
    return [merged[i] for i in range(total)]  # a KeyError, never a None, where a result is missing
