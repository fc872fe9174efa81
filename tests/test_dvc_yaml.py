"""dvc.yaml is honest: each stage lists exactly the project code its script imports, and the
code is layered (stage scripts import the library, never each other; the library never
imports a stage)."""

import ast
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

PACKAGE = "dialogsum_lora"
STAGES = ("prepare", "baseline", "finetune", "evaluate")


def imported_modules(file: Path) -> set[str]:
    """Every module `file` imports (at the top or inside functions), by absolute name."""
    names = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def project_file(module: str) -> Path | None:
    """The repository file a module name stands for, if it is one of the project's."""
    for candidate in (
        REPO_ROOT / (module.replace(".", "/") + ".py"),
        REPO_ROOT / module.replace(".", "/") / "__init__.py",
    ):
        if candidate.is_file():
            return candidate
    return None


def project_imports(script: Path) -> set[Path]:
    """The project files `script` imports, directly or through others (a package's __init__ too)."""
    found, todo = set(), [script]
    while todo:
        file = todo.pop()
        for module in imported_modules(file):
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c imports a and a.b first
                file = project_file(".".join(parts[:depth]))
                if file is not None and file not in found:
                    found.add(file)
                    todo.append(file)
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_lists_exactly_the_code_it_imports(stage):
    declared = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"][stage]
    script = REPO_ROOT / "stages" / f"{stage}.py"
    assert declared["cmd"] == f"python -m stages.{stage}"
    code_deps = {dep for dep in declared["deps"] if dep.endswith(".py")}
    imported = {str(path.relative_to(REPO_ROOT)) for path in project_imports(script)}
    assert code_deps == {f"stages/{stage}.py"} | imported


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_reads_exactly_the_params_sections_dvc_yaml_lists(stage):
    import importlib

    declared = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"][stage]["params"]
    assert set(importlib.import_module(f"stages.{stage}").Reads.model_fields) == {key.split(".")[0] for key in declared}


def test_finetune_depends_on_no_text_for_people_and_no_decoding_setting():
    # What words the report, the plots, the cards and the console, and the decoding settings, are
    # evaluate's (and baseline's): editing them never retrains. What computes what finetune writes
    # (training, validation ROUGE, the ROUGE itself) is finetune's.
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    deps = {stage: set(spec["deps"]) for stage, spec in stages.items()}
    for module in (
        "results/report.py",
        "results/plots.py",
        "results/cards.py",
        "results/text.py",
        "results/run.py",
        "params/generate.py",
        "params/analysis.py",
    ):
        assert f"{PACKAGE}/{module}" not in deps["finetune"] and f"{PACKAGE}/{module}" in deps["evaluate"], module
    for module in ("training/trainer.py", "scoring/rouge.py", "generation.py"):
        assert f"{PACKAGE}/{module}" in deps["finetune"], module
    assert not [key for key in stages["finetune"]["params"] if key.split(".")[0] in ("generate", "analysis", "data")]


def test_the_library_is_layered():
    # Stage scripts import the library, never each other; nothing imports a stage; a command never
    # imports another command (they share commands/arguments.py); the library outside commands/
    # never imports a command.
    for stage in STAGES:
        modules = imported_modules(REPO_ROOT / "stages" / f"{stage}.py")
        assert not {m for m in modules if m.startswith("stages")}, stage
    library = sorted((REPO_ROOT / PACKAGE).rglob("*.py")) + sorted((REPO_ROOT / "benchmarks").glob("*.py"))
    for module in library:
        names = imported_modules(module)
        assert not {m for m in names if m.split(".")[0] == "stages"}, module.name
        commands = {m for m in names if m.startswith(f"{PACKAGE}.commands.") and m.split(".")[2] != "arguments"}
        if module.parent.name == "commands":
            assert {m.split(".")[2] for m in commands} <= {module.stem}, module.name
        elif module.parent.name != "benchmarks":
            assert not commands, module
    assert sorted(p.name for p in (REPO_ROOT / "stages").iterdir() if p.suffix == ".py") == sorted(
        f"{s}.py" for s in STAGES
    )
