"""The experiments of this commit at a glance: each one's changed params beside its ROUGE.

Reads `dvc exp show --json`, prints each run's changed params beside its finetuned ROUGE x100 (and 95% interval),
then the seed groups, and draws the same as a PNG; docs/experiments.md says what each part means.
"""

import json
import subprocess
import sys
from pathlib import Path

from pydantic import AliasPath, ConfigDict, Field

from dialogsum_lora import paths
from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.evaluation import Interval, Scores
from dialogsum_lora.files import check_writable
from dialogsum_lora.results.text import verdict
from dialogsum_lora.schema import Record, Text, parse
from dialogsum_lora.scoring.bootstrap import across_seeds, paired_across_seeds
from dialogsum_lora.scoring.rouge import PROTOCOL, ROUGE_TYPES, score_corpus


class ShownScores(Scores):  # a run's metrics.json (the scores) or scores.json (their intervals too)
    model_config = ConfigDict(extra="ignore")
    ci95: dict[str, Interval] = {}


class ShownPrediction(Record):
    model_config = ConfigDict(extra="ignore")
    id: Text
    prediction: str
    references: list[Text]


class ShownAdapterRecord(Record):  # what --against reads of models/adapter/provenance.json
    model_config = ConfigDict(extra="ignore")
    dialogues: int = Field(ge=1, validation_alias=AliasPath("training", "dialogues"))


FINETUNED_METRICS = paths.metrics_file(paths.FINETUNED_DIR)  # what `dvc exp show` reads of a run
DEFAULT_PLOT = Path("dvc_plots/experiments.png")  # dvc_plots/ is where DVC writes its own plots (git-ignored)
WIDTH = 100
NAME_WIDTH = 20


def dvc_experiments(revisions: list[str] | None = None) -> list:
    """`dvc exp show --json` of the commits `revisions` name, by default all (a sweep on an older one stays in view)."""
    asked = [argument for revision in revisions for argument in ("--rev", revision)] if revisions else ["--all-commits"]
    command = [sys.executable, "-m", "dvc", "exp", "show", "--json", *asked]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        lines = [line for line in result.stderr.splitlines() if line.strip()] or ["no output"]
        raise UserError(f"`dvc exp show` failed: {lines[-1].removeprefix('ERROR: ')} (run this in the repository)")
    return json.loads(result.stdout)


def experiment_rows(shown: list) -> list[dict]:
    """A row per distinct run (workspace, commits with results, experiments): name, state, flat params, metrics
    (None until it has them), `code` (its commit); runs of equal params and results are one, the others in `same`."""
    rows: list[dict] = []
    # The workspace last: a run it repeats keeps its commit's name and code, and so its seed group.
    for commit in sorted(shown, key=lambda commit: commit["rev"] == "workspace"):
        code = commit["rev"]
        if code == "workspace":
            candidates = [_row("workspace", commit, "workspace", code)]
        else:
            head = _row(commit["name"] or code[:7], commit, "commit", code)
            candidates = [head] if head["metrics"] else []
        for experiment in commit.get("experiments") or []:
            latest = experiment["revs"][0]
            state = (experiment.get("executor") or {}).get("state") or "success"
            candidates.append(_row(experiment.get("name") or latest["name"] or latest["rev"][:7], latest, state, code))
        for row in candidates:
            same = [other for other in rows if (other["params"], other["metrics"]) == (row["params"], row["metrics"])]
            if row["metrics"] and same:
                same[0]["same"].append(row["name"])
            else:
                rows.append(row)
    return rows


def _row(name: str, revision: dict, state: str, code: str) -> dict:
    data = revision.get("data") or {}
    params = _flatten((data.get("params") or {}).get(str(paths.PARAMS_FILE), {}).get("data") or {})
    metrics = (data.get("metrics") or {}).get(str(FINETUNED_METRICS), {}).get("data")
    if metrics is not None:
        source = f"`dvc exp show`: {name}'s {FINETUNED_METRICS}"
        metrics = parse(ShownScores, metrics, source).model_dump(include=set(ROUGE_TYPES))
    return dict(name=name, rev=revision.get("rev"), state=state, params=params, metrics=metrics, same=[], code=code)


