"""Every shell block of README.md and of the docs/ pages runs as written, on the tiny model and the
sample data.

The only changes to a block's text: the S3 remote URL becomes a local
directory (the remote that `dvc push` fills), `<repository URL>` becomes
the repository the recipes `git push` to, and the hub ids of the published
rows' bases become tiny models of the demo (TINY_BASES). Each block runs in `bash -eo
pipefail`, in the environment of a reader's plain shell (no HF offline
switches, .venv not on PATH), from the directory the reader would be in: the
demo checkout, moved elsewhere; the recipes after the README's `source
.venv/bin/activate` run with it, as in one terminal (the docs pages' recipes
too, as the pages say). Between blocks the test checks what the pages say the
blocks do, and what their prose promises of them (byte-identical reruns,
restores from the run cache, comparisons that need no `dvc pull`).

Two commands are not run here. `make test` is this test suite: CI runs it, from
a fresh clone, through `.ci/run`. `make install` in a fresh clone would install
every package again (minutes): there the clone's `.venv` is a link to this
run's environment, made by a git post-checkout hook, and `make install` checks
it and has nothing to install. `make install` from scratch is what CI does.
"""

import json
import re
import shutil
import subprocess

import pytest
from conftest import REPO_ROOT, dvc, stages_run

from dialogsum_lora.commands.demo import git
from dialogsum_lora.commands.experiments import experiment_rows
from dialogsum_lora.params import set_params
from dialogsum_lora.scoring.rouge import PROTOCOL, ROUGE_TYPES

pytestmark = pytest.mark.slow

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
S3_REMOTE = "s3://my-bucket/dialogsum-lora"
REPOSITORY_URL = "<repository URL>"
# The published rows' bases, offline: make demo's decoder-only Llama, and for flan-t5-large a copy of its T5.
TINY_BASES = {"Qwen/Qwen2.5-1.5B": "models/tiny-llama", "google/flan-t5-large": "models/tiny-t5-large"}


def pages() -> list:
    """The README and every docs/ page: the markdown whose commands are run here."""
    return [README, *sorted(DOCS.glob("*.md"))]


