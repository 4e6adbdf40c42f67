"""Checking a journey as a whole when it is saved, with each error at its field and step."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _stream_errors(field_value) -> ValidationError | None:
    try:
        field_value.stream_block.clean(field_value)
    except ValidationError as error:
        return error
    return None


def describe(error: ValidationError, where: str = "") -> list[str]:
    """Readable lines for a (nested) block validation error: "step 2 › days: Enter…"."""
    lines = []
    nested = getattr(error, "block_errors", None)
    if isinstance(nested, dict):
        for key, child in nested.items():
            label = f"step {key + 1}" if isinstance(key, int) else str(key)
            path = f"{where} › {label}" if where else label
            children = child if isinstance(child, list) else [child]
            for item in children:
                lines.extend(describe(item, path))
    for item in getattr(error, "non_block_errors", None) or []:
        if isinstance(item, ValidationError):
            lines.extend(describe(item, where))
        else:
            lines.append(f"{where}: {item}" if where else str(item))
    if not lines and not isinstance(nested, dict):
        for message in error.messages:
            lines.append(f"{where}: {message}" if where else message)
    return lines


def _missing_ids(steps) -> bool:
    for child in steps:
        if not child.id:
            return True
        for _key, _label, nested in child.block.branches(child.value):
            if _missing_ids(nested or []):
                return True
    return False


def journey_errors(journey) -> dict[str, object]:
    """Field name → error, for ``Journey.clean``.

    The admin form checks each block itself; this also covers journeys made
    in code (templates, the demo, ``new_journey``), so a broken step is
    refused at save, never found at run time.
    """
    errors: dict[str, object] = {}
    for name in ("trigger", "steps", "goals", "entry_rules"):
        error = _stream_errors(getattr(journey, name))
        if error is not None:
            errors[name] = error
    if "steps" not in errors and _missing_ids(journey.steps):
        errors["steps"] = _("Every step needs an id (build steps with journeys.building.block).")
    return errors
