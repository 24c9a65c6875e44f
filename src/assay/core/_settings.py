"""The one home of the confidence level (and the resampling options that go with it): a
:class:`Settings` object that the CLI builds from ``--confidence`` and carries, with the
report, to every analysis it runs."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from assay.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "Settings",
    "accepts_confidence",
    "level_label",
    "resolve_confidence",
]

#: The level of every interval and test unless the user picks another.
DEFAULT_CONFIDENCE = 0.95
#: Bootstrap rounds / resamples unless the user picks another (`assay rank battles`' default).
DEFAULT_RESAMPLES = 1000


def level_label(confidence: float) -> str:
    """A confidence level as text: 0.95 -> '95%', 0.999 -> '99.9%'."""
    pct = 100 * float(confidence)
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.3g}%"


@dataclass(frozen=True)
class Settings:
    """The options every analysis shares: ``confidence_level`` of every interval (and
    1 − it, :attr:`alpha`, the significance level of every test), ``resamples`` (bootstrap
    rounds) and ``seed``. Invalid values are a one-line :class:`~assay.errors.InputError`."""

    confidence_level: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def __post_init__(self) -> None:
        c = self.confidence_level
        if (
            isinstance(c, bool)
            or not isinstance(c, int | float)
            or not (math.isfinite(c) and 0 < c < 1)
        ):
            raise InputError(f"confidence level {c!r}: must be in (0, 1), e.g. 0.95")
        for name in ("resamples", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise InputError(f"{name} must be a whole number >= 0, got {v!r}")
        object.__setattr__(self, "confidence_level", float(c))
        object.__setattr__(self, "resamples", int(self.resamples))
        object.__setattr__(self, "seed", int(self.seed))

    @classmethod
    def from_alpha(cls, alpha: float, **options: int) -> Settings:
        """Settings at confidence 1 − ``alpha`` (a significance level)."""
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise InputError(f"alpha {alpha!r}: must be in (0, 1)")
        return cls(confidence_level=1 - float(alpha), **options)

    @property
    def alpha(self) -> float:
        """The significance level, 1 − confidence level."""
        return 1 - self.confidence_level

    @property
    def label(self) -> str:
        """The level as text: '95%', '99%', '99.9%'."""
        return level_label(self.confidence_level)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "confidence_level": self.confidence_level,
            "resamples": self.resamples,
            "seed": self.seed,
        }


def resolve_confidence(
    confidence: float | None = None,
    *,
    default: float = DEFAULT_CONFIDENCE,
    **aliases: tuple[str, float | None],
) -> float:
    """The one confidence level from an option and its deprecated aliases: ``confidence``
    (given as ``--confidence``) and ``aliases`` as ``name=(kind, value)`` with kind 'alpha'
    (a significance level a, meaning confidence 1 − a) or 'level' (a confidence level). None
    means not given; none given is ``default``. Given values that disagree are a one-line
    :class:`~assay.errors.InputError`; the result is checked to lie in (0, 1)."""
    given = [("--confidence", confidence, confidence)] if confidence is not None else []
    for name, (kind, value) in aliases.items():
        if value is None:
            continue
        if kind not in ("alpha", "level"):
            raise ValueError(f"alias kind {kind!r}: use 'alpha' or 'level'")
        as_level = 1 - float(value) if kind == "alpha" else float(value)
        given.append((f"--{name.replace('_', '-')}", value, as_level))
    for name, value, level in given:
        if not (math.isfinite(level) and 0 < level < 1):
            raise InputError(f"{name} {value}: the confidence level must be in (0, 1)")
    if not given:
        return Settings(confidence_level=default).confidence_level
    first = given[0]
    for other in given[1:]:
        if not math.isclose(other[2], first[2], rel_tol=0, abs_tol=1e-12):
            raise InputError(
                f"{first[0]} {first[1]:g} and {other[0]} {other[1]:g} disagree "
                f"(confidence {first[2]:g} vs {other[2]:g}): give only --confidence"
            )
    return first[2]


def accepts_confidence(param: str = "alpha") -> Callable[[F], F]:
    """A decorator: the function also takes ``confidence=`` (a confidence level in (0, 1)) for
    its own level parameter ``param`` — ``alpha`` (a significance level: 1 − confidence) or a
    confidence level under another name (``level``, ``ci_level``: the same number). Giving both
    with different values is a one-line :class:`~assay.errors.InputError`."""
    as_alpha = param == "alpha"

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        if param not in signature.parameters or "confidence" in signature.parameters:
            raise TypeError(f"{function.__name__}: no {param!r} to map confidence to")

        @functools.wraps(function)
        def run(*args: Any, confidence: float | None = None, **kwargs: Any) -> Any:
            if confidence is not None:
                c = resolve_confidence(confidence)
                value = 1 - c if as_alpha else c
                given = kwargs.get(param)
                if given is not None and not math.isclose(given, value, abs_tol=1e-12):
                    raise InputError(
                        f"confidence={confidence:g} and {param}={given:g} disagree: give one"
                    )
                kwargs[param] = value
            return function(*args, **kwargs)

        params = list(signature.parameters.values())
        extra = inspect.Parameter(
            "confidence", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="float | None"
        )
        at = next(
            (i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD),
            len(params),
        )
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*params[:at], extra, *params[at:]]
        )
        return run  # type: ignore[return-value]

    return decorate
