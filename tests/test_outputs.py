"""Outputs are written atomically, and a write that fails names the file."""

import pytest

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import atomic_path


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

    from dialogsum_lora.files import check_writable, write_json

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
    from dialogsum_lora.files import write_json

    mine = tmp_path / ".metrics.json.tmp"  # a file of the user's, named as an older version named its temporaries
    mine.write_text("my notes")
    write_json(tmp_path / "metrics.json", {"a": 1})
    write_json(tmp_path / "metrics.json", {"a": 2})
    assert mine.read_text() == "my notes" and (tmp_path / "metrics.json").read_text() == '{\n  "a": 2\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [".metrics.json.tmp", "metrics.json"]


def test_a_new_output_never_takes_the_place_of_what_appeared_there_meanwhile(tmp_path):
    from dialogsum_lora.files import write_jsonl

    directory, file = tmp_path / "merged", tmp_path / "summaries.jsonl"
    with pytest.raises(UserError, match=f"cannot write {directory}: Directory not empty"):
        with atomic_path(directory, new=True) as temporary:
            temporary.mkdir()
            (temporary / "model.safetensors").write_text("new")
            directory.mkdir()  # another export, or the user, meanwhile
            (directory / "thesis.tex").write_text("months of work")
    with pytest.raises(UserError, match=f"cannot write {file}: File exists"):
        with atomic_path(file, new=True) as temporary:
            temporary.write_text("new")
            file.write_text("my summaries")
    assert (directory / "thesis.tex").read_text() == "months of work" and file.read_text() == "my summaries"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged", "summaries.jsonl"]
    write_jsonl(tmp_path / "empty", [{"a": 1}], new=True)  # a new file, or an empty directory, is fine
    (tmp_path / "adapter").mkdir()
    with atomic_path(tmp_path / "adapter", new=True) as temporary:
        temporary.mkdir()
        (temporary / "weights").write_text("new")
    assert (tmp_path / "adapter/weights").read_text() == "new"
