"""What benchmarks/gpu.sh measured of the finetune stage's speed, in one table and one results file.

    python -m benchmarks.speed_report OUT_DIR [--commit SHA] [--results-dir DIR]

Reads the benchmarks.pipeline JSON files gpu.sh wrote to OUT_DIR:
  speed-*.json   finetune alone at each setting: steady samples/s (whole length-sorted blocks
                 after the first), the stage's wall time for its steps (compiling included),
                 peak memory and the profile of a few steps after the timed ones;
  losses-*.json  50 steps without dropout, each step's loss: every losses-X is compared with
                 losses-eager step by step (what a faster setting may change is rounding alone);
  repro*.json    the whole pipeline, every step trained (--whole): its wall time and each
                 generation of the 500 test dialogues.
Prints them, and writes DIR/<device>-<date>.json (default DIR: OUT_DIR) with the figures
BENCHMARKS.md quotes: device, train_batch_size, train_samples_per_second (steady, through the
stage, of the whole run), repro_seconds, generate_500_seconds (baseline and evaluate) and the
commit measured, beside every setting's figures.
"""

import argparse
import datetime
import re
from pathlib import Path

from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files.outputs import read_json, write_json

LOSS_STEPS = 50  # the first steps compared
# bf16 keeps 8 bits of mantissa (a relative step of 2^-8 = 0.4%); 50 steps of bf16 rounding in
# every matmul may move a loss by a few times that.
BF16_LOSS_TOLERANCE = 0.02


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--commit", help="the commit measured (default: the one machine.json names)")
    parser.add_argument("--results-dir", type=Path, help="where the results file goes (default: OUT_DIR)")
    return parser.parse_args()


def load_runs(out_dir: Path, prefix: str) -> dict[str, dict]:
    return {path.stem: read_json(path) for path in sorted(out_dir.glob(f"{prefix}*.json"))}


def speed_row(run: dict) -> dict:
    finetune = run["timing"]["finetune"]
    return {
        "overrides": run["settings"]["overrides"],
        "steps": finetune["steps"],
        "steady_samples_per_second": finetune["steady_samples_per_second"],
        "steady_steps": finetune["steady_steps"],
        "finetune_stage_seconds": round(run["measured_seconds"]["finetune"], 1),
        "peak_memory_mib": finetune["peak_memory_mib"],
        **({"profile": run["profile"]} if "profile" in run else {}),
    }


def loss_agreement(reference: list[list[float]], other: list[list[float]]) -> dict:
    """The largest relative difference between two runs' per-step losses over the first LOSS_STEPS steps."""
    first, second = dict(map(tuple, reference)), dict(map(tuple, other))
    steps = [step for step in range(1, LOSS_STEPS + 1) if step in first and step in second]
    if len(steps) < LOSS_STEPS:
        raise UserError(f"the loss runs logged {len(steps)} common steps of the first {LOSS_STEPS}: run them with "
                        "train.logging_steps=1 and at least 50 steps")
    worst = max(steps, key=lambda step: abs(second[step] - first[step]) / abs(first[step]))
    relative = abs(second[worst] - first[worst]) / abs(first[worst])
    return {"steps": len(steps), "max_relative_difference": round(relative, 6), "at_step": worst,
            "within_bf16_tolerance": relative <= BF16_LOSS_TOLERANCE, "tolerance": BF16_LOSS_TOLERANCE}


def repro_row(run: dict) -> dict:
    if run["settings"]["train_steps"] != run["settings"]["full_steps"] or len(run["measured_seconds"]) < 4:
        raise UserError("a repro run must train every step of every stage (benchmarks.pipeline --whole)")
    timing = run["timing"]
    return {
        "overrides": run["settings"]["overrides"],
        "train_batch_size": run["settings"]["train_batch_size"],
        "train_samples_per_second": timing["finetune"]["steady_samples_per_second"],
        "train_samples_per_second_overall": timing["finetune"]["samples_per_second"],
        "repro_seconds": round(run["measured_total_seconds"], 1),
        "stage_seconds": {name: round(seconds, 1) for name, seconds in run["measured_seconds"].items()},
        "generate_500_seconds": {name: timing[name]["wall_seconds"] for name in ("baseline", "evaluate")},
    }


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def main() -> None:
    args = parse_arguments()
    if not args.out_dir.is_dir():
        raise UserError(f"{args.out_dir} is not a folder")
    speed, losses, repro = (load_runs(args.out_dir, prefix) for prefix in ("speed-", "losses-", "repro"))
    if not (speed or losses or repro):
        raise UserError(f"{args.out_dir} holds no speed-*, losses-* or repro* results of benchmarks/gpu.sh")
    some = next(iter({**speed, **losses, **repro}.values()))
    machine = some["machine"]
    machine_file = args.out_dir / "machine.json"  # gpu.sh's: the date and the commit
    commit = args.commit or (read_json(machine_file).get("commit") if machine_file.exists() else None)

    results = {"device": machine["device_name"], "machine": machine, "commit": commit,
               "speed": {name: speed_row(run) for name, run in speed.items()}}
    print(f"{machine['device_name']}, torch {machine['torch']}; commit {commit or 'unknown'}")
    for name, row in results["speed"].items():
        profile = row.get("profile", {})
        print(f"  {name:<16} {row['steady_samples_per_second'] or 0:8.1f} samples/s steady; finetune {row['steps']} "
              f"steps in {row['finetune_stage_seconds']:.0f} s; {row['peak_memory_mib']:,.0f} MiB; "
              f"{profile.get('kernels_per_step', '?')} kernels, {profile.get('wall_ms_per_step', '?')} ms wall and "
              f"{profile.get('gpu_busy_ms_per_step', '?')} ms GPU a step")
    if "losses-eager" in losses:
        reference = losses["losses-eager"]["train_losses"]
        results["losses"] = {name: {"overrides": run["settings"]["overrides"],
                                    **loss_agreement(reference, run["train_losses"])}
                             for name, run in losses.items() if name != "losses-eager"}
        for name, row in results["losses"].items():
            print(f"  {name:<16} losses of steps 1-{LOSS_STEPS} within {row['max_relative_difference']:.2%} of eager's "
                  f"(step {row['at_step']}; bf16 tolerance {BF16_LOSS_TOLERANCE:.0%}: "
                  f"{'yes' if row['within_bf16_tolerance'] else 'NO'})")
    if repro:
        results["repro"] = {name: repro_row(run) for name, run in repro.items()}
        for name, row in results["repro"].items():
            print(f"  {name:<16} whole pipeline {row['repro_seconds']:.0f} s ({row['repro_seconds'] / 60:.1f} min): "
                  f"training {row['train_samples_per_second']} samples/s steady; generating 500: "
                  + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in row["generate_500_seconds"].items()))
        # The headline: the fastest whole run.
        best = min(results["repro"].values(), key=lambda row: row["repro_seconds"])
        results.update({key: best[key] for key in ("train_batch_size", "train_samples_per_second", "repro_seconds",
                                                    "generate_500_seconds")})
        results["settings"] = best["overrides"]
    date = (read_json(machine_file) if machine_file.exists() else {}).get("date") or datetime.date.today().isoformat()
    path = (args.results_dir or args.out_dir) / f"{slug(machine['device_name'])}-{date}.json"
    write_json(path, results)
    print(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
