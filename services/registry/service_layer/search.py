"""Search across every owner (``anaconda search``), as a method of the RegistryService facade."""
from __future__ import annotations

from services.kernel import names
from services.kernel.errors import BadRequest

from ..domain import search as rules
from ..domain import views


def _pairs(values) -> set[tuple[str, str]]:
    out = set()
    for v in values or ():
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise BadRequest("private_packages must be [owner, package] pairs")
        out.add((str(v[0]).lower(), str(v[1])))
    return out


FEW = 20  # up to this many hits in one owner are read package by package


def grouped_by_package(uow, owner: str) -> tuple[dict, dict]:
    """The owner's releases and files, each grouped by package name."""
    rels, fls = {}, {}
    for r in uow.repo.releases(owner):
        rels.setdefault(r["package"], []).append(r)
    for f in uow.repo.file_facets(owner):
        fls.setdefault(f["package"], []).append(f)
    return rels, fls


class SearchMethods:
    def search(self, query: str | None = "", package_type: str | None = None, platform: str | None = None,
               viewer: str | None = None, private_owners=(), private_packages=()) -> list[dict]:
        """Package summaries (as ``list_packages``) of every owner whose name contains ``query``
        (case-insensitive; empty: all), filtered by ``package_type`` (aliases accepted) and conda ``platform``,
        sorted by full_name. Visible: public packages, private ones of ``private_owners``, the [owner, package]
        pairs of ``private_packages``, and those ``viewer`` collaborates on."""
        if query is not None and not isinstance(query, str):
            raise BadRequest("query must be a string")
        query = (query or "").strip()
        owners = {str(o).lower() for o in private_owners or ()}
        pairs = _pairs(private_packages)

        def q(uow):
            collab = set(uow.repo.collaborations(names.login(viewer))) if viewer else set()
            found = [p for p in uow.repo.find_packages(query) if rules.visible(p, owners, pairs, collab)]
            out, per_owner, by_owner = [], {}, {}
            for p in found:
                per_owner[p["owner"]] = per_owner.get(p["owner"], 0) + 1
            for p in found:
                if per_owner[p["owner"]] <= FEW:  # a few hits: read just their releases and files
                    rels = uow.repo.releases(p["owner"], p["name"])
                    fls = uow.repo.file_facets(p["owner"], p["name"])
                else:  # many hits in one owner: read the owner's releases and files once, grouped
                    if p["owner"] not in by_owner:
                        by_owner[p["owner"]] = grouped_by_package(uow, p["owner"])
                    rels, fls = (group.get(p["name"], []) for group in by_owner[p["owner"]])
                summary = views.package_summary(p, rels, fls)
                if rules.matches(summary, package_type, platform):
                    out.append(summary)
            return sorted(out, key=lambda s: s["full_name"])
        return self._query(q)

    def recent(self, limit: int = 10, viewer: str | None = None, private_owners=(), private_packages=()) -> dict:
        """What changed last (the web UI's home page): ``{"packages": [summary, ...], "owners": [{"owner",
        "modified_at", "packages"}, ...]}``, newest first, at most ``limit`` of each. Visible exactly as in
        ``search``: public packages, private ones of ``private_owners``, the [owner, package] pairs of
        ``private_packages``, and those ``viewer`` collaborates on; an owner is listed (and its packages
        counted) only for what the reader may see."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise BadRequest("limit must be an integer from 1 to 100")
        owners = {str(o).lower() for o in private_owners or ()}
        pairs = _pairs(private_packages)
        login = names.login(viewer) if viewer else None

        def q(uow):
            found = uow.repo.recent_packages(limit, owners, pairs, login)
            summaries = [views.package_summary(p, uow.repo.releases(p["owner"], p["name"]),
                                               uow.repo.file_facets(p["owner"], p["name"])) for p in found]
            recent_owners = [{"owner": r["owner"], "modified_at": views.iso(r["modified_at"]),
                              "packages": int(r["packages"])}
                             for r in uow.repo.recent_owners(limit, owners, pairs, login)]
            return {"packages": summaries, "owners": recent_owners}
        return self._query(q)