def _flatten(params: dict, prefix: str = "") -> dict[str, str]:
    """Nested params as dotted keys (lora.r) and their values as text, a list's joined by commas."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat


def changed_params(rows: list[dict]) -> list[str]:
    """The params whose values are not the same in every row."""
    keys = sorted({key for row in rows for key in row["params"]})
    return [key for key in keys if len({row["params"].get(key) for row in rows}) > 1]


def sort_rows(rows: list[dict]) -> list[dict]:
    """Scored rows by rouge1, best first; then the others (queued, running, failed)."""
    return sorted(rows, key=lambda row: -row["metrics"]["rouge1"] if row["metrics"] else float("inf"))


def run_output(row: dict, path: Path) -> str:
    """The output `path` as `row`'s run wrote it: the workspace's file, or from the DVC cache."""
    import dvc.api

    try:
        return dvc.api.read(str(path), rev=None if row["rev"] == "workspace" else row["rev"], encoding="utf-8")
    except Exception as error:  # DVC's own types: a file not in the cache, a revision gone
        raise UserError(
            f"cannot read {path} of {row['name']} ({type(error).__name__}: {error}): `dvc pull` it, "
            "or run `dvc exp run` again"
        ) from None


def _cached(row: dict, path: Path, schema: type[Record]) -> Record | None:
    """`row`'s output `path` read through `schema`; None when that is not in this DVC cache."""
    try:
        text = run_output(row, path)
    except UserError:
        return None
    return parse(schema, json.loads(text), f"{row['name']}'s {path}")  # DVC's copy of what a stage wrote


def run_intervals(row: dict) -> dict:
    """The 95% intervals of `row`'s finetuned scores, from its scores.json where this DVC cache holds it."""
    scores = _cached(row, paths.scores_file(paths.FINETUNED_DIR), ShownScores) if row["metrics"] else None
    return scores.model_dump()["ci95"] if scores else {}


def interval_text(low: float, high: float) -> str:
    """A 95% interval x100, its bounds apart whatever their signs: [-5.1, 7.6]."""
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def table(rows: list[dict], keys: list[str], intervals: list[dict]) -> str:
    """The rows as a text table at most WIDTH columns wide, a score's interval (of `intervals`, one per row) on the
    line below it: a column per changed param if they fit, else one column of them all, `key=value` each, on as
    many lines as they take."""

    def grid(param_cells: list[list[list[str]]], param_headers: list[str]) -> list[list[str]]:
        lines = [["experiment", *param_headers, *ROUGE_TYPES]]
        for row, params, found in zip(rows, param_cells, intervals):
            name = row["name"] if row["metrics"] else f"{row['name']} ({row['state']})"
            name += f"(+{len(row['same'])})" if row["same"] else ""  # identical runs, shown once
            scores = [f"{100 * row['metrics'][rouge]:.1f}" if row["metrics"] else "-" for rouge in ROUGE_TYPES]
            below = []
            if row["metrics"] and found:
                below = [[interval_text(**found[rouge]) if rouge in found else "" for rouge in ROUGE_TYPES]]
            score_lines = [scores, *below]
            for line in range(max([len(score_lines), *map(len, params)])):  # as many as the longest cell takes
                cells = score_lines[line] if line < len(score_lines) else [""] * len(ROUGE_TYPES)
                param_lines = [cell[line] if line < len(cell) else "" for cell in params]
                lines.append([_cut(name, NAME_WIDTH) if line == 0 else "", *param_lines, *cells])
        return _aligned(lines, left=1 + len(param_headers))

    lines = grid([[[row["params"].get(key, "")] for key in keys] for row in rows], keys)
    if keys and max(map(len, lines)) > WIDTH:
        room = WIDTH - max(map(len, grid([[] for _ in rows], []))) - 2
        joined = [[_wrapped([f"{key}={row['params'].get(key, '')}" for key in keys], room)] for row in rows]
        lines = grid(joined, [_cut("changed params", room)])
    return "\n".join(lines)


