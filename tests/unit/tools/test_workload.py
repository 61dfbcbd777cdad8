from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from cnibench.spec.base import FieldError
from cnibench.tools.workload import WorkloadSettings, check_workloads, littles_law


class _Settings(WorkloadSettings):
    """How a scenario's settings use it: its own protocols plus the workload fields."""

    protocols: list[Literal["tcp", "udp"]] = Field(["tcp"])


def _error(**data) -> str:
    with pytest.raises(ValidationError) as caught:
        _Settings(**data)
    errors = caught.value.errors()
    assert len(errors) == 1
    loc = errors[0]["loc"] or getattr(errors[0].get("ctx", {}).get("error"), "loc", ())
    return f"{'.'.join(str(part) for part in loc)}: {errors[0]['msg']}"


def test_defaults_and_a_valid_matrix():
    assert _Settings().workloads == ["stream"] and _Settings().message_size == 64
    settings = _Settings(workloads=["stream", "rr", "crr"], protocols=["tcp"], message_size=14)
    assert settings.workloads == ["stream", "rr", "crr"]


def test_message_size_zero_is_refused_naming_the_field():
    line = _error(message_size=0)
    assert line.startswith("message_size:") and "14" in line


def test_unknown_workload_is_refused_naming_the_field():
    line = _error(workloads=["rr", "tcp_rr"])
    assert line.startswith("workloads.1:") and "'stream', 'rr' or 'crr'" in line


def test_crr_with_udp_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        _Settings(workloads=["crr"], protocols=["tcp", "udp"])
    error = caught.value.errors()[0]["ctx"]["error"]
    assert isinstance(error, FieldError) and error.loc == ("workloads",)
    assert "no UDP form" in str(error)
    with pytest.raises(FieldError, match="only once"):
        check_workloads(["rr", "rr"], None)
    check_workloads(["rr"], ["udp"])  # rr over UDP is fine


def test_littles_law_arithmetic_and_refusals():
    check = littles_law(20_000, 50.0)
    assert check.product == pytest.approx(1.0) and check.ok
    assert not littles_law(20_000, 56.0).ok and littles_law(20_000, 54.9).ok
    assert littles_law(40_000, 50.0, outstanding=2).ok
    with pytest.raises(ValueError, match="positive"):
        littles_law(0, 10)
    with pytest.raises(ValueError, match="outstanding"):
        littles_law(1, 1, outstanding=0)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"message_size": 0}, "spec.yaml: message_size: Input should be greater than or equal to 14"),
        ({"workloads": ["tcp_rr"]}, "spec.yaml: workloads[0]: Input should be 'stream', 'rr' or 'crr'"),
        (
            {"workloads": ["crr"], "protocols": ["udp"]},
            "spec.yaml: workloads: crr opens a TCP connection per transaction and has no UDP form: remove udp from "
            "protocols or crr from workloads",
        ),
    ],
)
def test_the_spec_loader_reports_one_line_naming_the_field(data, line):
    from cnibench.spec.load import _format_errors

    with pytest.raises(ValidationError) as caught:
        _Settings(**data)
    assert _format_errors("spec.yaml", caught.value) == line
