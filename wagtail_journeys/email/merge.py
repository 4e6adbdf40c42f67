"""Merge fields: the values an email can show, and the template language that shows them.

Subjects, preheaders, headings, button labels and rich text take Django
template syntax (``{{ contact.first_name|default:"there" }}``), compiled by a
restricted engine: no ``{% load %}``, ``{% include %}`` or ``|safe``, only the
tags and filters an email needs. Templates are checked when an editor saves
(``validate``), so that a typo is a message at the field, not a broken email.

Available merge fields:

- ``contact.first_name``, ``contact.last_name``, ``contact.full_name``,
  ``contact.email`` and ``contact.custom.<key>`` (the contact's custom fields);
- ``site_name``, ``unsubscribe_url``, ``preferences_url``;
- ``context.<key>``: any value passed to ``send_email(..., context=...)``;
  the names in ``WAGTAIL_JOURNEYS["MERGE_FIELDS"]`` can also be used without
  the ``context.`` prefix (``{{ confirm_url }}``).
"""

from __future__ import annotations

import html
import logging
import re
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, TextNode, Variable, VariableNode
from django.utils.translation import gettext as _

from wagtail_journeys.conf import get_setting

logger = logging.getLogger(__name__)

#: Attributes of ``contact`` a template may read.
CONTACT_FIELDS = ("first_name", "last_name", "full_name", "email")
#: Names every email has, besides ``contact`` and ``context``.
BUILTIN_NAMES = ("site_name", "unsubscribe_url", "preferences_url")

#: The template tags merge fields may use.
_TAGS = ("if", "firstof", "now", "comment", "spaceless", "templatetag")
#: Filters that would turn off HTML escaping of contact data.
_UNSAFE_FILTERS = frozenset({"safe", "safeseq"})

register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in _TAGS})
register.filters.update(
    {
        name: function
        for name, function in defaultfilters.register.filters.items()
        if name not in _UNSAFE_FILTERS
    }
)


class _MergeEngine(Engine):
    # Only this module's library: none of Django's default tags.
    default_builtins: list[str] = []


_engine = _MergeEngine(builtins=[__name__], libraries={}, loaders=[])

#: A template tag or variable inside rich text, whose quotes Draftail stored as entities.
_TAG_RE = re.compile(r"\{[{%#].*?[}%#]\}", re.S)


def unescape_tags(source: str) -> str:
    """``source`` (HTML) with the entities inside ``{{ }}`` and ``{% %}`` decoded.

    An editor types ``{{ contact.first_name|default:"there" }}`` in rich text
    and Wagtail stores the quotes as ``&quot;``: decode them before compiling.
    """
    return _TAG_RE.sub(lambda match: html.unescape(match.group(0)), source)


@lru_cache(maxsize=1024)
def compile_template(source: str) -> Template:
    """``source`` compiled by the restricted engine (cached: the same source compiles once).

    Raises TemplateSyntaxError.
    """
    return Template(source, engine=_engine)


def allowed_names() -> list[str]:
    """The merge fields an editor can use, as they are written in a template."""
    names = [f"contact.{name}" for name in CONTACT_FIELDS]
    names += ["contact.custom.<key>", *BUILTIN_NAMES, "context.<key>"]
    names += list(get_setting("MERGE_FIELDS"))
    return names


def _variable_error(lookups: tuple[str, ...]) -> str | None:
    """Why the variable ``lookups`` (``("contact", "first_name")``) is unknown, or None."""
    head, rest = lookups[0], lookups[1:]
    if head == "contact":
        if rest and rest[0] in CONTACT_FIELDS and len(rest) == 1:
            return None
        if len(rest) >= 2 and rest[0] == "custom":
            return None
    elif head == "context":
        if rest:
            return None
    elif head in BUILTIN_NAMES or head in get_setting("MERGE_FIELDS"):
        return None
    return _("Unknown merge field “%(field)s”. Available: %(names)s.") % {
        "field": ".".join(lookups),
        "names": ", ".join(allowed_names()),
    }


def _expressions(node) -> list[FilterExpression]:
    """The filter expressions a node evaluates (its own, not its children's)."""
    found = []
    if isinstance(node, VariableNode):
        found.append(node.filter_expression)
    for condition, _nodelist in getattr(node, "conditions_nodelists", ()):
        found.extend(_condition_expressions(condition))
    found.extend(getattr(node, "vars", ()))  # {% firstof %}
    return found