def _wrapped(pieces: list[str], size: int) -> list[str]:
    """The pieces, space-separated, on lines of at most `size` characters; a longer piece is broken after its last
    `=`, `,`, `/` or `-` that fits (model.name=Qwen/ then Qwen2.5-1.5B)."""
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= size:
            lines[-1] += " " + piece
            continue
        while len(piece) > size > 0:
            cut = max(piece.rfind(mark, 0, size) for mark in "=,/-") + 1 or size
            lines.append(piece[:cut])
            piece = piece[cut:]
        lines.append(piece)
    return lines


def _aligned(lines: list[list[str]], left: int) -> list[str]:
    """Cells in columns two spaces apart, the first `left` left-aligned, the others right; dashes under the header."""
    widths = [max(map(len, column)) for column in zip(*lines)]
    justify = [str.ljust] * left + [str.rjust] * (len(widths) - left)
    aligned = [
        "  ".join(pad(cell, size) for pad, cell, size in zip(justify, cells, widths)).rstrip() for cells in lines
    ]
    return [aligned[0], "-" * max(map(len, aligned)), *aligned[1:]]


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 1, 0)] + "~"


def _label(row: dict, keys: list[str], code: bool = False) -> str:
    """A run's set named by its changed params in `keys` (and its commit): `lora.r=8`, or `all runs`."""
    shown = [f"{key}={row['params'].get(key, '')}" for key in keys]
    shown += [("workspace" if row["code"] == "workspace" else f"commit {row['code'][:7]}")] if code else []
    return " ".join(shown) or "all runs"


# Seed groups: runs of the same code whose params differ only in `seed`, their scores over seeds
# and dialogues (scoring/bootstrap.py: across_seeds says how, and why not a bootstrap).


def seed_sets(rows: list[dict]) -> tuple[list[list[dict]], list[str]]:
    """The scored rows in sets of the same code and params but `seed`, a run per seed (equal reruns count once);
    and why a set was left out (a seed run twice with other results: choosing one would look at the scores)."""
    sets: dict[tuple, dict[str, list[dict]]] = {}
    for row in (row for row in rows if row["metrics"]):
        key = (row["code"], *sorted((name, value) for name, value in row["params"].items() if name != "seed"))
        runs = sets.setdefault(key, {}).setdefault(row["params"].get("seed"), [])
        if all(run["metrics"] != row["metrics"] for run in runs):
            runs.append(row)
    kept, left_out = [], []
    for by_seed in sets.values():
        twice = [(seed, runs) for seed, runs in by_seed.items() if len(runs) > 1]
        if twice:
            seed, runs = twice[0]
            left_out.append(f"seed {seed} ran twice with other results ({', '.join(run['name'] for run in runs)})")
        else:
            kept.append([runs[0] for runs in by_seed.values()])
    return kept, left_out


def dialogue_scores(row: dict) -> dict[str, dict[str, float]]:
    """Each test dialogue's finetuned ROUGE in `row`'s run, by id: its predictions scored again, unrounded."""
    path = paths.predictions_file(paths.FINETUNED_DIR)
    lines = enumerate(run_output(row, path).splitlines(), 1)
    predictions = [parse(ShownPrediction, json.loads(line), f"{row['name']}'s {path} line {n}") for n, line in lines]
    _, per_dialogue = score_corpus([p.prediction for p in predictions], [p.references for p in predictions])
    return {p.id: scores["mean"] for p, scores in zip(predictions, per_dialogue)}


def _cells(by_seed: dict, seeds, ids: list[str]) -> dict[str, list[list[float]]]:
    """Per score type, the scores of `seeds` x `ids`."""
    return {name: [[by_seed[seed][i][name] for i in ids] for seed in seeds] for name in ROUGE_TYPES}


