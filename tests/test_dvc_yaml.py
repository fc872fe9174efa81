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
    for candidate in (REPO_ROOT / (module.replace(".", "/") + ".py"), REPO_ROOT / module.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# Code a module runs without importing it: rouge.py loads the metric script by path (evaluate.load).
LOADED_BY_PATH = {REPO_ROOT / PACKAGE / "rouge.py": [REPO_ROOT / PACKAGE / "dialogsum_rouge" / "dialogsum_rouge.py"]}


def project_imports(script: Path) -> set[Path]:
    """The project files `script` imports, directly or through others (a package's __init__ too)."""
    found, todo = set(), [script]
    while todo:
        file = todo.pop()
        for loaded in LOADED_BY_PATH.get(file, []):
            if loaded not in found:
                found.add(loaded)
                todo.append(loaded)
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


def test_editing_the_report_never_reruns_training_and_editing_training_always_does():
    # finetune scores validation ROUGE, so the ROUGE code is its dependency too; the analysis,
    # plots and report of the test results are evaluate's alone.
    deps = {stage: set(spec["deps"]) for stage, spec in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"].items()}
    for module in ("report.py", "plots.py"):
        assert f"{PACKAGE}/{module}" not in deps["finetune"] and f"{PACKAGE}/{module}" in deps["evaluate"]
    for module in ("training.py", "validation_rouge.py", "rouge.py", "dialogsum_rouge/dialogsum_rouge.py"):
        assert f"{PACKAGE}/{module}" in deps["finetune"]


def test_stages_import_the_library_and_never_each_other():
    for stage in STAGES:
        modules = imported_modules(REPO_ROOT / "stages" / f"{stage}.py")
        assert not {m for m in modules if m.startswith("stages")}, stage
    for module in sorted((REPO_ROOT / PACKAGE).glob("*.py")) + sorted((REPO_ROOT / "benchmarks").glob("*.py")):
        assert not {m for m in imported_modules(module) if m.split(".")[0] == "stages"}, module.name
    assert sorted(p.name for p in (REPO_ROOT / "stages").iterdir() if p.suffix == ".py") == sorted(f"{s}.py" for s in STAGES)
