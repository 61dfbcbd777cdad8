from __future__ import annotations

import io

from cnibench.spawn import STDERR_HEAD, _CappedSink


def test_stderr_is_capped_while_it_comes(tmp_path):
    path = tmp_path / "out.stderr"
    sink = _CappedSink(path, limit=1000)
    sink.drain(io.BytesIO(b"first line: the reason\n" + b"x" * 5000))
    text = path.read_bytes()
    assert text.startswith(b"first line: the reason\n")
    assert len(text) < 1100 and text.endswith(b"more bytes of stderr dropped]\n")
    assert sink.dropped == 23 + 5000 - 1000
    assert bytes(sink.head) == (b"first line: the reason\n" + b"x" * 5000)[:STDERR_HEAD]


def test_empty_stderr_leaves_no_file(tmp_path):
    path = tmp_path / "out.stderr"
    _CappedSink(path).drain(io.BytesIO(b""))
    assert not path.exists()
