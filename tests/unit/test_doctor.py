"""The shared helpers of the prerequisite checks: a tool's version read from what it prints, and compared."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cnibench import doctor


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("kind v0.31.0 go1.25.5 linux/amd64", (0, 31, 0)),
        ("v3.19.0+g3d8990f", (3, 19, 0)),
        ('{"clientVersion": {"gitVersion": "v1.37.0"}}', (1, 37, 0)),
        ("no version here", None),
    ],
)
def test_versions_are_read_from_the_tools_output(text, version):
    assert doctor.parse_version(text) == version


def test_a_tool_too_old_or_too_new_says_which_versions_work(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no venv bindir either
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\necho 'tool v2.7.1'\n")
    tool.chmod(0o755)
    ok = doctor.check_versioned("tool", ["tool", "--version"], "get it", minimum=(2, 0), maximum=(3, 0))
    assert ok.ok and ok.detail == f"2.7.1 ({tool})"
    old = doctor.check_versioned("tool", ["tool", "--version"], "get it", minimum=(2, 8))
    assert not old.ok and old.detail == "2.7.1 is too old (need 2.8+)" and old.hint == "get it"
    new = doctor.check_versioned("tool", ["tool", "--version"], "get it", maximum=(2, 7))
    assert not new.ok and new.detail == "2.7.1 is not supported (need below 2.7)"
    missing = doctor.check_versioned("other", ["other", "--version"], "get it")
    assert not missing.ok and missing.detail == "not found"
