"""Run a stage as N processes (param `processes`), one per GPU or, on a CPU, per core.

A stage started as `python -m stages.X` re-launches itself under torchrun
when `processes` > 1, so dvc.yaml stays the same for one process or many.
Training uses the Trainer's DDP; generation gives each process an interleaved
share of the (length-sorted) dialogues and gathers the summaries on rank 0,
which alone writes outputs.
"""

import logging
import os
import signal
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
    reported before any process starts. A process that fails leaves its one `error:` line to
    this launcher (errors.run_main), which prints the line of the process that failed first
    (_first_failure), once, and exits with its exit code; the processes torchrun then stops say
    nothing. Not `torchrun` in dvc.yaml's cmd with `errors.record`: one process would pay for a launcher,
    and record's report is a traceback in a table, where a mistake here is one line.
    """
    if processes <= 1 or is_worker():
        return
    import tempfile

    import torch

    if torch.cuda.is_available() and processes > torch.cuda.device_count():
        raise UserError(f"params.yaml: processes is {processes}, but this machine has {torch.cuda.device_count()} GPUs")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    from dialogsum_lora.errors import Terminated

    # torchrun's notices (threads per process, which worker ended how) are not for users: the
    # workers leave their errors to this process, which prints one.
    for name in ("torch.distributed.run", "torch.distributed.elastic"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # torchrun's log folder (each process's reply file) is this run's, and goes with it.
    with tempfile.TemporaryDirectory(prefix="dialogsum-torchrun-") as log_dir:
        arguments = get_args_parser().parse_args(
            ["--standalone", f"--nproc-per-node={processes}", f"--log-dir={log_dir}", "-m", module]
        )
        try:
            run(arguments)
        except ChildFailedError as error:
            failed_rank, failure = _first_failure(error.failures)
            sys.exit(_report(failed_rank, failure, processes))
        except SignalException as error:
            if error.sigval == signal.SIGTERM:
                raise Terminated() from None
            raise KeyboardInterrupt from None
    sys.exit(0)


def _first_failure(failures: dict) -> tuple:
    """The process whose failure ended the run. torchrun stops the others (SIGTERM, then SIGKILL
    after a wait) once one fails, and on the CPU a process whose peer has gone fails in its next
    collective (an error of its own, reported as a bug): so, in this order, the first process
    that reported a mistake or a fault of the machine (by the time it reported), a process killed
    by a signal torchrun does not send first (the kernel's SIGKILL, out of memory), the first
    that reported a bug, any other that torchrun did not stop, and else the lowest rank. Not torch's
    ChildFailedError.get_first_failure: it orders by whole seconds, so the peer's error a mistake caused
    in the same second could be reported in its place."""
    reported = {rank: failure for rank, failure in failures.items() if _reported_line(failure)}
    stopped = (-signal.SIGTERM, 128 + signal.SIGTERM)

    def first(chosen: dict) -> tuple:
        return min(chosen.items(), key=lambda item: (_reported_time(item[1]), item[0]))

    mistakes = {rank: failure for rank, failure in reported.items() if failure.exitcode == 2}
    killed = {
        rank: failure
        for rank, failure in failures.items()
        if rank not in reported and failure.exitcode < 0 and failure.exitcode != -signal.SIGTERM
    }
    others = {rank: failure for rank, failure in failures.items() if failure.exitcode not in stopped}
    for chosen in (mistakes, killed, reported, others, failures):
        if chosen:
            return first(chosen)
    raise ValueError("no failure to report")


def _reported_time(failure) -> int:
    """When a process reported its failure (errors.run_main's reply file), in ns; 0 if it did not."""
    return failure.error_file_data.get("time_ns", 0) if os.path.isfile(failure.error_file) else 0


def _reported_line(failure) -> str | None:
    """The `error:` line a failed process left in its reply file (errors.run_main), if it left one."""
    message = failure.error_file_data.get("message") if os.path.isfile(failure.error_file) else None
    return message if isinstance(message, str) else None


def _report(failed_rank: int, failure, processes: int) -> int:
    """Print the failed process's one `error:` line; the exit code this launcher ends with."""
    line = _reported_line(failure)
    if line:
        print(f"error: {line}", file=sys.stderr)
        return failure.exitcode if failure.exitcode > 0 else 128 - failure.exitcode
    if failure.exitcode < 0:  # killed by a signal: SIGKILL from the kernel out of memory, say
        print(f"error: process {failed_rank} of {processes} was killed by {failure.signal_name()}", file=sys.stderr)
        return 128 - failure.exitcode
    print(f"error: process {failed_rank} of {processes} failed (exit code {failure.exitcode})", file=sys.stderr)
    return failure.exitcode


def backend() -> str:
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def init_for_generation() -> None:
    """Join the process group (generation stages; the Trainer does this itself)."""
    import torch.distributed as dist

    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group(backend())


def my_share(items: list) -> list:
    """This process's share of `items`: every N-th item from its rank on (N processes). Not accelerate's
    split_between_processes (nor its gather_object): its contiguous shares of length-sorted dialogues would
    give one process all the long ones."""
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
