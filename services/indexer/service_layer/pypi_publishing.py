"""Building the PyPI simple pages of one (owner, label, project) for both audiences: the project's page
(PEP 691 JSON + PEP 503 HTML) or, for ``ROOT``, the label's project list. An audience that sees no file of the
project gets no page (the gateway answers 404, so a private project stays invisible)."""
from __future__ import annotations

from ..domain.keys import AUDIENCES, ROOT, SIMPLE_HTML, SIMPLE_JSON, ProjectKey
from ..domain.ports import IndexRepository
from ..domain.simple import DistFile, project_html, project_json, root_html, root_json

_FIELDS = ("filename", "version", "sha256", "size", "upload_time", "requires_python", "core_metadata_sha256")


def build_pages(repo: IndexRepository, key: ProjectKey) -> dict[str, dict[str, bytes]]:
    """{audience: {"simple.json": bytes, "simple.html": bytes}}; audiences without a page are absent."""
    out: dict[str, dict[str, bytes]] = {}
    if key.project == ROOT:
        pairs = repo.pypi_projects(key.owner, key.label)
        for audience in AUDIENCES:
            projects = sorted({p for p, public in pairs if public or audience == "private"})
            out[audience] = {SIMPLE_JSON: root_json(projects), SIMPLE_HTML: root_html(projects)}
        return out
    rows = repo.pypi_page_files(key)
    for audience in AUDIENCES:
        by_name = {r["filename"]: r for r in rows if r["public"] or audience == "private"}  # later rows win
        if by_name:
            files = [DistFile(**{f: r[f] for f in _FIELDS}) for r in by_name.values()]
            out[audience] = {SIMPLE_JSON: project_json(key.project, files),
                             SIMPLE_HTML: project_html(key.project, files)}
    return out
