"""How a comparison is written, the same in every place that shows it (terminal, Markdown, HTML, ``compare``): the
outcome's symbol, a change as a percentage capped where an interval says only that the design cannot bound it, the
interval, the adjusted p-value, the detectable effect, a ratio with the digits that keep it off 1."""

from __future__ import annotations

from cnibench.results.analysis import percent
from cnibench.results.inference import Judgement
from cnibench.results.metric import MetricInfo

#: A comparison's outcome as one symbol (terminal, Markdown, HTML): ``≠`` different, ``≈`` equivalent, ``?``
#: inconclusive.
SYMBOLS = {"different": "≠", "equivalent": "≈", "inconclusive": "?"}


#: Relative changes beyond this (a fraction: 1000 %) are shown as "over 1000 %": an interval that wide says only
#: that the design cannot bound the change.
SHOWN_CHANGE = 10.0


def amount(change: float) -> str:
    """``|change|`` as a percentage, ``over 1000 %`` beyond :data:`SHOWN_CHANGE`."""
    return f"over {SHOWN_CHANGE:.0%}".replace("%", " %") if abs(change) > SHOWN_CHANGE else percent(abs(change))


def words_of(metric: MetricInfo, change: float) -> str:
    """``17.0 % slower``, ``0.2 % faster``; ``within 0.05 %`` for a change too small to have a direction."""
    if abs(change) < 0.0005:
        return "within 0.05 % of"
    return f"{amount(change)} {metric.words[0] if change > 0 else metric.words[1]} than"


def detectable(mde: float) -> str:
    """A minimum detectable effect (a fraction) in words: ``detects differences of about 14 % or more``,
    ``detects no difference below 1000 %``."""
    if abs(mde) > SHOWN_CHANGE:
        return f"detects no difference below {SHOWN_CHANGE:.0%}".replace("%", " %")
    return f"detects differences of about {percent(mde, 0)} or more"


def interval_text(metric: MetricInfo, low: float, high: float) -> str:
    """An interval of ratios as changes: ``9.0 to 24.0 % slower`` or ``3.1 % faster to 9.1 % slower``."""
    lo, hi = low - 1, high - 1
    if lo * hi > 0:
        near, far = sorted((abs(lo), abs(hi)))
        word = metric.words[0] if lo > 0 else metric.words[1]
        return f"{amount(near).removesuffix(' %')} to {amount(far)} {word}"

    def one(change: float) -> str:
        return f"{amount(change)} {metric.words[0] if change > 0 else metric.words[1]}"

    return f"{one(lo)} to {one(hi)}"


def p_text(j: Judgement) -> str:
    """``p = 0.003 adjusted over 4 tests`` (Bonferroni); ``p = 0.003`` in a family of one."""
    p = j.p_adjusted
    if p is None:
        return ""
    shown = "< 0.001" if p < 0.001 else f"= {p:.3f}"
    return f"p {shown}" + (f" adjusted over {j.family} tests" if j.family > 1 else "")


def ci_text(metric: MetricInfo, j: Judgement, unit: str = "") -> str:
    """``95 % CI 9.0 to 24.0 % slower`` (simultaneous over the family); in the metric's unit when the comparison
    has no ratio (a linear metric whose reference is not positive)."""
    level = percent(j.ci_level, 0)
    ci = j.ci
    if ci is not None:
        return f"{level} CI {interval_text(metric, *ci)}"
    if j.low is None or j.high is None:
        return ""
    return f"{level} CI {metric.show(j.low)} to {metric.show(j.high)}{unit}"


def change_cell(j: Judgement) -> str:
    """A comparison in a cell: ``-17.0 % [-24.0, -9.0]`` (the estimate and its interval as changes), ``n/a`` when
    it is not testable."""
    change, ci = j.change, j.ci
    if change is None or ci is None:
        return "n/a"

    def one(value: float) -> str:  # capped as in the sentences (:data:`SHOWN_CHANGE`)
        return (
            f"{'+' if value > 0 else '-'}>{SHOWN_CHANGE * 100:.0f}"
            if abs(value) > SHOWN_CHANGE
            else f"{value * 100:+.1f}"
        )

    return f"{one(change)} % [{one(ci[0] - 1)}, {one(ci[1] - 1)}]"


def ratio_text(value: float) -> str:
    """A ratio with three decimals, or as many more (up to six) as it takes not to show a ratio other than 1 as 1:
    ``0.972``, ``0.9997`` (an interval that ends there excludes 1, and must not seem to reach it)."""
    if value > 1000:
        return "over 1000"
    for digits in range(3, 7):
        text = f"{value:.{digits}f}"
        if value == 1.0 or float(text) != 1.0:
            return text
    return text
