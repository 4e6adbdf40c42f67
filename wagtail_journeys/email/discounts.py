"""Unique discount codes: one per contact and discount block, generated once and kept."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

#: No 0/O or 1/I: codes are read off a screen and typed.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_ATTEMPTS = 5


def new_code(prefix: str) -> str:
    """A random code such as ``SAVE-7KQ2M9XD``."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{prefix.strip().upper()}-{body}" if prefix.strip() else body


def code_for(ctx, prefix: str) -> str:
    """The contact's code for the discount block being rendered (``ctx.block_id``).

    Created on first use and recorded in DiscountCode, so every later render
    for the same contact and block shows the same code. Previews only show
    an existing code, or an example, and write nothing.
    """
    from wagtail_journeys.models import DiscountCode

    cache = ctx.__dict__.setdefault("_discount_codes", {})
    key = (ctx.block_id, prefix)
    if key in cache:
        return cache[key]
    if ctx.is_sample or not ctx.block_id:
        code = f"{prefix.strip().upper() or 'CODE'}-EXAMPLE"
    else:
        existing = DiscountCode.objects.filter(contact=ctx.contact, block_id=ctx.block_id).first()
        if existing is not None:
            code = existing.code
        elif ctx.preview:
            code = f"{prefix.strip().upper() or 'CODE'}-EXAMPLE"
        else:
            code = _create(ctx, prefix)
    cache[key] = code
    return code


def _create(ctx, prefix: str) -> str:
    from wagtail_journeys.models import DiscountCode

    template_id = getattr(ctx.template, "pk", None)
    for _attempt in range(_ATTEMPTS):
        try:
            with transaction.atomic():
                return DiscountCode.objects.create(
                    contact=ctx.contact,
                    block_id=ctx.block_id,
                    code=new_code(prefix),
                    template_id=template_id,
                ).code
        except IntegrityError:
            # Either another render created this contact's code at the same
            # moment (use it), or the random code was taken (try another).
            existing = DiscountCode.objects.filter(
                contact=ctx.contact, block_id=ctx.block_id
            ).first()
            if existing is not None:
                return existing.code
    raise RuntimeError("Could not generate a unique discount code.")
