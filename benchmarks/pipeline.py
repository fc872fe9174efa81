"""Wall time of the whole pipeline, stage by stage, at DialogSum's size.

    HF_HUB_OFFLINE=1 python -m benchmarks.pipeline [--model tiny|flan-t5-base] [--train-steps N | --whole]
        [--stages NAME ...] [--no-dropout] [--train-dialogues N] [--test-dialogues N] [--set KEY=VALUE ...]
        [--json FILE] [--dir DIR]

What `dvc repro` runs, timed. An offline copy of the repository
(dialogsum_lora.commands.demo.make_offline_copy) gets synthetic data of DialogSum's size
(12,460 training, 500 validation and 500 test dialogues, 3 references each) whose
prompts and summaries have flan-t5's token lengths (every word is one token of
the tiny tokenizer), and params.yaml as committed except data.source,
model.name and train.max_steps (and any --set). Then each stage's `cmd` from
dvc.yaml runs in order, in its own process, as under `dvc repro`. Left out:
DVC's hashing and bookkeeping (seconds) and downloading the model and data.

`--model flan-t5-base` is flan-t5-base's architecture with random weights
(benchmarks/flan-t5-base.json, saved as a local model directory in fp32 as the
real checkpoint is) with the tiny tokenizer. Training stops after
--train-steps (best a multiple of 50: the Trainer sorts blocks of up to 50
batches by length, and finetune times whole blocks after the first), and the
full run's training is projected from the steady speed that finetune records in
reports/timing/finetune.json:

    projected finetune = its wall time + (full steps - steps run) / steady steps per second

`--whole` trains every step instead (nothing projected: the measured total is the run's).
`--stages` runs only those (in dvc.yaml's order; finetune needs prepare). `--no-dropout` drops
out nothing (the model's dropout_rate and lora.dropout 0): then nothing random depends on a
batch's shape, and the per-step training losses in the JSON (`train_losses`, with
train.logging_steps=1) of two settings can be compared step by step
(benchmarks/speed_report.py).

Random weights seldom emit eos, so every summary runs to
generate.max_new_tokens (128), about four times a real one: the generation
times are upper bounds.
"""

import argparse
import math
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.machine import machine
from benchmarks.params import Reads
from benchmarks.synthetic import (
    TEST_DIALOGUES,
    TRAINING_DIALOGUES,
    VALIDATION_DIALOGUES,
    random_flan_t5,
    synthetic_splits,
    write_splits,
)
from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.commands.demo import TINY_MODEL_DIR, make_offline_copy, offline_environment
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files import read_json, write_json
from dialogsum_lora.modeling.base import load_tokenizer, pick_device
from dialogsum_lora.params import load_params, set_params
from dialogsum_lora.paths import PARAMS_FILE, REPO_ROOT, TIMING_DIR, TRAIN_LOSS_FILE

DATA_DIR = "data/synthetic"
FLAN_T5_BASE_DIR = "models/flan-t5-base-random"


