"""The entry point every stage and command runs through: a user's mistake or a fault of the machine
is one `error:` line, a bug keeps its traceback under one line that says so."""

import subprocess
import sys

import pytest
from conftest import REPO_ROOT


def run(body: str) -> subprocess.CompletedProcess:
    """`body` as the main() of a command, through run_main, in a fresh process."""
    code = "from dialogsum_lora.errors import UserError, run_main\n" + body + "\nrun_main(main)\n"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "body, raised",
    [("{}['missing key']", "KeyError"), ("open('/no/such/file/the/code/never/checked')", "FileNotFoundError")],
)
def test_a_bug_keeps_its_traceback_under_one_line_saying_so(body, raised):
    result = run(f"def main():\n    {body}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert lines[0] == "Traceback (most recent call last):" and raised in lines[-2]
    assert lines[-1].startswith("error: a bug") and raised in lines[-1] and "report" in lines[-1]


@pytest.mark.parametrize(
    "body, code, facts",
    [
        ("def main():\n    raise UserError('params.yaml: lora.r must be in [1, 1024], got 0')", 2, ("lora.r",)),
        (
            "def main():\n    raise PermissionError(13, 'Permission denied', '/etc/locked')",
            2,
            ("/etc/locked", "Permission denied"),
        ),
        ("def main():\n    raise OSError(28, 'No space left on device')", 2, ("No space left on device",)),
        ("def main():\n    raise MemoryError()", 2, ("out of memory", "batch_size")),
        (
            "import torch\ndef main():\n    raise torch.OutOfMemoryError('CUDA out of memory. Tried to allocate "
            "2.00 GiB')",
            2,
            ("out of memory", "batch_size"),
        ),
        ("def main():\n    raise KeyboardInterrupt()", 130, ("interrupted",)),
        (
            "import os, signal\ndef main():\n    os.kill(os.getpid(), signal.SIGTERM)\n    import time; time.sleep(60)",
            143,
            ("terminated", "SIGTERM"),
        ),
    ],
)
def test_a_mistake_or_a_fault_of_the_machine_is_one_line(body, code, facts):
    result = run(body)
    assert result.returncode == code and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert all(fact in result.stderr for fact in facts), result.stderr


def test_a_deleted_working_directory_or_a_name_too_long_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        "import os; os.chdir({gone!r}); os.rmdir({gone!r}); "
        "from dialogsum_lora.errors import run_main; run_main(lambda: None)"
    ).format(gone=str(gone))
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "working directory" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "dialogsum_lora.commands.score", "x" * 5000 + ".jsonl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "too long" in result.stderr.lower()
