"""Package descriptions on the package page: Markdown (CommonMark or GitHub's variant) and reStructuredText are
rendered to HTML by ``readme_renderer``, the library PyPI renders descriptions with (it sanitises its output with
nh3: no scripts, no event handler attributes, only http/https/mailto links); anything else is plain text, which
the template escapes. A description whose reStructuredText does not parse is shown as plain text, as on PyPI.

The content type is the ``Description-Content-Type`` of the upload (``text/markdown; variant=GFM``,
``text/x-rst``, ``text/plain``), kept beside the raw text in the release's or package's attributes
(``description_content_type``). Without one, PyPI releases default to reStructuredText (core metadata's default)
and everything else (conda's ``about.json``, the anaconda CLI) to plain text.
"""
from __future__ import annotations

import functools
from email.message import Message

from markupsafe import Markup

MARKDOWN, RST, PLAIN = "text/markdown", "text/x-rst", "text/plain"
RENDER_CACHE = 128          # rendered descriptions kept per process (the text is at most 64 KiB)


def content_type(value) -> tuple[str, dict[str, str]]:
    """``("text/markdown", {"variant": "GFM", ...})`` from a Description-Content-Type (lower-cased type; an
    unparseable or missing value gives ``("", {})``)."""
    if not isinstance(value, str) or not value.strip():
        return "", {}
    msg = Message()
    msg["Content-Type"] = value[:200]
    params = {k.lower(): str(v) for k, v in (msg.get_params() or [])[1:]}
    return msg.get_content_type().lower() if "/" in value else "", params


@functools.lru_cache(maxsize=RENDER_CACHE)
def _rendered(text: str, mime: str, variant: str) -> str | None:
    from readme_renderer import markdown, rst
    if mime == MARKDOWN:
        return markdown.render(text, variant=variant if variant in ("GFM", "CommonMark") else "GFM")
    if mime == RST:
        return rst.render(text)
    return None


def render(text, declared_type=None, default: str = PLAIN) -> dict | None:
    """``{"html": Markup}`` for Markdown and reStructuredText (sanitised by readme_renderer), ``{"text": str}``
    for plain text (escaped by the template), None when there is no description."""
    if not isinstance(text, str) or not text.strip():
        return None
    mime, params = content_type(declared_type)
    mime = mime or default
    if mime in (MARKDOWN, RST):
        html = _rendered(text, mime, params.get("variant", "GFM"))
        if html and html.strip():
            return {"html": Markup(html), "format": mime}
    return {"text": text, "format": PLAIN}
