"""What benchmarks/gpu.sh measured of the finetune stage's speed, in one table and one results file.

    python -m benchmarks.speed_report OUT_DIR [--commit SHA] [--results-dir DIR]

Reads the benchmarks.pipeline JSON files gpu.sh wrote to OUT_DIR:
  speed-*.json   finetune alone at each setting: steady samples/s (whole length-sorted blocks
                 after the first), the stage's wall time for its steps (compiling included),
                 peak memory and the profile of a few steps after the timed ones;
  losses-*.json  100 steps without dropout, each step's loss: every losses-X is compared with
                 losses-eager over the first 50 steps (a faster setting may change rounding alone);
  repro*.json    the whole pipeline, every step trained (--whole): its wall time and each
                 generation of the test dialogues.
Prints them, and writes DIR/<device>-<date>.json (default DIR: OUT_DIR) with the figures
BENCHMARKS.md quotes: device, train_batch_size, train_samples_per_second (steady, through the
stage), repro_seconds, generate_500_seconds (baseline and evaluate) and the commit measured, of
the fastest whole run whose settings are the committed ones or passed the loss check; and every
run's figures beside them.
"""

import argparse
import datetime
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files import read_json, write_json
from dialogsum_lora.schema import parse

LOSS_STEPS = 50  # the first steps compared
# bf16 keeps 8 bits of mantissa (a relative step of 2^-8 = 0.4%); 50 steps of bf16 rounding in
# every matmul (and a residual stream in bf16, with train.frozen_dtype) may move a loss by a few times that.
BF16_LOSS_TOLERANCE = 0.02
# What the losses- runs set to compare losses step by step; the rest of their settings are what they test.
LOSS_RUN_SETTINGS = {"lora.dropout", "train.logging_steps", "train.validation_rouge_dialogues"}
TEST_DIALOGUES = 500


class Loose(BaseModel):
    """A part of benchmarks.pipeline's JSON that this report reads (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Machine(Loose):
    device_name: str
    torch: str


class Settings(Loose):
    train_steps: int
    full_steps: int
    overrides: dict
    train_batch_size: int
    dialogues: dict[str, int]


class FinetuneTiming(Loose):
    steps: int
    samples_per_second: float
    steady_samples_per_second: float | None
    steady_steps: int
    peak_memory_mib: float


class GenerationTiming(Loose):
    wall_seconds: float


class Timing(Loose):
    finetune: FinetuneTiming
    baseline: GenerationTiming | None = None
    evaluate: GenerationTiming | None = None


class Run(Loose):
    machine: Machine
    settings: Settings
    measured_seconds: dict[str, float]
    measured_total_seconds: float
    timing: Timing
    train_losses: list[tuple[int, float]] = []
    profile: dict | None = None


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--commit", help="the commit measured (default: the one OUT_DIR/machine.json names)")
    parser.add_argument("--results-dir", type=Path, help="where the results file goes (default: OUT_DIR)")
    return parser.parse_args()


def load_runs(out_dir: Path, prefix: str) -> dict[str, Run]:
    return {path.stem: parse(Run, read_json(path), str(path)) for path in sorted(out_dir.glob(f"{prefix}*.json"))}


def speed_row(run: Run) -> dict:
    finetune = run.timing.finetune
    return {
        "overrides": run.settings.overrides,
        "steps": finetune.steps,
        "steady_samples_per_second": finetune.steady_samples_per_second,
        "steady_steps": finetune.steady_steps,
        "finetune_stage_seconds": round(run.measured_seconds["finetune"], 1),
        "peak_memory_mib": finetune.peak_memory_mib,
        **({"profile": run.profile} if run.profile else {}),
    }


def loss_agreement(name: str, reference: Run, other: Run) -> dict:
    """The largest relative difference between two runs' per-step losses over the first LOSS_STEPS steps."""
    first, second = dict(reference.train_losses), dict(other.train_losses)
    for run_name, losses in (("losses-eager", first), (name, second)):
        step, loss = min(losses.items(), key=lambda item: item[1], default=(None, 1.0))
        if loss <= 0:
            raise UserError(f"{run_name} logged a training loss of {loss} at step {step}: a cross-entropy is above 0")
    steps = [step for step in range(1, LOSS_STEPS + 1) if step in first and step in second]
    if len(steps) < LOSS_STEPS:
        raise UserError(
            f"{name} and losses-eager logged {len(steps)} common steps of the first {LOSS_STEPS}: run "
            f"both with train.logging_steps=1 and at least {LOSS_STEPS} steps"
        )
    worst = max(steps, key=lambda step: abs(second[step] - first[step]) / first[step])
    relative = abs(second[worst] - first[worst]) / first[worst]
    return {
        "overrides": tested_settings(other),
        "steps": len(steps),
        "max_relative_difference": float(f"{relative:.3g}"),
        "at_step": worst,
        "within_bf16_tolerance": relative <= BF16_LOSS_TOLERANCE,
        "tolerance": BF16_LOSS_TOLERANCE,
    }


def tested_settings(run: Run) -> dict:
    """A losses- run's settings without those that every losses- run sets."""
    return {key: value for key, value in run.settings.overrides.items() if key not in LOSS_RUN_SETTINGS}


