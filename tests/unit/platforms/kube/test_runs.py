"""A Kubernetes run's state on this machine: reserved, found again by its platform, forgotten (or kept)."""

from __future__ import annotations

import os

from cnibench.platforms.kube import runs


def test_a_run_is_reserved_found_by_its_platform_and_forgotten(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.KUBE_STATE_ENV, str(tmp_path / "state"))
    prefix = runs.reserve("kubeconfig", tmp_path / "results" / "run", os.getpid())
    private = tmp_path / "state" / prefix
    assert prefix.startswith("cnib") and len(prefix) == 8
    assert private.is_dir() and private.stat().st_mode & 0o777 == 0o700  # kubeconfigs go there: credentials
    assert runs.run_dir_of(prefix) == str(tmp_path / "results" / "run")
    (found,) = runs.find_leftovers("kubeconfig")
    assert found.prefix == prefix and found.owner_alive  # this process owns it: clean leaves it alone
    assert runs.find_leftovers("kind") == []
    (private / "images").mkdir()
    runs.forget(prefix, kept=True)  # --keep: the state stays for `cnibench clean`, the image archives go
    assert private.is_dir() and not (private / "images").exists() and runs.find_leftovers("kubeconfig")
    runs.forget(prefix, kept=False)
    assert not private.exists() and runs.find_leftovers("kubeconfig") == [] and runs.run_dir_of(prefix) is None


def test_state_from_before_the_platform_was_recorded_is_kinds(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.KUBE_STATE_ENV, str(tmp_path))
    (tmp_path / "cnib1a2b.json").write_text('{"prefix": "cnib1a2b", "owner_pid": 999999999, "run_dir": null}')
    (found,) = runs.find_leftovers("kind")
    assert found.prefix == "cnib1a2b" and not found.owner_alive
    assert runs.find_leftovers("aks") == []
