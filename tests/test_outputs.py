"""Outputs are written atomically, and a write that fails names the file."""

import pytest

from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import atomic_path


def test_a_failed_write_leaves_the_old_output_and_no_partial_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

    directory = tmp_path / "adapter"
    with atomic_path(directory) as temporary:
        temporary.mkdir()
        (temporary / "weights").write_text("new")
    assert (directory / "weights").read_text() == "new"


def test_write_errors_name_the_output(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from dialogsum_lora.files.outputs import check_writable, write_json

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'm.json'}: No space left on device"):
        write_json(tmp_path / "m.json", {})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.NamedTemporaryFile", read_only)
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'out/m.json'}: Read-only file system"):
        check_writable([tmp_path / "out/m.json"])


def test_temporary_names_are_unique_and_never_a_users_file(tmp_path):
    from dialogsum_lora.files.outputs import write_json

    mine = tmp_path / ".metrics.json.tmp"  # a file of the user's, named as an older version named its temporaries
    mine.write_text("my notes")
    write_json(tmp_path / "metrics.json", {"a": 1})
    write_json(tmp_path / "metrics.json", {"a": 2})
    assert mine.read_text() == "my notes" and (tmp_path / "metrics.json").read_text() == '{\n  "a": 2\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [".metrics.json.tmp", "metrics.json"]


def test_a_stage_that_fails_part_way_leaves_its_outputs_all_from_one_run(tmp_path, monkeypatch):
    from dialogsum_lora.files.outputs import stage_outputs, write_json, write_text

    monkeypatch.chdir(tmp_path)
    files = [tmp_path / "reports/topics.json", tmp_path / "reports/report.md"]
    with stage_outputs("evaluate", files):
        write_json(files[0], {"run": 1})
        write_text(files[1], "report of run 1")
    with pytest.raises(RuntimeError, match="plotting failed"):
        with stage_outputs("evaluate", files):
            write_json(files[0], {"run": 2})
            raise RuntimeError("plotting failed")  # before the report of run 2 is written
    assert files[0].read_text() == '{\n  "run": 1\n}\n' and files[1].read_text() == "report of run 1"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["report.md", "timing", "topics.json"]


def test_a_second_run_of_a_stage_or_a_second_writer_is_refused_in_one_line(tmp_path, monkeypatch):
    import subprocess
    import sys

    from dialogsum_lora.files.outputs import exclusive, stage_outputs
    from dialogsum_lora.paths import TIMING_DIR

    monkeypatch.chdir(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom dialogsum_lora.files.outputs import exclusive\n"
            f"with exclusive(Path({str(TIMING_DIR / 'prepare')!r}), 'the prepare stage'):\n"
            "    print('held', flush=True)\n    time.sleep(600)",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError) as error:
            with stage_outputs("prepare", [tmp_path / "data/prepared/train.jsonl"]):
                raise AssertionError("the second run was let in")
        assert "another run of the prepare stage" in str(error.value) and "\n" not in str(error.value)
        with exclusive(tmp_path / "other", "another command"):  # other outputs stay free
            pass
    finally:
        holder.kill()
        holder.wait()
    with stage_outputs("prepare", [tmp_path / "data/prepared/train.jsonl"]):  # free again once it ends
        pass
