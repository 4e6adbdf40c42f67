"""What a step decided: the interpreter acts on it and records it as a StepRun."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Go on to the next step.
NEXT = "next"
#: Go into one of the step's branches (``branch`` names it).
BRANCH = "branch"
#: Stay at this step until ``until`` (or an event) and ask it again.
WAIT = "wait"
#: End the enrollment.
EXIT = "exit"


@dataclass
class Outcome:
    """A step's decision and the reason recorded for it."""

    action: str
    #: The StepRun result (``StepRun.Result``).
    result: str
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    branch: str | None = None
    until: datetime | None = None
    message_id: int | None = None
