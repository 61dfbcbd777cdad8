"""What every sample of every scenario has (a scenario's own sample model adds its figures: see
:mod:`cnibench.scenarios`), and the record base of everything ``results.json`` holds."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

Status = Literal["ok", "failed"]


class Record(BaseModel):
    """An immutable record; no value that is not a finite number."""

    # no NaN or infinity in a record: pydantic would write them as null, which a float field cannot read back
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SampleBase(Record):
    """What every sample has, whatever the scenario: a failed repetition is kept with its reason."""

    cni: str
    scenario: str
    repetition: int = Field(ge=1)
    round: int = Field(
        1, ge=1, description="The round it ran in (schema 7; earlier runs had one round). Its cluster was fresh."
    )
    status: Status
    error: str | None = None
    started_at: float | None = Field(None, description="Unix time the measurement started.")
    ended_at: float | None = None
    artifact: str | None = Field(None, description="Raw tool output, relative to the run directory.")
    node_metrics: dict[str, dict[str, float]] | None = Field(
        None,
        description="Per node: <query>_avg and <query>_max over the measurement window (metrics enabled only).",
    )
    metrics_error: str | None = Field(
        None, description="Why node_metrics (or some of its queries) is missing (metrics enabled only)."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What the parsers corrected or left out, and why (a mis-timed iperf3 interval, Prometheus "
        "points that were not finite numbers, a series without a node label).",
    )

    @field_validator("node_metrics", mode="before")
    @classmethod
    def _finite_node_metrics(cls, value: Any) -> Any:
        """Only finite figures: cnibench <= schema 4 wrote a non-finite average as null, which must stay readable."""
        if not isinstance(value, dict):
            return value
        return {
            node: {
                name: figure
                for name, figure in (figures or {}).items()
                if isinstance(figure, int | float) and not isinstance(figure, bool) and math.isfinite(figure)
            }
            for node, figures in value.items()
        }

    @model_serializer(mode="wrap")
    def _leave_out_metrics_when_disabled(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("node_metrics") is None and data.get("metrics_error") is None:
            data.pop("node_metrics", None)
            data.pop("metrics_error", None)
        return data
