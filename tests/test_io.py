"""Atomic writes: a failed write leaves the previous file intact."""

import pytest

from synthrec.io import atomic_path, read_json, sha256_file, write_json


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_equal_objects_give_equal_bytes(tmp_path):
    write_json(tmp_path / "a.json", {"b": 2, "a": 1})
    write_json(tmp_path / "b.json", {"a": 1, "b": 2})
    assert sha256_file(tmp_path / "a.json") == sha256_file(tmp_path / "b.json")