def shell_blocks(markdown: str) -> list[str]:
    """A page's ```bash blocks, in order."""
    return re.findall(r"^```bash\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def all_blocks() -> list[str]:
    """The ```bash blocks of the README and of every docs/ page."""
    return [block for page in pages() for block in shell_blocks(page.read_text())]


def block_starting(blocks: list[str], first_line: str) -> str:
    """The one block that starts with `first_line` (a page may repeat another's block word for word)."""
    (block,) = {block for block in blocks if block.splitlines()[0].startswith(first_line)}
    return block


# The first command of each block, page by page, the way the test runs it. A block a page
# gains must be added here, so that the pages and the test cannot drift apart.
BLOCKS = {
    "README.md": [
        "make demo",  # set-up: the `reproduced` fixture runs it
        "make install",  # the real experiment
        "source .venv/bin/activate",  # the recipes' environment
        "dvc repro",  # rerun
        "dvc exp run -S lora.r=8",  # compare
        f"dvc remote add -d storage {S3_REMOTE}",  # share
        'dialogsum-summarise "#Person1#',  # use the adapter
    ],
    "docs/experiments.md": [
        "dvc get . reports/finetuned/predictions.jsonl --rev main",  # a paired comparison with main
        "dvc exp run --queue -S seed=42,43",  # seeds
        "dvc exp run -S baseline.shots=2",  # a few-shot baseline
        "dvc exp run --queue -S method=full",  # the published rows
    ],
    "docs/sharing.md": [
        "dvc remote modify --local storage access_key_id",  # S3 credentials
        f"git clone {REPOSITORY_URL}",  # a colleague
        "git tag -a dialogsum-lora@v1.0.0",  # artifacts
    ],
}


def test_the_test_knows_every_block_of_the_readme():
    for page in pages():
        blocks, expected = shell_blocks(page.read_text()), BLOCKS.get(str(page.relative_to(REPO_ROOT)), [])
        assert len(blocks) == len(expected), (page, blocks)
        for block, first in zip(blocks, expected):
            assert block.startswith(first), (page, first, block)
    assert all((REPO_ROOT / page).is_file() for page in BLOCKS)
    blocks = all_blocks()
    for first in (first for firsts in BLOCKS.values() for first in firsts):
        block_starting(blocks, first)  # one block each, wherever it is
    placeholders = set(re.findall(r"<[^>\n]+>", "".join(blocks)))
    assert placeholders == {REPOSITORY_URL}, placeholders
    assert "make test" in block_starting(blocks, "make demo") and "make check" in block_starting(blocks, "make demo")
    # CI runs the README's test command (beside other targets: `make lint test`).
    assert re.search(r"^make( \w+)* test\b", (REPO_ROOT / ".ci/run").read_text(), re.MULTILINE)


@pytest.fixture
def plain_shell(tmp_path) -> dict[str, str]:
    """The environment of a reader's shell: none of this test run's variables (no HF offline
    switches, no .venv on PATH), a home of its own with a git identity, and git hooks that
    give every clone a link to this run's .venv (see the module's docstring). One variable is
    added, OMP_WAIT_POLICY=PASSIVE, as for every test (conftest.py), because another test runs
    beside this one: it changes how idle threads wait, never a result."""
    home = tmp_path / "home"
    hooks = home / "git-template/hooks"
    hooks.mkdir(parents=True)
    (hooks / "post-checkout").write_text(
        f'#!/bin/sh\n[ -e .venv ] || ln -s "{(REPO_ROOT / ".venv").resolve()}" .venv\n'
    )
    (hooks / "post-checkout").chmod(0o755)
    (home / ".gitconfig").write_text(
        f"[user]\n\tname = A Reader\n\temail = reader@localhost\n[init]\n\ttemplateDir = {home / 'git-template'}\n"
    )
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "USER": "reader",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example-secret",
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def run_block(block: str, cwd, environment: dict[str, str], prefix: str = "") -> str:
    """Run a page's block in `bash -eo pipefail` (after `prefix`); its output, or a failure that shows it."""
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", prefix + block],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{block}\n---\n{output[-5000:]}"
    return output


class Reader:
    """A reader's checkout of the demo, somewhere else than where `make demo` ran, and where it came
    from: a repository to push to and clone from, and a directory for the DVC remote. `recipe`
    runs a block of the README or of a docs/ page there as the reader would, in their plain shell."""

    def __init__(self, workspace, tmp_path, plain_shell):
        self.blocks = all_blocks()
        self.activate = block_starting(self.blocks, "source .venv/bin/activate")
        self.shell, self.tmp_path = plain_shell, tmp_path
        self.checkout = tmp_path / "elsewhere" / "dialogsum-lora"
        shutil.move(workspace, self.checkout)
        self.storage, self.origin = tmp_path / "dvc-remote", tmp_path / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        git(self.checkout, "remote", "add", "origin", str(self.origin))
        git(self.checkout, "push", "-q", "-u", "origin", "main")
        self.lock, self.outputs = (self.checkout / "dvc.lock").read_bytes(), _outputs(self.checkout)

    def recipe(self, first_line: str, cwd=None, activated: bool = True) -> str:
        text = (
            block_starting(self.blocks, first_line)
            .replace(S3_REMOTE, str(self.storage))
            .replace(REPOSITORY_URL, str(self.origin))
        )
        for hub_id, tiny in TINY_BASES.items():
            text = text.replace(hub_id, tiny)
        return run_block(text, cwd or self.checkout, self.shell, self.activate if activated else "")


@pytest.fixture
def reader(workspace, tmp_path, plain_shell) -> Reader:
    return Reader(workspace, tmp_path, plain_shell)


def test_a_sweep_over_seeds_is_grouped_with_its_spread_interval_and_comparison(reader):
    from statistics import fmean, stdev

    # Cheaper runs than the demo's (the recipe as written, on four steps of training).
    set_params(reader.checkout / "params.yaml", {"train.max_steps": 4})
    output = reader.recipe("dvc exp run --queue -S seed=42,43")
    assert "baseline" not in stages_run(output)  # one baseline for all four: it has its own seed
    assert output.count("Running stage 'finetune'") == 4  # four-step runs: none of them in the run cache
    runs = experiment_rows(json.loads(dvc(reader.checkout, "exp", "show", "--json", "--all-commits")))
    assert "95% interval over seeds and dialogues (Student's t on both spreads)" in output
    first = output[: output.index("plot: dvc_plots/experiments.png")]  # the first dialogsum-experiments
    # A group's line: its params (lora.r, and train.max_steps, which main's committed results differ in),
    # then its seeds, mean ± spread, ...
    lines = [line.split() for line in first.splitlines() if line.startswith("lora.r=")]
    groups = {tokens[0]: [token for token in tokens if "=" not in token] for tokens in lines}
    assert sorted(groups) == ["lora.r=32", "lora.r=8"]
    for r in ("8", "32"):
        # Each run's ROUGE-1 from `dvc exp show`: the group's mean and spread over its two seeds.
        scores = [
            100 * run["metrics"]["rouge1"]
            for run in runs
            if run["params"].get("lora.r") == r and run["params"]["seed"] in ("42", "43")
        ]
        assert len(scores) == 2 and groups[f"lora.r={r}"][0] == "2"
        mean, spread = groups[f"lora.r={r}"][1].split("±")
        assert abs(float(mean) - fmean(scores)) <= 0.051 and abs(float(spread) - stdev(scores)) <= 0.051
    comparisons = [line for line in output.splitlines() if line.startswith("seeds ")]
    assert len(comparisons) == 2  # the block runs dialogsum-experiments twice, alike
    assert comparisons[0].startswith("seeds 42, 43, 8 dialogues: On rouge1, the comparison cannot tell")
    assert comparisons[0] == comparisons[1]
    png = (reader.checkout / "dvc_plots/by-rank.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and "plot: dvc_plots/by-rank.png" in output


def test_a_few_shot_baseline_reruns_the_baseline_and_evaluate_and_the_report_names_its_shots(reader):
    output = reader.recipe("dvc exp run -S baseline.shots=2")
    assert stages_run(output) == {"baseline", "evaluate"}
    shots = json.loads((reader.checkout / "reports/baseline/provenance.json").read_text())["shots"]
    assert len(shots["ids"]) == 2 and shots["seed"] == 42
    baseline_row = next(
        line
        for line in (reader.checkout / "reports/report.md").read_text().splitlines()
        if line.startswith("- **baseline:**")
    )
    assert "2-shot" in baseline_row and all(shot.replace("_", "\\_") in baseline_row for shot in shots["ids"])


def test_the_real_experiment_recipe_installs_nothing_twice_and_reproduces_nothing_done(reader):
    output = reader.recipe("make install", activated=False)
    assert "Data and pipelines are up to date" in output and "Running stage" not in output


def test_rerunning_from_a_plain_shell_elsewhere_is_byte_identical(reader):
    output = reader.recipe("dvc repro")
    assert "Running stage 'finetune'" in output  # `dvc repro -f` reran everything
    assert (reader.checkout / "dvc.lock").read_bytes() == reader.lock and _outputs(reader.checkout) == reader.outputs


def test_comparing_and_a_sweep_at_a_glance(reader):
    checkout = reader.checkout
    output = reader.recipe("dvc exp run -S lora.r=8")
    assert "reports/train/metrics.json" in output and "rouge1" in output and "ci95" not in output
    assert "failed to load" not in output  # main holds the demo's first results
    assert (checkout / "dvc_plots/index.html").exists()
    # DVC's own views show the headline: the experiment's changes against main in at most 12 rows (the
    # scores of both systems and the last losses), and `dvc exp show --only-changed` in 120 columns.
    changed = json.loads(dvc(checkout, "metrics", "diff", "main", "--json"))
    assert "reports/finetuned/metrics.json" in changed and sum(map(len, changed.values())) <= 12, changed
    shown = run_block(
        "dvc exp show --only-changed --drop 'Created|State|Executor|.*/'", checkout, reader.shell, reader.activate
    )
    assert max(map(len, shown.splitlines())) <= 120 and "…" not in shown, shown
    assert shown.splitlines()[1].split() == ["Experiment", "train.loss", "eval.loss", *ROUGE_TYPES, "lora.r"]
    # The paired comparison with main's summaries (docs/experiments.md): this checkout's r=8 minus main's r=16.
    paired = reader.recipe("dvc get . reports/finetuned/predictions.jsonl --rev main")
    scored = json.loads(paired[paired.index("{") : paired.rindex("}") + 1])
    main_rouge1 = json.loads(git(checkout, "show", "main:reports/finetuned/metrics.json"))["rouge1"]
    here_rouge1 = json.loads((checkout / "reports/finetuned/metrics.json").read_text())["rouge1"]
    assert scored["comparison"]["rouge1"]["difference"] == pytest.approx(here_rouge1 - main_rouge1, abs=1e-4)
    # The sweep at a glance: dialogsum-experiments ends the recipe, each run's scores on a line
    # and its intervals on the next, best rouge1 first, in at most 100 columns.
    shown = dvc(checkout, "exp", "show", "--json", "--all-commits")
    assert {int(r) for r in re.findall(r'"r":\s*(\d+)', shown)} == {8, 16, 32}  # workspace, experiment, sweep
    lines = output[output.index("finetuned ROUGE F1 x100 of ") :].splitlines()
    lines = lines[: lines.index("plot: dvc_plots/experiments.png") + 1]  # the output's stderr comes after
    assert max(map(len, lines)) <= 100 and lines[1] == "below each score, its 95% interval"
    assert lines[2].split() == ["experiment", "lora.r", "rouge1", "rouge2", "rougeL", "rougeLsum"]
    table_rows = [line.split() for line in lines[4:-1:2]]
    intervals = [re.findall(r"\[(-?[\d.]+), (-?[\d.]+)\]", line) for line in lines[5:-1:2]]
    runs = experiment_rows(json.loads(shown))
    assert lines[0].startswith(f"finetuned ROUGE F1 x100 of {len(runs)} runs") and len(intervals) == len(runs)
    assert all(len(row) == 4 and all(float(low) <= float(high) for low, high in row) for row in intervals)
    expected = sorted((round(100 * run["metrics"]["rouge1"], 1), run["params"]["lora.r"]) for run in runs)[::-1]
    assert [(float(row[2]), row[1]) for row in table_rows] == expected
    png = (checkout / "dvc_plots/experiments.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in png
    # The sweep's runs are in the run cache: setting lora.r back to one of them restores its
    # finetune and evaluate (and only those) instead of running them (the workspace holds r=8's).
    set_params(checkout / "params.yaml", {"lora.r": 32})
    output = dvc(checkout, "repro")
    assert stages_run(output) == set()
    assert all(f"Stage '{stage}' is cached - skipping run" in output for stage in ("finetune", "evaluate"))
    set_params(checkout / "params.yaml", {"lora.r": 16})
    assert stages_run(dvc(checkout, "repro")) == set() and _outputs(checkout) == reader.outputs

    # A branch with other results compares with main, whose results were never pulled here:
    # metrics, plots and curves come from git alone (the promise of the README's compare recipe).
    git(checkout, "checkout", "-q", "-b", "rank-8")
    set_params(checkout / "params.yaml", {"lora.r": 8})
    assert stages_run(dvc(checkout, "repro")) == set()  # restored from the run cache, as above
    git(checkout, "commit", "-q", "-am", "r=8 results")
    shutil.move(checkout / ".dvc/cache", reader.tmp_path / "cache-aside")
    metrics = json.loads(dvc(checkout, "metrics", "diff", "main", "--json"))
    assert "rouge1" in metrics["reports/finetuned/metrics.json"]
    assert "reports/baseline/metrics.json" not in metrics  # baseline did not change
    assert metrics["reports/train/metrics.json"]["eval.loss"]["old"] is not None
    params = json.loads(dvc(checkout, "params", "diff", "main", "--json"))
    assert (params["params.yaml"]["lora.r"]["old"], params["params.yaml"]["lora.r"]["new"]) == (16, 8)
    plots = json.loads(dvc(checkout, "plots", "diff", "main", "--json"))["data"]
    assert sorted(plots) == [
        *[f"reports/plots/{name}.png" for name in ("lengths", "loss", "rouge", "topics", "validation_rouge")],
        *[
            f"reports/train/plots/metrics/eval/{name}.tsv"
            for name in ("loss", "rouge1", "rouge2", "rougeL", "rougeLsum")
        ],
        "reports/train/plots/metrics/train/loss.tsv",
    ]  # each plot once
    for curve in ("eval", "train"):
        (shown,) = plots[f"reports/train/plots/metrics/{curve}/loss.tsv"]
        assert sorted(shown["revisions"]) == ["main", "workspace"]


def test_the_published_rows_run_as_experiments_under_one_scorer(reader):
    # Each row trains 6 steps here, not the demo's 60: what is tested is that every row runs and is compared.
    checkout = reader.checkout
    shutil.copytree(checkout / "models/tiny-t5", checkout / TINY_BASES["google/flan-t5-large"])
    set_params(checkout / "params.yaml", {"train.max_steps": 6})
    git(checkout, "add", "models", "params.yaml")
    git(checkout, "commit", "-q", "-m", "a stand-in for flan-t5-large")  # queued runs copy what git tracks
    output = reader.recipe("dvc exp run --queue -S method=full")
    runs = experiment_rows(json.loads(dvc(checkout, "exp", "show", "--json", "--all-commits")))
    changed = {
        (run["params"]["method"], run["params"]["model.name"], run["params"]["lora.target_modules"])
        for run in runs
        if run["metrics"]
    }
    t5_layers = "q,k,v,o,wi_0,wi_1,wo"  # the demo's
    assert changed == {
        ("lora", "models/tiny-t5", t5_layers),  # the workspace: zero-shot and LoRA
        ("full", "models/tiny-t5", t5_layers),
        ("lora", "models/tiny-llama", "None"),
        ("lora", "models/tiny-t5-large", t5_layers),
    }, changed
    lines = output[output.index("scored alike: ") :].splitlines()
    assert lines[0] == f"scored alike: {PROTOCOL}" and output.count("scored alike") == 1
    assert lines[1].startswith(f"finetuned ROUGE F1 x100 of {len(runs)} runs")
    shown = "\n".join(lines[2 : lines.index("plot: dvc_plots/experiments.png")])  # the table, its params named
    assert all(key in shown for key in ("method=full", "model.name", "lora.target_modules", "tiny-llama")), shown


def test_the_adapter_summarises_as_evaluate_did_and_its_merged_export_loads_alone(reader):
    checkout = reader.checkout
    output = reader.recipe('dialogsum-summarise "#Person1#')
    summaries = [json.loads(line)["prediction"] for line in (checkout / "summaries.jsonl").read_text().splitlines()]
    evaluated = [
        json.loads(line)["prediction"]
        for line in (checkout / "reports/finetuned/predictions.jsonl").read_text().splitlines()
    ]
    assert summaries == evaluated
    assert f'"rouge1": {json.loads((checkout / "reports/finetuned/metrics.json").read_text())["rouge1"]},' in output
    baseline = [
        json.loads(line)["prediction"]
        for line in (checkout / "reports/baseline/predictions.jsonl").read_text().splitlines()
    ]
    assert [
        json.loads(line)["prediction"] for line in (checkout / "baseline.jsonl").read_text().splitlines()
    ] == baseline
    assert (checkout / "merged-model/model.safetensors").is_file() and (checkout / "merged-model/README.md").is_file()


def share(reader: Reader) -> None:
    reader.recipe(f"dvc remote add -d storage {S3_REMOTE}")


def test_sharing_through_a_dvc_remote(reader):
    share(reader)
    assert git(reader.checkout, "status", "--porcelain", "--", "dvc.lock", "reports", ".dvc") == ""
    assert any((reader.storage / "files").rglob("*"))


def test_s3_credentials_stay_out_of_git(reader, tmp_path):
    # The credentials apply to an S3 remote (configuration only: nothing is sent), in a new checkout.
    s3_checkout = tmp_path / "s3-checkout"
    s3_checkout.mkdir()
    (s3_checkout / ".venv").symlink_to((REPO_ROOT / ".venv").resolve())
    run_block(
        f"git init -q && dvc init -q && dvc remote add -d storage {S3_REMOTE}",
        s3_checkout,
        reader.shell,
        reader.activate,
    )
    reader.recipe("dvc remote modify --local storage access_key_id", s3_checkout)
    assert "access_key_id = AKIAEXAMPLE" in (s3_checkout / ".dvc/config.local").read_text()
    assert "AKIAEXAMPLE" not in (s3_checkout / ".dvc/config").read_text()


def test_a_colleague_gets_the_shared_results_without_retraining(reader, tmp_path):
    share(reader)
    colleague = tmp_path / "colleague"
    colleague.mkdir()
    output = reader.recipe(f"git clone {REPOSITORY_URL}", colleague, activated=False)
    assert "Data and pipelines are up to date" in output and "Running stage" not in output
    assert _outputs(colleague / "dialogsum-lora") == reader.outputs


def test_the_adapter_is_an_artifact_anyone_can_fetch(reader):
    share(reader)
    reader.recipe("git tag -a dialogsum-lora@v1.0.0")
    for fetched in ("adapter-v1.0.0", "adapter-main"):
        assert _files(reader.checkout / fetched) == _files(reader.checkout / "models/adapter"), fetched


OUTPUTS = ("dvc.lock", "data/prepared", "models/adapter", "reports")


def _outputs(checkout) -> dict[str, bytes]:
    """Every pipeline output of a checkout (timings aside: they are not outputs), and dvc.lock."""
    found = {}
    for path in OUTPUTS:
        for name, content in (
            _files(checkout / path) if (checkout / path).is_dir() else {"": (checkout / path).read_bytes()}
        ).items():
            if not name.startswith("timing/"):
                found[f"{path}/{name}"] = content
    return found


def _files(directory) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_every_test_the_readme_names_exists():
    named = set()
    for line in (line for page in pages() for line in page.read_text().splitlines()):
        current = None
        for reference in re.findall(r"`((?:test_\w+\.py)?::\w+)`", line):
            file, _, name = reference.partition("::")
            current = file or current
            named.add((current, name))
    assert len(named) > 30
    for file, name in sorted(named):
        path = REPO_ROOT / "tests" / file
        assert path.is_file() and re.search(rf"^def {name}\(", path.read_text(), re.MULTILINE), f"{file}::{name}"