def group_statistics(groups: list[list[dict]]) -> list[dict]:
    """Per group: its runs, their per-dialogue scores by seed, the dialogues all have and across_seeds() on them."""
    found = []
    for group in groups:
        by_seed = {row["params"].get("seed"): dialogue_scores(row) for row in group}
        ids = sorted(set.intersection(*map(set, by_seed.values())))
        if len(ids) < 2:
            raise UserError(
                f"the runs {', '.join(row['name'] for row in group)} share {len(ids)} test dialogue(s): "
                "a seed group needs two or more that every run of it summarised"
            )
        scores = across_seeds(_cells(by_seed, by_seed, ids))
        found.append({"runs": group, "by_seed": by_seed, "ids": ids, "scores": scores})
    return found


def show_seed_groups(rows: list[dict], keys: list[str]) -> None:
    """Print the seed groups (mean ± sd x100, the 95% interval below), then each against the best by mean rouge1."""
    sets, left_out = seed_sets(rows)
    for reason in left_out:
        print(f"warning: a seed group is left out: {reason}", file=sys.stderr)
    statistics = group_statistics([runs for runs in sets if len(runs) > 1])
    if not statistics:
        return
    statistics.sort(key=lambda group: -group["scores"]["rouge1"]["mean"])
    labels = [_label(group["runs"][0], [key for key in keys if key != "seed"]) for group in statistics]
    print("\nseed groups (runs of one commit whose params differ only in seed): mean±sd over seeds x100,")
    print("and below it a 95% interval over seeds and dialogues (Student's t on both spreads)")
    lines = [["group", "seeds", *ROUGE_TYPES]]
    for group, label in zip(statistics, labels):
        scores = [group["scores"][name] for name in ROUGE_TYPES]
        spreads = [f"{100 * found['mean']:.1f}±{100 * found['std']:.1f}" for found in scores]
        lines.append([_cut(label, NAME_WIDTH * 2), str(len(group["runs"])), *spreads])
        lines.append(["", "", *(interval_text(found["low"], found["high"]) for found in scores)])
    print("\n".join(_aligned(lines, left=1)))
    # Each group against the best, paired over the seeds (whole numbers, as text: by value) and dialogues both have.
    best = statistics[0]
    for group, label in zip(statistics[1:], labels[1:]):
        seeds = sorted(best["by_seed"].keys() & group["by_seed"].keys(), key=lambda seed: (len(seed), seed))
        ids = sorted(set(best["ids"]) & set(group["ids"]))
        if len(seeds) < 2 or len(ids) < 2:
            print(f"{labels[0]} vs {label}: fewer than two seeds or dialogues in common, nothing to compare")
            continue
        mine, theirs = _cells(best["by_seed"], seeds, ids), _cells(group["by_seed"], seeds, ids)
        comparison = {name: paired_across_seeds(mine[name], theirs[name]) for name in ROUGE_TYPES}
        evidence = f"{len(seeds)} seeds and {len(ids)} dialogues (Student's t)"
        said = verdict({**comparison, "num_dialogues": len(ids)}, "rouge1", labels[0], label, evidence)
        print(f"seeds {', '.join(seeds)}, {len(ids)} dialogues: {said}")


