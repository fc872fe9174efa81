"""Run the real pipeline offline: a tiny random T5 on the bundled sample data.

    python -m stages.offline [DIR]      # default: demo/

Copies the repository (its tracked and untracked-but-not-ignored files) to DIR
as a fresh git repository, with a link to this checkout's .venv, writes the
tiny model into it, sets the params below in the copy's params.yaml and runs
`dvc repro` there, so this checkout's files stay as they are. `make demo` calls this; the end-to-end tests build
their copies with `make_offline_copy`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from stages.errors import UserError, run_main
from stages.tiny_model import write_tiny_model

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY_MODEL_DIR = "models/tiny-t5"
# The only differences from the real experiment: model, data and sizes.
OFFLINE_PARAMS = {
    "data.source": "data/sample",
    "model.name": TINY_MODEL_DIR,
    # A random base learns little through q and v alone: adapt every linear layer.
    "lora.r": 16,
    "lora.target_modules": ["q", "k", "v", "o", "wi_0", "wi_1", "wo"],
    "train.learning_rate": 0.01,
    "train.epochs": 15,
    "train.logging_steps": 4,
    "train.checkpoint_steps": 20,
    "generate.max_new_tokens": 48,
    "generate.batch_size": 8,
}
GIT_IDENTITY = ["-c", "user.name=offline run", "-c", "user.email=offline@localhost", "-c", "commit.gpgsign=false"]


def git(directory: Path, *args: str) -> str:
    """Run git in `directory` and return its output."""
    return subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=directory, check=True, capture_output=True, text=True
    ).stdout


def set_params(params_file: Path, overrides: dict) -> None:
    """Set dotted keys (e.g. "lora.r") in a params.yaml."""
    params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    for dotted, value in overrides.items():
        *sections, key = dotted.split(".")
        target = params
        for section in sections:
            target = target[section]
        if key not in target:
            raise KeyError(f"{dotted} is not in {params_file}")
        target[key] = value
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def offline_environment() -> dict[str, str]:
    """The environment for `dvc repro` offline: hub calls fail at once, and the stages'
    `python` is this interpreter."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def copy_checkout(destination: Path, source: Path = REPO_ROOT) -> Path:
    """Copy a checkout's tracked and untracked-but-not-ignored files (with their times) to
    `destination`, replaced, with a link to its .venv; the copy is not yet a git repository."""
    if destination.exists():
        shutil.rmtree(destination)
    files = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, files):
        if (source / name).is_file():  # skips files deleted but not yet committed
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, destination / name)
    if (source / ".venv").is_dir():  # the copy's `.venv/bin/dvc` is this checkout's
        (destination / ".venv").symlink_to((source / ".venv").resolve(), target_is_directory=True)
    return destination


def commit_all(directory: Path, message: str) -> None:
    """Make `directory` a git repository on branch main (if it is not one) and commit everything."""
    if not (directory / ".git").exists():
        git(directory, "init", "-q", "-b", "main")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", message)


def make_offline_copy(destination: Path) -> Path:
    """Copy the repository to `destination`, add the tiny model and offline params, commit."""
    copy_checkout(destination)
    write_tiny_model(destination / TINY_MODEL_DIR)
    set_params(destination / "params.yaml", OFFLINE_PARAMS)
    commit_all(destination, "offline run: tiny model and sample data")
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=REPO_ROOT / "demo", help="where to run (replaced)")
    directory = parser.parse_args().directory.resolve()
    if directory == REPO_ROOT:
        raise UserError("the offline run needs a directory other than the repository itself")
    make_offline_copy(directory)
    if subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=directory, env=offline_environment()).returncode:
        raise UserError(f"`dvc repro` failed in {directory}: see the output above")
    for name in ("baseline", "finetuned"):
        metrics = json.loads((directory / f"reports/{name}/metrics.json").read_text())
        print(f"{name:>9}: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")))
    print(f"plots: {directory / 'reports/plots'}  report: {directory / 'reports/report.md'}")


if __name__ == "__main__":
    sys.exit(run_main(main))
