"""Run the real pipeline offline: a tiny random T5 on the bundled sample data.

Copies this checkout (tracked and untracked-but-not-ignored files) to DIR, a new or empty directory, as a fresh
git repository linking its .venv, writes the tiny models (the T5 it runs, and a decoder-only Llama for experiments),
sets OFFLINE_PARAMS in the copy's params.yaml (comments kept) and runs `dvc repro` there. An earlier demo in DIR
(maybe a user's work by now) is left as it is.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files import check_new_directory
from dialogsum_lora.modeling.tiny import write_tiny_model
from dialogsum_lora.params import set_params
from dialogsum_lora.paths import REPO_ROOT, REPORT_FILE
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

TINY_MODEL_DIR = "models/tiny-t5"
TINY_DECODER_DIR = "models/tiny-llama"  # a decoder-only base for experiments: docs/experiments.md, the published rows
# The only differences from the real experiment: model, data and sizes.
OFFLINE_PARAMS = {
    "data.source": "data/sample",
    "model.name": TINY_MODEL_DIR,
    # A random base learns little through q and v alone: adapt every linear layer.
    "lora.r": 16,
    "lora.target_modules": ["q", "k", "v", "o", "wi_0", "wi_1", "wo"],
    "train.learning_rate": 0.01,
    "train.num_train_epochs": 15,
    "train.logging_steps": 4,
    "train.save_steps": 20,
    "train.validation_steps": 6,
    "train.keep": "best_rouge1",  # a random base overfits 32 dialogues: the validation keeps the best
    "generate.max_new_tokens": 48,
    "generate.batch_size": 8,
    "analysis.min_topic_dialogues": 1,  # data/sample: a handful of test dialogues, each on its own topics
}
GIT_IDENTITY = ["-c", "user.name=offline run", "-c", "user.email=offline@localhost", "-c", "commit.gpgsign=false"]
DEMO_MARK = "dialogsum-demo"  # in the copy's .git: an earlier demo, left as it is


def git(directory: Path, *args: str) -> str:
    return subprocess.check_output(["git", *GIT_IDENTITY, *args], cwd=directory, text=True, stderr=subprocess.PIPE)


def offline_environment() -> dict[str, str]:
    """The environment of an offline `dvc repro`: hub calls fail at once (.venv/bin is first on PATH already)."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def copy_checkout(destination: Path) -> None:
    """Copy this checkout's tracked and not-ignored files (with their times) and a .venv link to a new `destination`."""
    check_new_directory(destination)
    files = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, files):
        if (REPO_ROOT / name).is_file():  # skips files deleted but not yet committed
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, destination / name)
    if (REPO_ROOT / ".venv").is_dir():  # the copy's `.venv/bin/dvc` is this checkout's
        (destination / ".venv").symlink_to((REPO_ROOT / ".venv").resolve(), target_is_directory=True)


def commit_all(directory: Path, message: str) -> None:
    """Commit everything in `directory`, made a git repository on branch main if it is not one."""
    if not (directory / ".git").exists():
        git(directory, "init", "-q", "-b", "main")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", message)


def make_offline_copy(destination: Path) -> Path:
    """Copy the repository to `destination`, add the tiny model and offline params, commit."""
    copy_checkout(destination)
    write_tiny_model(destination / TINY_MODEL_DIR)
    write_tiny_model(destination / TINY_DECODER_DIR, decoder_only=True)
    set_params(destination / "params.yaml", OFFLINE_PARAMS)
    commit_all(destination, "offline run: tiny model and sample data")
    (destination / ".git" / DEMO_MARK).touch()
    return destination


def demo(arguments: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="dialogsum-demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=REPO_ROOT / "demo",
        help="where to run: a new or empty directory (an earlier demo is left as it is)",
    )
    directory = parser.parse_args(arguments).directory.resolve()
    if (directory / ".git" / DEMO_MARK).exists():
        # Its results, experiments, remotes and files are the user's now: never replaced.
        print(
            f"{directory} holds an earlier demo, left as it is (its report: {directory / REPORT_FILE}).\n"
            f"To rerun its pipeline: cd {directory} && .venv/bin/dvc repro\n"
            f"To start afresh, remove it yourself (rm -rf {directory}) and run `make demo` again, or give "
            "dialogsum-demo another directory."
        )
        return
    make_offline_copy(directory)
    if subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=directory, env=offline_environment()).returncode:
        raise UserError(f"`dvc repro` failed in {directory}: see the output above")
    # The first results committed (metrics, plots and curves in git, the rest's hashes in dvc.lock): what
    # `dvc metrics diff`, `dvc params diff` and `dvc plots diff` compare a change with.
    commit_all(directory, "the demo's first results")
    from dialogsum_lora.evaluation import Metrics
    from dialogsum_lora.paths import BASELINE, BASELINE_DIR, FINETUNED, FINETUNED_DIR, PLOTS_DIR, scores_file
    from dialogsum_lora.schema import read_checked

    for name, results in ((BASELINE, BASELINE_DIR), (FINETUNED, FINETUNED_DIR)):
        metrics = read_checked(Metrics, directory / scores_file(results))
        print(f"{name:>9}: " + ", ".join(f"{rouge} {getattr(metrics, rouge):.4f}" for rouge in ROUGE_TYPES))
    print(f"plots: {directory / PLOTS_DIR}  report: {directory / REPORT_FILE}")


def main() -> None:
    run_main(demo)


if __name__ == "__main__":
    main()
