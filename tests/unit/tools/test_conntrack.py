from __future__ import annotations

import pytest

from cnibench.errors import MeasurementError
from cnibench.tools import conntrack
from cnibench.tools.conntrack import ConntrackCounters, ConntrackTable


def _load(data_dir, folder: str, name: str) -> str:
    return (data_dir / folder / name).read_text()


def test_conntrack_s_sums_over_cpus(data_dir):
    counters = conntrack.parse_conntrack_stats(_load(data_dir, "conntrack", "invalid-acks-server-ns.txt"))
    assert counters == ConntrackCounters(insert_failed=0, drop=0, early_drop=0, invalid=7)
    clean = conntrack.parse_conntrack_stats(_load(data_dir, "conntrack", "after-crr-client-ns.txt"))
    assert clean == ConntrackCounters(0, 0, 0, 0)


def test_proc_stat_agrees_with_conntrack_s(data_dir):
    entries, counters = conntrack.parse_proc_stat(
        _load(data_dir, "conntrack", "proc-net-stat-invalid-acks-server-ns.txt")
    )
    assert entries == 0x330D == 13069
    assert counters == conntrack.parse_conntrack_stats(_load(data_dir, "conntrack", "invalid-acks-server-ns.txt"))
    after_crr, _ = conntrack.parse_proc_stat(_load(data_dir, "conntrack", "proc-net-stat-after-crr-server-ns.txt"))
    before, _ = conntrack.parse_proc_stat(_load(data_dir, "conntrack", "proc-net-stat-before-crr-server-ns.txt"))
    assert (before, after_crr) == (0, 12529)  # 27,653 ab connections left 12,529 entries behind


def test_node_exporter_collector(data_dir):
    table = conntrack.parse_node_exporter(_load(data_dir, "node_exporter", "conntrack-collector-1.5.0-invalid.txt"))
    assert table == ConntrackTable(entries=13070, limit=262144, counters=ConntrackCounters(0, 0, 0, 7))
    assert table.fill_fraction == pytest.approx(13070 / 262144)
    text = _load(data_dir, "node_exporter", "conntrack-collector-1.5.0.txt")
    with pytest.raises(MeasurementError, match="node_nf_conntrack_stat_early_drop"):
        conntrack.parse_node_exporter(
            "\n".join(line for line in text.splitlines() if "node_nf_conntrack_stat_early_drop " not in line)
        )


def test_window_over_real_samples(data_dir):
    start = conntrack.parse_node_exporter(_load(data_dir, "node_exporter", "conntrack-collector-1.5.0.txt"))
    end = conntrack.parse_node_exporter(_load(data_dir, "node_exporter", "conntrack-collector-1.5.0-invalid.txt"))
    summary = conntrack.window([start, end])
    assert (summary.entries_start, summary.entries_peak, summary.entries_end) == (13071, 13071, 13070)
    assert summary.counters.invalid == 7 and not summary.troubled and not summary.filled
    with pytest.raises(MeasurementError, match="went down"):
        conntrack.window([end, start])
    full = ConntrackTable(entries=262144, limit=262144, counters=ConntrackCounters(3, 3, 0, 7))
    assert conntrack.window([start, full, end]).filled and conntrack.window([start, full]).troubled


def test_window_needs_entries_and_two_samples(data_dir):
    counters = conntrack.parse_conntrack_stats(_load(data_dir, "conntrack", "after-crr-server-ns.txt"))
    with pytest.raises(MeasurementError, match="entry count"):
        conntrack.window([ConntrackTable(None, None, counters)] * 2)
    with pytest.raises(MeasurementError, match="start and at its end"):
        conntrack.window([ConntrackTable(1, 2, counters)])


def test_read_proc_of_this_namespace(tmp_path):
    try:
        table = conntrack.read_proc()
    except MeasurementError:
        pytest.skip("nf_conntrack is not loaded here")
    assert table.entries is not None and table.limit is not None and table.limit > 0
    with pytest.raises(MeasurementError, match="cannot read"):
        conntrack.read_proc(tmp_path)


def test_broken_inputs():
    with pytest.raises(MeasurementError, match="no 'cpu=N"):
        conntrack.parse_conntrack_stats("conntrack v1.4.7 (conntrack-tools): Operation not permitted\n")
    with pytest.raises(MeasurementError, match="not key=number"):
        conntrack.parse_conntrack_stats("cpu=0 found=x invalid=0\n")
    with pytest.raises(MeasurementError, match="insert_failed"):
        conntrack.parse_conntrack_stats("cpu=0 found=0 invalid=0\n")
    with pytest.raises(MeasurementError, match="header"):
        conntrack.parse_proc_stat("0000 0000\n")