def repro_row(name: str, run: Run, passed: list[dict]) -> dict:
    """A whole run's figures, and whether its settings may be quoted: the committed ones, or ones
    whose losses stayed within the bf16 tolerance (`passed`: such settings)."""
    settings, finetune = run.settings, run.timing.finetune
    if finetune.steps != settings.full_steps or set(run.measured_seconds) != {
        "prepare",
        "baseline",
        "finetune",
        "evaluate",
    }:
        raise UserError(
            f"{name} trained {finetune.steps} of {settings.full_steps} steps, or skipped a stage: a repro run "
            "runs every stage and trains every step (benchmarks.pipeline --whole, no train.max_steps)"
        )
    generation = {stage: getattr(run.timing, stage) for stage in ("baseline", "evaluate")}
    if None in generation.values():
        raise UserError(f"{name} has no generation timing of baseline or evaluate: run it again")
    test_dialogues = settings.dialogues.get("test")
    seconds = {stage: timing.wall_seconds for stage, timing in generation.items()}
    return {
        "overrides": settings.overrides,
        "loss_check": "committed params"
        if not settings.overrides
        else "passed"
        if settings.overrides in passed
        else "not passed (or not run)",
        "train_batch_size": settings.train_batch_size,
        "train_samples_per_second": finetune.steady_samples_per_second,
        "train_samples_per_second_overall": finetune.samples_per_second,
        "repro_seconds": round(run.measured_total_seconds, 1),
        "stage_seconds": {stage: round(wall, 1) for stage, wall in run.measured_seconds.items()},
        "test_dialogues": test_dialogues,
        "generate_seconds": seconds,
        **({"generate_500_seconds": seconds} if test_dialogues == TEST_DIALOGUES else {}),
    }


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def print_speed(results: dict) -> None:
    for name, row in results["speed"].items():
        profile = row.get("profile", {})
        print(
            f"  {name:<16} {row['steady_samples_per_second'] or 0:8.1f} samples/s steady; finetune {row['steps']} "
            f"steps in {row['finetune_stage_seconds']:.0f} s; {row['peak_memory_mib']:,.0f} MiB; "
            f"{profile.get('kernels_per_step', '?')} kernels, {profile.get('wall_ms_per_step', '?')} ms wall and "
            f"{profile.get('gpu_busy_ms_per_step', '?')} ms GPU a step"
        )
    for name, row in results.get("losses", {}).items():
        print(
            f"  {name:<16} losses of steps 1-{LOSS_STEPS} within {row['max_relative_difference']:.1e} (relative) of "
            "eager's "
            f"(step {row['at_step']}; bf16 tolerance {BF16_LOSS_TOLERANCE:.0%}: "
            f"{'yes' if row['within_bf16_tolerance'] else 'NO'})"
        )
    for name, row in results.get("repro", {}).items():
        print(
            f"  {name:<16} whole pipeline {row['repro_seconds']:.0f} s ({row['repro_seconds'] / 60:.1f} min), loss "
            f"check: {row['loss_check']}; training {row['train_samples_per_second']} samples/s steady; generating "
            f"{row['test_dialogues']}: "
            + ", ".join(f"{stage} {s:.1f} s" for stage, s in row["generate_seconds"].items())
        )


def main() -> None:
    args = parse_arguments()
    if not args.out_dir.is_dir():
        raise UserError(f"{args.out_dir} is not a folder")
    speed, losses, repro = (load_runs(args.out_dir, prefix) for prefix in ("speed-", "losses-", "repro"))
    if not (speed or losses or repro):
        raise UserError(f"{args.out_dir} holds no speed-*, losses-* or repro* results of benchmarks/gpu.sh")
    machine = next(iter({**speed, **losses, **repro}.values())).machine
    machine_file = args.out_dir / "machine.json"  # gpu.sh's: the date and the commit
    written = read_json(machine_file) if machine_file.exists() else {}
    if not isinstance(written, dict):
        raise UserError(f"{machine_file} is not a JSON object")
    commit = args.commit or written.get("commit")

    results = {
        "device": machine.device_name,
        "machine": machine.model_dump(),
        "commit": commit,
        "speed": {name: speed_row(run) for name, run in speed.items()},
    }
    if losses and "losses-eager" not in losses:
        raise UserError(f"{args.out_dir} has losses runs but no losses-eager.json to compare them with")
    if losses:
        results["losses"] = {
            name: loss_agreement(name, losses["losses-eager"], run)
            for name, run in losses.items()
            if name != "losses-eager"
        }
    passed = [row["overrides"] for row in results.get("losses", {}).values() if row["within_bf16_tolerance"]]
    if repro:
        results["repro"] = {name: repro_row(name, run, passed) for name, run in repro.items()}
        quotable = [row for row in results["repro"].values() if not row["loss_check"].startswith("not")]
        if quotable:  # the headline: the fastest whole run with settings that may be quoted
            best = min(quotable, key=lambda row: row["repro_seconds"])
            results.update(
                {key: best[key] for key in ("train_batch_size", "train_samples_per_second", "repro_seconds")}
            )
            results["generate_500_seconds"] = best.get("generate_500_seconds")
            results["settings"] = best["overrides"]
    print(f"{machine.device_name}, torch {machine.torch}; commit {commit or 'unknown'}")
    print_speed(results)
    date = written.get("date") or datetime.date.today().isoformat()
    path = (args.results_dir or args.out_dir) / f"{slug(machine.device_name)}-{date}.json"
    write_json(path, results)
    print(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
