"""dialogsum-experiments: a sweep's experiments, their changed params beside their ROUGE, best
first, in a table that fits 100 columns and a PNG."""

import json
import re
import subprocess
import sys

import pytest
from conftest import run_command

from dialogsum_lora.commands.experiments import changed_params, experiment_rows, show_experiments, sort_rows, table
from dialogsum_lora.scoring.rouge import PROTOCOL

ROUGE = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def revision(name, params, rouge1=None):
    """One run as `dvc exp show --json` (DVC 3.67) shows it."""
    metrics = {}
    if rouge1 is not None:
        scores = {rouge: rouge1 - 0.1 * number for number, rouge in enumerate(ROUGE)}
        metrics = {"reports/finetuned/metrics.json": {"data": scores}}
    return {
        "rev": f"{name}-sha",
        "name": name,
        "error": None,
        "experiments": None,
        "data": {"rev": f"{name}-sha", "params": {"params.yaml": {"data": params}}, "metrics": metrics},
    }


def shown(experiments, workspace_rouge1=0.40):
    base = {"seed": 42, "lora": {"r": 32, "target_modules": ["q", "v"]}, "train": {"learning_rate": 0.001}}
    commit = revision("main", base, workspace_rouge1)
    commit["experiments"] = [
        {"name": name, "executor": {"state": state}, "revs": [revision(name, params, rouge1)]}
        for name, state, params, rouge1 in [
            (name, state, {**base, **change}, rouge1) for name, state, change, rouge1 in experiments
        ]
    ]
    return [{**revision("workspace", base, workspace_rouge1), "rev": "workspace", "name": None}, commit]


def test_rows_are_sorted_by_rouge1_and_show_only_the_params_that_changed():
    rows = sort_rows(
        experiment_rows(
            shown(
                [
                    ("rank-8", "success", {"lora": {"r": 8, "target_modules": ["q", "v"]}}, 0.38),
                    ("rank-64", "success", {"lora": {"r": 64, "target_modules": ["q", "v"]}}, 0.42),
                    ("rank-128", "queued", {"lora": {"r": 128, "target_modules": ["q", "v"]}}, None),
                ]
            )
        )
    )
    # The commit's results are the workspace's: shown once, by the commit's name.
    assert [row["name"] for row in rows] == ["rank-64", "main", "rank-8", "rank-128"]
    assert changed_params(rows) == ["lora.r"]
    text = table(rows, changed_params(rows), [{} for _ in rows])
    lines = text.splitlines()
    assert lines[0].split() == ["experiment", "lora.r", *ROUGE]
    assert lines[2].split() == ["rank-64", "64", "42.0", "32.0", "22.0", "12.0"]
    assert lines[-1].split() == ["rank-128", "(queued)", "128", "-", "-", "-", "-"]


def test_the_table_fits_100_columns_with_intervals_and_many_changed_params():
    rows = sort_rows(
        experiment_rows(
            shown(
                [
                    (
                        "a-rather-long-experiment-name",
                        "success",
                        {
                            "lora": {"r": 8, "target_modules": ["q", "k", "v", "o", "wi_0", "wi_1", "wo"]},
                            "train": {"learning_rate": 0.0003},
                            "seed": 7,
                        },
                        0.385,
                    ),
                    ("short", "failed", {"train": {"learning_rate": 0.01}}, None),
                ]
            )
        )
    )
    keys = changed_params(rows)
    assert keys == ["lora.r", "lora.target_modules", "seed", "train.learning_rate"]
    # The intervals are each run's scores.json's, as run_intervals reads them.
    intervals = [
        {rouge: {"low": row["metrics"][rouge] - 0.012, "high": row["metrics"][rouge] + 0.011} for rouge in ROUGE}
        if row["metrics"]
        else {}
        for row in rows
    ]
    lines = table(rows, keys, intervals).splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[0].split()[:3] == ["experiment", "changed", "params"]  # the params joined, to fit
    first = next(i for i, line in enumerate(lines) if line.startswith("a-rather-long-exper~"))
    assert "38.5" in lines[first] and re.findall(r"\[[\d.]+, [\d.]+\]", lines[first + 1]) == [
        "[37.3, 39.6]",
        "[27.3, 29.6]",
        "[17.3, 19.6]",
        "[7.3, 9.6]",
    ]  # intervals below
    # Every changed param whole, on as many lines as it takes, broken after a `=` or `,` where one is too long.
    failed = next(i for i, line in enumerate(lines) if "(failed)" in line)
    params = "".join(line[22:46].strip() + " " for line in lines[first:failed]).replace("= ", "=").replace(", ", ",")
    assert params.split() == [
        "lora.r=8",
        "lora.target_modules=q,k,v,o,wi_0,wi_1,wo",
        "seed=7",
        "train.learning_rate=0.0003",
    ]


