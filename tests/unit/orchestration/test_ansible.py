from __future__ import annotations

import shutil

from cnibench.orchestration.ansible import ansible_error


def test_ansible_error_is_the_last_error_line(tmp_path, data_dir):
    # stdout of a real ansible-playbook run whose extra-vars file could not be read (no task ever ran)
    target = tmp_path / "ansible" / "artifacts" / "playbook" / "stdout"
    target.parent.mkdir(parents=True)
    shutil.copy(data_dir / "ansible" / "stdout-missing-vars-file.txt", target)
    message = ansible_error(tmp_path)
    assert message is not None and "\n" not in message
    assert message.startswith("ansible-playbook: Unable to retrieve file contents. Could not find or access")
    assert "vars.json" in message


def test_ansible_error_without_output(tmp_path):
    assert ansible_error(tmp_path) is None