def curve_points(rows: list[dict], key: str, keys: list[str]) -> tuple[dict, list[str]]:
    """ROUGE-1 against the numeric param `key`: a series per other changed params (and commit), a point (x, mean,
    low, high, seeds) per seed_sets set; and why runs were left out (no number for `key`, a seed run twice)."""
    placed, missing, unrecorded = [], 0, 0
    for row in (row for row in rows if row["metrics"]):
        value = row["params"].get(key, "")
        if value == "None" and key == "train.dialogues":  # null: all, as the record counts them
            record = _cached(row, paths.provenance_file(paths.ADAPTER_DIR), ShownAdapterRecord)
            value = str(record.dialogues) if record else "None"
            unrecorded += record is None
        try:
            float(value)  # a flattened param's text: not a number if text, null or absent
        except ValueError:
            missing += 1
            continue
        placed.append({**row, "params": {**row["params"], key: value}})
    sets, left_out = seed_sets(placed)
    if missing:
        why = f" ({unrecorded} of them null, their adapter's record not in this DVC cache: `dvc pull` it)"
        left_out.insert(0, f"{missing} run(s) with results but no number for {key}{why if unrecorded else ''}")
    statistics = iter(group_statistics([runs for runs in sets if len(runs) > 1]))
    others = [name for name in keys if name not in (key, "seed")]
    several_commits = len({runs[0]["code"] for runs in sets}) > 1
    points: dict[str, list[tuple]] = {}
    for runs in sets:
        if len(runs) > 1:
            found = next(statistics)["scores"]["rouge1"]
        else:
            mean = runs[0]["metrics"]["rouge1"]
            found = {"mean": mean, "low": mean, "high": mean, **(run_intervals(runs[0]).get("rouge1") or {})}
        point = (float(runs[0]["params"][key]), found["mean"], found["low"], found["high"], len(runs))
        points.setdefault(_label(runs[0], others, several_commits), []).append(point)
    return {label: sorted(series) for label, series in points.items()}, left_out


def show_experiments(arguments: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="dialogsum-experiments", description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help=f"the PNG to write (default: {DEFAULT_PLOT})")
    parser.add_argument(
        "--against",
        metavar="PARAM",
        help="plot finetuned ROUGE-1 against this numeric param the runs vary (train.dialogues, lora.r) "
        "instead of the bars",
    )
    parser.add_argument(
        "--rev",
        action="append",
        metavar="REV",
        help="a commit, branch or tag whose experiments to show (repeatable; default: every commit)",
    )
    args = parser.parse_args(arguments)
    from dialogsum_lora.results.plots import plot_against, plot_experiments

    if args.plot.suffix.lower() != ".png":
        raise UserError(f"{args.plot}: plots are written as PNG, so the file name must end in .png")
    if args.plot != DEFAULT_PLOT and args.plot.exists():  # dvc_plots/ is DVC's (and this command's) to rewrite
        raise UserError(f"--plot {args.plot} already exists: give a new file, or remove it yourself")
    rows = sort_rows(experiment_rows(dvc_experiments(args.rev)))
    keys = changed_params(rows)
    if not any(row["metrics"] for row in rows):
        raise UserError(f"no experiment here has {FINETUNED_METRICS} yet: run `dvc repro` or `dvc exp run` first")
    if args.against is not None and args.against not in keys:
        varied = ", ".join(keys) or "none"
        raise UserError(f"--against {args.against}: not a param these runs vary (they vary: {varied})")
    check_writable([args.plot])
    same = sum(len(row["same"]) for row in rows)
    shown_once = f" ({same} identical runs shown once, NAME(+N))" if same else ""
    print(f"scored alike: {PROTOCOL}")
    print(f"{paths.FINETUNED} ROUGE F1 x100 of {len(rows)} runs, best rouge1 first{shown_once}")
    intervals = [run_intervals(row) for row in rows]
    if any(intervals):
        print("below each score, its 95% interval")
    print(table(rows, keys, intervals))
    show_seed_groups(rows, keys)
    if args.against is None:
        scored = [
            {**row, "metrics": {**row["metrics"], "ci95": ci}} for row, ci in zip(rows, intervals) if row["metrics"]
        ]
        plot_experiments(scored, keys, args.plot)
    else:
        points, left_out = curve_points(rows, args.against, keys)
        if not points:
            raise UserError(f"--against {args.against}: no run with results has a number for it")
        for reason in left_out:
            print(f"warning: left out of the plot: {reason}", file=sys.stderr)
        plot_against(points, args.against, args.plot, left_out)
    print(f"plot: {args.plot}")


def main() -> None:
    run_main(show_experiments)


if __name__ == "__main__":
    main()
