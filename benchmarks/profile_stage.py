"""Profile a few steps of the finetune stage itself: kernels a step, CPU against GPU time.

    HF_HUB_OFFLINE=1 python -m benchmarks.profile_stage --json FILE [--start STEP] [--steps N]

Runs `python -m stages.finetune` in this process, as dvc.yaml does, with torch's profiler on
for optimiser steps START+1 .. START+N (after the warm-up, and after compiling with
train.torch_compile), and writes what it saw to FILE: per step, the wall time, the kernels launched on
the GPU, the GPU's busy time (the kernels' own time) and the CPU time of the operators torch
ran. A step whose wall time is well above its GPU time is bound by launching work, not by doing
it. benchmarks/pipeline.py --profile runs the stage this way.

The stage takes no callback from outside (a setting read from the environment would reach its
outputs), so this wraps the Trainer factory it calls, make_trainer, to add one.
"""

import argparse
import inspect
import runpy
import time
from pathlib import Path

from transformers import TrainerCallback

from dialogsum_lora.files import write_json


class ProfileSteps(TrainerCallback):
    """torch's profiler on for the optimiser steps after `start`, `steps` of them; the summary to `path`."""

    def __init__(self, start: int, steps: int, path: Path):
        self.start, self.steps, self.path = start, steps, path
        self.profiler = None

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.start and self.profiler is None:
            import torch

            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                torch.cuda.synchronize()
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self.profiler = torch.profiler.profile(activities=activities)
            self.profiler.__enter__()
            self.began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.profiler is None or state.global_step != self.start + self.steps:
            return
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        wall = time.perf_counter() - self.began
        self.profiler.__exit__(None, None, None)
        write_json(self.path, summarise(self.profiler.events(), wall, self.steps, self.start))
        self.profiler = False  # done: never again in this run


def summarise(events, wall_seconds: float, steps: int, start: int) -> dict:
    """Per-step figures from the profiler's events."""
    from torch.autograd import DeviceType

    kernels = [event for event in events if event.device_type == DeviceType.CUDA]
    operators = [event for event in events if event.device_type == DeviceType.CPU]
    gpu_us = sum(event.self_device_time_total for event in kernels)
    cpu_us = sum(event.self_cpu_time_total for event in operators)
    return {
        "profiled_steps": [start + 1, start + steps],
        "wall_ms_per_step": round(wall_seconds * 1000 / steps, 2),
        "kernels_per_step": round(len(kernels) / steps, 1),
        "gpu_busy_ms_per_step": round(gpu_us / 1000 / steps, 2),
        "cpu_operator_ms_per_step": round(cpu_us / 1000 / steps, 2),
        "cpu_operators_per_step": round(len(operators) / steps, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, metavar="FILE")
    parser.add_argument("--start", type=int, default=100, help="optimiser steps run before profiling")
    parser.add_argument("--steps", type=int, default=5, help="optimiser steps profiled")
    args = parser.parse_args()
    if args.start < 0 or args.steps < 1:
        parser.error("--start must be 0 or more and --steps at least 1")

    from dialogsum_lora.training import trainer

    make_trainer = trainer.make_trainer
    signature = inspect.signature(make_trainer)

    def profiled(*arguments, **keywords):
        call = signature.bind(*arguments, **keywords)
        call.arguments["callbacks"] = [*call.arguments["callbacks"], ProfileSteps(args.start, args.steps, args.json)]
        return make_trainer(*call.args, **call.kwargs)

    trainer.make_trainer = profiled
    runpy.run_module("stages.finetune", run_name="__main__")


if __name__ == "__main__":
    main()