@pytest.mark.slow
def test_the_reproduced_run_at_a_glance_and_its_plot_where_asked(workspace, monkeypatch, capsys):
    # The README's sweep recipe runs the real thing, queue and all (test_readme.py); here the
    # reproduced workspace alone, read through `dvc exp show`, and --plot.
    result = subprocess.run(
        [sys.executable, "-m", "dialogsum_lora.commands.experiments", "--plot", "sweep.png"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    protocol, *lines = result.stdout.splitlines()
    assert protocol == f"scored alike: {PROTOCOL}"  # once, above every run's scores
    assert lines[0].startswith("finetuned ROUGE F1 x100 of 1 run") and lines[1] == "below each score, its 95% interval"
    assert lines[2].split() == ["experiment", *ROUGE]  # one run: no param changed
    metrics = json.loads((workspace / "reports/finetuned/metrics.json").read_text())
    # The workspace's results are those make demo committed: one run, shown once, by the commit's name.
    assert lines[4].split() == ["main(+1)", *(f"{100 * metrics[name]:.1f}" for name in ROUGE)]
    intervals = json.loads((workspace / "reports/finetuned/scores.json").read_text())["ci95"]  # not a DVC metric
    assert lines[5].split() == [
        bound
        for name in ROUGE
        for bound in (f"[{100 * intervals[name]['low']:.1f},", f"{100 * intervals[name]['high']:.1f}]")
    ]
    png = (workspace / "sweep.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in png
    assert lines[-1] == "plot: sweep.png" and not (workspace / "dvc_plots").exists()
    # A plot of one's own is never replaced, and a plot is a PNG whatever the name says.
    monkeypatch.chdir(workspace)
    for plot, fact in (("sweep.png", "already exists"), ("sweep.svg", ".png")):
        code, _, stderr = run_command(show_experiments, ["--plot", plot], capsys)
        assert code == 2 and stderr.count("\n") == 1 and fact in stderr
    assert (workspace / "sweep.png").read_bytes() == png


@pytest.mark.slow
def test_outside_a_dvc_repository_it_says_so_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dialogsum_lora.commands.experiments"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        result.returncode == 2
        and result.stderr.startswith("error: `dvc exp show` failed")
        and result.stderr.count("\n") == 1
    )
    assert not (tmp_path / "dvc_plots").exists()


def test_a_hand_edited_metrics_file_in_an_experiment_is_one_line_naming_it_and_the_key():
    from dialogsum_lora.errors import UserError

    shown_runs = shown([("rank-8", "success", {"lora": {"r": 8, "target_modules": ["q", "v"]}}, 0.38)])
    scores = shown_runs[1]["experiments"][0]["revs"][0]["data"]["metrics"]["reports/finetuned/metrics.json"]["data"]
    # A score, or an older run's intervals (no longer shown, still checked).
    for key, value in (("rouge2", "low"), ("ci95", {"rouge1": {"low": "low", "high": 0.4}})):
        edited = {**scores, key: value}
        shown_runs[1]["experiments"][0]["revs"][0]["data"]["metrics"]["reports/finetuned/metrics.json"]["data"] = edited
        with pytest.raises(UserError) as error:
            experiment_rows(shown_runs)
        assert "rank-8" in str(error.value) and "reports/finetuned/metrics.json" in str(error.value)
        assert key in str(error.value) and "'low'" in str(error.value)


def test_identical_runs_are_one_row_and_every_commit_is_asked_about(monkeypatch):
    import subprocess as subprocess_module

    from dialogsum_lora.commands.experiments import dvc_experiments

    rows = experiment_rows(
        shown(
            [
                ("rank-8", "success", {"lora": {"r": 8, "target_modules": ["q", "v"]}}, 0.38),
                (
                    "rank-8-again",
                    "success",
                    {"lora": {"r": 8, "target_modules": ["q", "v"]}},
                    0.38,
                ),  # the same run twice
                ("rank-8-other-seed", "success", {"lora": {"r": 8, "target_modules": ["q", "v"]}, "seed": 7}, 0.36),
            ]
        )
    )
    by_name = {row["name"]: row for row in rows}
    assert by_name["rank-8"]["same"] == ["rank-8-again"] and "rank-8-again" not in by_name
    assert by_name["main"]["same"] == ["workspace"] and "rank-8-other-seed" in by_name  # the commit = the workspace
    assert "rank-8(+1)" in table(rows, changed_params(rows), [{} for _ in rows])
    asked = []
    monkeypatch.setattr(
        subprocess_module,
        "run",
        lambda command, **kwargs: asked.append(command) or subprocess_module.CompletedProcess(command, 0, "[]", ""),
    )
    dvc_experiments()
    dvc_experiments(["main", "v1"])
    assert asked[0][-1] == "--all-commits" and asked[1][-4:] == ["--rev", "main", "--rev", "v1"]


def test_runs_that_differ_only_in_seed_are_a_group_with_its_spread_interval_and_comparison(monkeypatch, capsys):
    import random
    from statistics import fmean, stdev

    from dialogsum_lora.commands import experiments

    r8, r32 = ({"lora": {"r": r, "target_modules": ["q", "v"]}} for r in (8, 32))
    runs = [
        (f"r{r}-seed{seed}", "success", {**change, "seed": seed}, 0.30 + 0.01 * seed + (0.05 if r == 32 else 0))
        for r, change in ((8, r8), (32, r32))
        for seed in (1, 2, 3)
    ]
    revisions = shown(runs)
    revisions[1]["data"]["metrics"] = None  # the commit holds no results
    rows = sort_rows(experiment_rows(revisions))
    sets, left_out = experiments.seed_sets(rows)
    groups = [runs for runs in sets if len(runs) > 1]
    # The workspace is r=32 with seed 42, but of other code (the workspace's): it joins no group of
    # the commit's experiments.
    assert (
        sorted(sorted(row["name"] for row in group) for group in groups)
        == [["r32-seed1", "r32-seed2", "r32-seed3"], ["r8-seed1", "r8-seed2", "r8-seed3"]]
        and left_out == []
    )

    # Each run's dialogues (as its predictions file would score them): r=32 better by 0.05-0.06 on each.
    draw = random.Random(0)
    noise = {seed: [draw.random() * 0.1 for _ in range(25)] for seed in (1, 2, 3, 42)}
    per_dialogue = {
        f"r{r}-seed{seed}": [
            0.25 + 0.02 * seed + (0.05 + draw.random() * 0.01 if r == 32 else 0) + n for n in noise[seed]
        ]
        for r in (8, 32)
        for seed in (1, 2, 3)
    }
    monkeypatch.setattr(
        experiments,
        "dialogue_scores",
        lambda row: {f"d{i}": {name: value for name in ROUGE} for i, value in enumerate(per_dialogue[row["name"]])},
    )
    experiments.show_seed_groups(rows, changed_params(rows))
    output = capsys.readouterr().out
    assert "95% interval over seeds and dialogues (Student's t on both spreads)" in output
    lines = {line.split()[0]: line.split() for line in output.splitlines() if line.startswith("lora.r=")}
    for r, names in ((8, ["r8-seed1", "r8-seed2", "r8-seed3"]), (32, ["r32-seed1", "r32-seed2", "r32-seed3"])):
        seed_means = [fmean(per_dialogue[name]) for name in names]
        assert lines[f"lora.r={r}"][1] == str(len(names))
        assert lines[f"lora.r={r}"][2] == f"{100 * fmean(seed_means):.1f}±{100 * stdev(seed_means):.1f}"
    (comparison,) = [line for line in output.splitlines() if line.startswith("seeds ")]
    assert comparison.startswith("seeds 1, 2, 3, 25 dialogues: On rouge1, lora.r=32 is better than lora.r=8")
    differences = [
        a - b for seed in (1, 2, 3) for a, b in zip(per_dialogue[f"r32-seed{seed}"], per_dialogue[f"r8-seed{seed}"])
    ]
    assert f"{fmean(differences):+.4f} [" in comparison and "over 3 seeds and 25 dialogues (Student's t)" in comparison


def test_an_experiment_the_workspace_repeats_stays_in_its_seed_group():
    from dialogsum_lora.commands import experiments

    # `dvc exp run -S lora.r=8` left r=8's results in the workspace; the seeds recipe then runs seed 42
    # of r=8 again (restored from the run cache): that experiment is the commit's code, the workspace not.
    # The commit's own results (r=32, seed 42) are a run of its code too, beside its seed 43.
    r8 = {"lora": {"r": 8, "target_modules": ["q", "v"]}}
    revisions = shown(
        [
            ("r8-seed42", "success", {**r8, "seed": 42}, 0.38),
            ("r8-seed43", "success", {**r8, "seed": 43}, 0.36),
            ("r32-seed43", "success", {"seed": 43}, 0.41),
        ]
    )
    revisions[0]["data"] = revisions[1]["experiments"][0]["revs"][0]["data"]
    rows = sort_rows(experiment_rows(revisions))
    assert {row["name"]: row["same"] for row in rows}["r8-seed42"] == ["workspace"]
    sets, _ = experiments.seed_sets(rows)
    groups = sorted(sorted(row["name"] for row in runs) for runs in sets if len(runs) > 1)
    assert groups == [["main", "r32-seed43"], ["r8-seed42", "r8-seed43"]]


def test_a_seed_run_twice_with_other_results_leaves_its_group_out_and_says_so(capsys):
    from dialogsum_lora.commands import experiments

    r8 = {"lora": {"r": 8, "target_modules": ["q", "v"]}}
    rows = sort_rows(
        experiment_rows(
            shown(
                [
                    ("a", "success", {**r8, "seed": 1}, 0.38),
                    ("b", "success", {**r8, "seed": 2}, 0.36),
                    ("c", "success", {**r8, "seed": 2}, 0.41),  # seed 2 again, another result (another machine, say)
                ]
            )
        )
    )
    sets, left_out = experiments.seed_sets(rows)
    assert all(len(runs) == 1 for runs in sets) and left_out == ["seed 2 ran twice with other results (c, b)"]
    experiments.show_seed_groups(rows, changed_params(rows))
    assert "warning: a seed group is left out: seed 2 ran twice" in capsys.readouterr().err


def test_seed_groups_on_too_few_dialogues_cannot_tell(monkeypatch, capsys):
    from dialogsum_lora.commands import experiments

    runs = [
        (f"r{r}-seed{seed}", "success", {"lora": {"r": r, "target_modules": ["q", "v"]}, "seed": seed}, 0.3 + r / 100)
        for r in (8, 32)
        for seed in (1, 2)
    ]
    rows = sort_rows(experiment_rows(shown(runs)))
    monkeypatch.setattr(
        experiments,
        "dialogue_scores",
        lambda row: {
            f"d{i}": {name: 0.1 * i + float(row["params"]["lora.r"]) / 100 for name in ROUGE} for i in range(8)
        },
    )
    experiments.show_seed_groups(rows, changed_params(rows))
    output = capsys.readouterr().out
    assert "the comparison cannot tell lora.r=32 from lora.r=8: only 8 test dialogues" in output


def record_of(dialogues_by_run: dict[str, int]):
    """A stand-in for experiments.run_output: each run's adapter record, saying how many dialogues
    it trained on (a run not named has no record in reach, as if not in the DVC cache; nor has any
    run its scores.json)."""
    from dialogsum_lora.errors import UserError

    def read(row, path):
        assert str(path) in ("models/adapter/provenance.json", "reports/finetuned/scores.json"), path
        if row["name"] not in dialogues_by_run or path.name == "scores.json":
            raise UserError(f"cannot read {path} of {row['name']}")
        return json.dumps({"training": {"dialogues": dialogues_by_run[row["name"]], "steps": 10}, "seed": 1})

    return read


def learning_curve_runs(size, seed, r=32, rouge1=None):
    change = {
        "train": {"learning_rate": 0.001, "dialogues": size},
        "seed": seed,
        "lora": {"r": r, "target_modules": ["q", "v"]},
    }
    return (
        f"n{size}-s{seed}-r{r}",
        "success",
        change,
        rouge1 if rouge1 is not None else 0.35 + (size or 0) / 10_000 + seed / 1000,
    )


def fake_dialogue_scores(monkeypatch, runs):
    """Each run's 12 dialogues scored around its rouge1, as its predictions file would be."""
    from dialogsum_lora.commands import experiments

    per_dialogue = {name: [rouge1 + 0.01 * (i % 3) for i in range(12)] for name, _, _, rouge1 in runs}
    monkeypatch.setattr(
        experiments,
        "dialogue_scores",
        lambda row: {f"d{i}": {name: value for name in ROUGE} for i, value in enumerate(per_dialogue[row["name"]])},
    )
    return per_dialogue


def test_rouge1_against_a_numeric_param_a_point_per_value_with_its_seeds(monkeypatch, tmp_path, capsys):
    from statistics import fmean

    from dialogsum_lora.commands import experiments
    from dialogsum_lora.errors import UserError

    run = learning_curve_runs
    runs = [run(size, seed) for size in (100, 1000) for seed in (1, 2)] + [
        run(1000, 1, r=8),
        run(None, 1),
        run(None, 2, rouge1=run(1000, 2)[3]),
    ]
    shown_runs = shown(runs)
    monkeypatch.setattr(experiments, "dvc_experiments", lambda revisions: shown_runs)
    per_dialogue = fake_dialogue_scores(monkeypatch, runs)
    # The runs with null trained on all the training dialogues: their records say how many. One
    # of them, seed 2's, is the same run as seed 2's with 1000 (all of them): the same results.
    monkeypatch.setattr(experiments, "run_output", record_of({"nNone-s1-r32": 5000, "nNone-s2-r32": 1000}))
    rows = sort_rows(experiment_rows(shown_runs))
    points, left_out = experiments.curve_points(rows, "train.dialogues", changed_params(rows))
    # The workspace and its commit (no train.dialogues at all, one row) have no number.
    assert left_out == ["1 run(s) with results but no number for train.dialogues"]
    assert sorted(points) == ["lora.r=32", "lora.r=8"]
    (single,) = points["lora.r=8"]
    assert single[:2] == (1000.0, runs[4][3]) and single[4] == 1  # one run: its score and its own interval
    assert [(x, seeds) for x, _, _, _, seeds in points["lora.r=32"]] == [(100.0, 2), (1000.0, 2), (5000.0, 1)]
    for x, mean, low, high, _ in points["lora.r=32"][:2]:  # two seeds: their mean, and an interval around it
        assert mean == pytest.approx(fmean(fmean(per_dialogue[f"n{int(x)}-s{seed}-r32"]) for seed in (1, 2)), abs=1e-6)
        assert low < mean < high
    assert points["lora.r=32"][2][1] == runs[5][3]

    experiments.show_experiments(["--against", "train.dialogues", "--plot", str(tmp_path / "curve.png")])
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    warning = capsys.readouterr().err
    assert "left out of the plot: 1 run(s)" in warning and "no number for train.dialogues" in warning
    with pytest.raises(UserError) as error:
        experiments.show_experiments(["--against", "train.num_train_epochs", "--plot", str(tmp_path / "other.png")])
    assert "--against train.num_train_epochs" in str(error.value) and "train.dialogues" in str(error.value)
    assert not (tmp_path / "other.png").exists()

    # Where a record is out of reach, its run is left out, and the count says so.
    monkeypatch.setattr(experiments, "run_output", record_of({"nNone-s2-r32": 1000}))
    points, left_out = experiments.curve_points(rows, "train.dialogues", changed_params(rows))
    assert [x for x, *_ in points["lora.r=32"]] == [100.0, 1000.0]
    (reason,) = left_out
    assert reason.startswith("2 run(s) with results but no number for train.dialogues") and "1 of them null" in reason


def two_commits(runs_by_commit: dict[str, list]) -> list:
    """`dvc exp show --json` of the workspace and one commit per key, each with its experiments."""
    commits = []
    for commit_name, runs in runs_by_commit.items():
        workspace, commit = shown(
            [(f"{commit_name}-{name}", state, params, rouge1) for name, state, params, rouge1 in runs]
        )
        commits.append({**commit, "rev": f"{commit_name}-sha", "name": commit_name})
    return [workspace, *commits]


def test_the_curve_is_the_seed_groups_one_series_per_commit(monkeypatch):
    from dialogsum_lora.commands import experiments

    run = learning_curve_runs
    main = [run(size, seed) for size in (100, 1000) for seed in (1, 2)]
    older = [run(size, seed, rouge1=0.32 + size / 10_000 + seed / 100) for size in (100, 1000) for seed in (1, 2)]
    rows = sort_rows(experiment_rows(two_commits({"main": main, "older": older})))
    fake_dialogue_scores(
        monkeypatch,
        [(f"main-{name}", *rest) for name, *rest in main] + [(f"older-{name}", *rest) for name, *rest in older],
    )
    points, left_out = experiments.curve_points(rows, "train.dialogues", changed_params(rows))
    # The same params and seeds in two commits: two series, never one point of four seeds.
    assert sorted(points) == ["commit main-sh", "commit older-s"] and len(left_out) == 1  # the workspace: no number
    assert all([(x, seeds) for x, _, _, _, seeds in series] == [(100.0, 2), (1000.0, 2)] for series in points.values())
    # Each point is a seed group, with the statistics the seed groups' table shows.
    groups = [runs for runs in experiments.seed_sets(rows)[0] if len(runs) > 1]
    expected = {
        (
            f"commit {group['runs'][0]['code'][:7]}",
            float(group["runs"][0]["params"]["train.dialogues"]),
            group["scores"]["rouge1"]["mean"],
            group["scores"]["rouge1"]["low"],
            group["scores"]["rouge1"]["high"],
            len(group["runs"]),
        )
        for group in experiments.group_statistics(groups)
    }
    assert {(label, *point) for label, series in points.items() for point in series} == expected


def test_a_seed_run_twice_with_other_results_leaves_its_point_out_and_says_so(monkeypatch, tmp_path, capsys):
    from dialogsum_lora.commands import experiments

    run = learning_curve_runs
    runs = [run(size, seed) for size in (100, 1000) for seed in (1, 2)] + [("again", "success", run(100, 2)[2], 0.33)]
    shown_runs = shown(runs)
    monkeypatch.setattr(experiments, "dvc_experiments", lambda revisions: shown_runs)
    monkeypatch.setattr(experiments, "run_output", record_of({}))
    fake_dialogue_scores(monkeypatch, runs)
    rows = sort_rows(experiment_rows(shown_runs))
    points, left_out = experiments.curve_points(rows, "train.dialogues", changed_params(rows))
    # Which of seed 2's two runs at 100 counts cannot be chosen: the point is left out, not the best run kept.
    assert [(x, seeds) for x, _, _, _, seeds in points["all runs"]] == [(1000.0, 2)]
    assert (
        left_out[1:] == experiments.seed_sets(rows)[1] == ["seed 2 ran twice with other results (n100-s2-r32, again)"]
    )
    experiments.show_experiments(["--against", "train.dialogues", "--plot", str(tmp_path / "curve.png")])
    assert "left out of the plot: seed 2 ran twice with other results" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_of_all_the_training_dialogues_is_drawn_at_the_number_its_adapter_record_holds(workspace, monkeypatch):
    import shutil

    from dialogsum_lora.commands import experiments
    from dialogsum_lora.params import set_params

    # The reproduced run (train.dialogues: null), committed by make demo, its adapter in the DVC cache; then
    # the workspace's params edited to a subset, not yet run: two runs that vary train.dialogues.
    trained_on = json.loads((workspace / "models/adapter/provenance.json").read_text())["training"]["dialogues"]
    set_params(workspace / "params.yaml", {"train.dialogues": 4})
    monkeypatch.chdir(workspace)
    rows = sort_rows(experiment_rows(experiments.dvc_experiments()))
    null = [row for row in rows if row["params"].get("train.dialogues") == "None"]
    assert len(rows) == 2 and len(null) == 1 and null[0]["rev"] != "workspace"  # read from the cache, at the commit
    points, left_out = experiments.curve_points(rows, "train.dialogues", changed_params(rows))
    assert left_out == [] and sorted((x, label) for label, series in points.items() for x, *_ in series) == [
        (4.0, "workspace"),
        (float(trained_on), f"commit {null[0]['rev'][:7]}"),
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dialogsum_lora.commands.experiments",
            "--against",
            "train.dialogues",
            "--plot",
            "curve.png",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "left out" not in result.stderr, result.stderr
    assert (workspace / "curve.png").read_bytes().startswith(b"\x89PNG")
    # Without the cache, nothing says how many: the run is left out, and counted.
    shutil.move(workspace / ".dvc/cache", workspace.parent / "cache-aside")
    points, left_out = experiments.curve_points(rows, "train.dialogues", changed_params(rows))
    assert [[x for x, *_ in series] for series in points.values()] == [[4.0]]
    assert (
        len(left_out) == 1
        and left_out[0].startswith("1 run(s) with results but no number")
        and "1 of them null" in left_out[0]
    )


def test_an_interval_reads_unambiguously_whatever_the_signs_of_its_bounds():
    from dialogsum_lora.commands.experiments import interval_text

    assert (interval_text(-0.051, 0.076), interval_text(-0.09, -0.012)) == ("[-5.1, 7.6]", "[-9.0, -1.2]")


def test_the_bars_have_the_intervals_the_table_shows(monkeypatch, tmp_path):
    # Today's metrics.json holds the scores alone; the intervals come from each run's scores.json.
    from dialogsum_lora.commands import experiments
    from dialogsum_lora.results import plots

    ci95 = {rouge: {"low": 0.3, "high": 0.4} for rouge in ROUGE}
    monkeypatch.setattr(experiments, "dvc_experiments", lambda revisions: shown([]))
    monkeypatch.setattr(
        experiments, "run_output", lambda row, path: json.dumps({**dict.fromkeys(ROUGE, 0.35), "ci95": ci95})
    )
    drawn = []
    monkeypatch.setattr(plots, "plot_experiments", lambda rows, keys, path: drawn.extend(rows))
    experiments.show_experiments(["--plot", str(tmp_path / "bars.png")])
    assert drawn and all(row["metrics"]["ci95"] == ci95 for row in drawn)