def parse_arguments() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "flan-t5-base"], default="tiny")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--train-steps", type=int, default=100, help="training steps run (the rest is projected)")
    length.add_argument("--whole", action="store_true", help="train every step of the run (nothing projected)")
    parser.add_argument("--stages", nargs="+", metavar="NAME", help="run only these stages (default: all)")
    parser.add_argument(
        "--no-dropout", action="store_true", help="no dropout anywhere (to compare losses step by step)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="STEPS",
        help="after --train-steps, profile this many more steps of finetune (benchmarks/profile_stage.py); "
        "outside the steady speed's timed blocks when --train-steps is a multiple of the block (50)",
    )
    parser.add_argument("--train-dialogues", type=int, default=TRAINING_DIALOGUES)
    parser.add_argument("--validation-dialogues", type=int, default=VALIDATION_DIALOGUES)
    parser.add_argument("--test-dialogues", type=int, default=TEST_DIALOGUES)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="also set a param, e.g. --set train.torch_compile=true (YAML value; repeatable)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--dir", type=Path, help="run here (replaced) and keep it; default: a temporary directory")
    args = parser.parse_args()
    if args.profile is not None and (args.whole or args.profile < 1):
        parser.error("--profile takes a positive number of steps, after --train-steps (not with --whole)")
    stages = list(yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    unknown = sorted(set(args.stages or ()) - set(stages))
    if unknown:
        parser.error(f"--stages: dvc.yaml has no stage {unknown[0]!r} (its stages: {', '.join(stages)})")
    if args.profile is not None and args.stages and "finetune" not in args.stages:
        parser.error("--profile profiles finetune: name it in --stages")
    for name in ("train_steps", "train_dialogues", "validation_dialogues", "test_dialogues"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    overrides = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator:
            parser.error(f"--set takes KEY=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    args.overrides = overrides
    return args


def drop_out_nothing(model_dir: Path) -> None:
    """Set the saved model's dropout_rate to 0."""
    config = read_json(model_dir / "config.json")
    write_json(model_dir / "config.json", {**config, "dropout_rate": 0.0})


def train_losses(directory: Path) -> list[list[float]]:
    """[step, training loss] as finetune logged them (reports/train), or none if it did not run."""
    file = directory / TRAIN_LOSS_FILE
    if not file.exists():
        return []
    rows = [line.split("\t") for line in file.read_text(encoding="utf-8").splitlines()[1:]]
    return [[int(step), float(loss)] for step, loss in rows]


def write_flan_t5_base(directory: Path, tokenizer_dir: Path) -> None:
    """flan-t5-base's architecture, random weights, saved as a model directory with the tiny tokenizer."""
    from transformers import AutoTokenizer

    random_flan_t5().save_pretrained(directory)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(directory)


# --- Running the stages -----------------------------------------------------------------------


def run_stages(
    directory: Path, only: list[str] | None = None, commands: dict[str, str] | None = None
) -> dict[str, float]:
    """Run each stage's command from dvc.yaml (or from `commands`, by stage) in order (those in `only`,
    if given); return each one's wall time in seconds."""
    stages = yaml.safe_load((directory / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, command in (commands or {}).items():
        stages[name]["cmd"] = command
    walls = {}
    for name, stage in stages.items():
        if only and name not in only:
            continue
        log = directory / f"benchmark-{name}.log"
        print(f"{name}: {stage['cmd']}  (output in {log})", flush=True)
        start = time.perf_counter()
        with open(log, "w") as output:
            result = subprocess.run(
                stage["cmd"],
                shell=True,
                cwd=directory,
                env=offline_environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        walls[name] = time.perf_counter() - start
        if result.returncode:
            tail = log.read_text(errors="replace")[-2000:]
            raise UserError(f"stage {name} failed (exit {result.returncode}); the end of {log}:\n{tail}")
        print(f"  {walls[name]:.1f} s", flush=True)
    return walls


def project(walls: dict[str, float], finetune_timing: dict, full_steps: int, batch_size: int) -> dict[str, float]:
    """Each stage's projected wall time for the full training run (the others as measured)."""
    projected = dict(walls)
    remaining = full_steps - finetune_timing["steps"]
    if remaining > 0:
        steady = finetune_timing["steady_samples_per_second"]
        if not steady:
            raise UserError(
                "finetune ran too few steps to measure its steady speed (two length-sorted blocks, "
                "up to 100 steps): raise --train-steps"
            )
        steps_per_second = steady / batch_size
        projected["finetune"] = walls["finetune"] + remaining / steps_per_second
    return projected


def main() -> None:
    args = parse_arguments()
    load_before = os.getloadavg()[0]
    scratch = None if args.dir else tempfile.TemporaryDirectory(prefix="pipeline-benchmark-")
    directory = make_offline_copy((args.dir or Path(scratch.name) / "repo").resolve())

    shutil.copy(REPO_ROOT / PARAMS_FILE, directory / PARAMS_FILE)  # as committed, not the offline run's
    model_dir = TINY_MODEL_DIR
    if args.model == "flan-t5-base":
        model_dir = FLAN_T5_BASE_DIR
        write_flan_t5_base(directory / model_dir, directory / TINY_MODEL_DIR)
    if args.no_dropout:
        drop_out_nothing(directory / model_dir)
        args.overrides = {"lora.dropout": 0.0, **args.overrides}
    set_params(directory / "params.yaml", {"data.source": DATA_DIR, "model.name": model_dir, **args.overrides})
    params = load_params(Reads, directory / "params.yaml")
    full_steps = math.ceil(params.train.num_train_epochs * math.ceil(args.train_dialogues / params.train.batch_size))
    # The steps after --train-steps that --profile profiles are outside the steady speed's whole blocks.
    steps_run = args.train_steps + (args.profile or 0)
    if steps_run < full_steps and not args.whole:  # else the whole run trains, and nothing is projected
        set_params(directory / "params.yaml", {"train.max_steps": steps_run})
    commands = {}
    if args.profile:
        profile_file = directory / "benchmark-profile.json"
        commands["finetune"] = (
            f"python -m benchmarks.profile_stage --json {profile_file} --start {args.train_steps} "
            f"--steps {args.profile}"
        )
    tokenizer = load_tokenizer(directory / model_dir)
    sizes = {"train": args.train_dialogues, "validation": args.validation_dialogues, "test": args.test_dialogues}
    write_splits(synthetic_splits(tokenizer, params.prompt.template, sizes, params.seed), directory / DATA_DIR)

    walls = run_stages(directory, args.stages, commands)
    if args.profile and not profile_file.exists():
        raise UserError(
            f"finetune ended before its profiled steps {args.train_steps + 1}-{steps_run}: lower --train-steps"
        )
    timing = {file.stem: read_json(file) for file in sorted((directory / TIMING_DIR).glob("*.json"))}
    projected = (
        project(walls, timing["finetune"], full_steps, params.train.batch_size) if "finetune" in timing else walls
    )

    print(
        f"\n{'stage':<10} {'measured s':>11} {'projected s':>12}   (projected: training for {full_steps} steps, "
        f"{params.train.num_train_epochs:g} epoch(s) of {args.train_dialogues} dialogues)"
    )
    for name in walls:
        print(f"{name:<10} {walls[name]:11.1f} {projected[name]:12.1f}")
    print(
        f"{'total':<10} {sum(walls.values()):11.1f} {sum(projected.values()):12.1f}"
        f"   = {sum(projected.values()) / 60:.1f} min projected"
    )
    if "finetune" in timing:
        finetune = timing["finetune"]
        print(
            f"training: {finetune['steps']} steps, {finetune['samples_per_second']} samples/s overall, "
            f"{finetune['steady_samples_per_second']} samples/s over the {finetune['steady_steps']} steps after "
            "warm-up"
        )
    for name in ("baseline", "evaluate"):
        if name not in timing:
            continue
        print(
            f"{name}: {timing[name]['dialogues_per_second']} dialogues/s, "
            f"{timing[name]['wall_seconds']:.1f} s for {args.test_dialogues} dialogues"
        )

    if args.json:
        write_json(
            args.json,
            {
                "machine": machine(pick_device(), load_before),
                "settings": {
                    "model": args.model,
                    "train_steps": full_steps if args.whole else args.train_steps,
                    "full_steps": full_steps,
                    "dialogues": sizes,
                    "overrides": args.overrides,
                    "train_batch_size": params.train.batch_size,
                    "stages": list(walls),
                    "dropout": not args.no_dropout,
                },
                "measured_seconds": walls,
                "projected_seconds": projected,
                "measured_total_seconds": sum(walls.values()),
                "projected_total_seconds": sum(projected.values()),
                "timing": timing,
                "train_losses": train_losses(directory),
                **({"profile": read_json(profile_file)} if args.profile and profile_file.exists() else {}),
            },
        )
        print(f"wrote {args.json}")
    if scratch:
        scratch.cleanup()


if __name__ == "__main__":
    run_main(main)