def _condition_expressions(condition) -> list[FilterExpression]:
    if condition is None:
        return []
    if isinstance(getattr(condition, "value", None), FilterExpression):
        return [condition.value]
    found = []
    for side in ("first", "second"):
        if getattr(condition, side, None) is not None:
            found.extend(_condition_expressions(getattr(condition, side)))
    return found


def _variables(expression: FilterExpression) -> list[Variable]:
    found = []
    if isinstance(expression.var, Variable):
        found.append(expression.var)
    for _function, arguments in expression.filters:
        found.extend(argument for _lookup, argument in arguments if isinstance(argument, Variable))
    return found


def _walk(nodelist):
    for node in nodelist:
        yield node
        # IfNode.nodelist holds the nodes of all its branches.
        for attribute in node.child_nodelists:
            yield from _walk(getattr(node, attribute, None) or [])


def errors(source: str) -> list[str]:
    """What is wrong with ``source`` as a merge template: syntax errors and unknown fields."""
    try:
        template = compile_template(source)
    except TemplateSyntaxError as error:
        return [_("Template syntax error: %(error)s") % {"error": error}]
    found = []
    for node in _walk(template.nodelist):
        if isinstance(node, TextNode) and ("{{" in node.s or "{%" in node.s):
            # Django leaves an unclosed tag as text: the contact would see the braces.
            message = _("A merge field or tag is not closed: check the “}}” or “%}”.")
            if message not in found:
                found.append(message)
        for expression in _expressions(node):
            for variable in _variables(expression):
                if variable.lookups is None:  # a literal: "there", 3
                    continue
                message = _variable_error(variable.lookups)
                if message and message not in found:
                    found.append(message)
    return found


def shows_field(source: str, name: str) -> bool:
    """Whether the merge template ``source`` outputs the context value ``name``.

    That is ``{{ context.<name> }}``, or ``{{ <name> }}`` when ``name`` is one
    of ``MERGE_FIELDS``; a name that is only tested (``{% if confirm_url %}``)
    is not shown. A source that does not compile shows nothing.
    """
    if "{" not in source:
        return False
    try:
        template = compile_template(source)
    except TemplateSyntaxError:
        return False
    wanted = {("context", name)}
    if name in get_setting("MERGE_FIELDS"):
        wanted.add((name,))
    for node in _walk(template.nodelist):
        shown = [node.filter_expression] if isinstance(node, VariableNode) else []
        shown += getattr(node, "vars", ())  # {% firstof %}
        for expression in shown:
            variable = expression.var
            if isinstance(variable, Variable) and tuple(variable.lookups or ()) in wanted:
                return True
    return False


def validate(source: str) -> None:
    """Raise ValidationError (all messages) if ``source`` is not a valid merge template."""
    messages = errors(source)
    if messages:
        raise ValidationError(messages)


def render(source: str, values: dict[str, Any], *, autoescape: bool) -> str:
    """``source`` with its merge fields filled from ``values``.

    With ``autoescape`` (HTML sources) every value is HTML-escaped. A source
    that no longer compiles (saved before validation) is shown as it is
    rather than failing the whole email.
    """
    if "{" not in source:
        return source if autoescape else str.__str__(source)
    try:
        template = compile_template(source)
    except TemplateSyntaxError:
        logger.warning("An email merge template does not compile: %r", source[:200])
        return source if autoescape else str.__str__(source)
    rendered = template.render(Context(values, autoescape=autoescape))
    # Template.render() marks its result safe; unescaped text must not be
    # trusted as HTML by the template it goes into next.
    return rendered if autoescape else str.__str__(rendered)


def contact_values(contact) -> dict[str, Any]:
    """What a template sees as ``contact``: only the fields listed in ``CONTACT_FIELDS``.

    A plain dict, not the model: a template cannot call methods on it.
    """
    custom = contact.custom_fields if isinstance(contact.custom_fields, dict) else {}
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.full_name,
        "email": contact.email or "",
        "custom": custom,
    }


def merge_values(
    contact,
    *,
    site_name: str,
    unsubscribe_url: str,
    preferences_url: str,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of every merge field for one email."""
    context = dict(context or {})
    extra = {name: context[name] for name in get_setting("MERGE_FIELDS") if name in context}
    return {
        **extra,
        "contact": contact_values(contact),
        "site_name": site_name,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "context": context,
    }
