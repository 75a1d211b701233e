"""Prompt templates: files under ``rolecall/prompts/<role>/`` with ``{{name}}`` placeholders.

A template is named by its path without the suffix: ``render("user/system", ...)``; the aids for
small models keep theirs under ``assist/``, the embedded client under ``local/``.

A tiny syntax on purpose: prompts are full of JSON braces and ``$1.field`` references, which
``str.format`` and ``string.Template`` would both trip over.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

__all__ = ["render", "template_text"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@functools.cache
def _template(name: str) -> str:
    return resources.files("rolecall.prompts").joinpath(*f"{name}.md".split("/")).read_text(encoding="utf-8")


def render(name: str, **values: object) -> str:
    """Fill template ``name``; every placeholder must be given and every value used."""
    text = _template(name)
    wanted = set(_PLACEHOLDER.findall(text))
    missing, unused = wanted - set(values), set(values) - wanted
    if missing or unused:
        raise KeyError(f"template {name}: missing {sorted(missing)}, unused {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text).strip() + "\n"


def template_text(name: str) -> str:
    """The raw text of template ``name`` (placeholders unfilled)."""
    return _template(name)
