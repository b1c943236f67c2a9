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
            out, by_owner = [], {}
            for p in found:
                if p["owner"] not in by_owner:
                    by_owner[p["owner"]] = (uow.repo.releases(p["owner"]), uow.repo.files(p["owner"]))
                rels, fls = by_owner[p["owner"]]
                summary = views.package_summary(p, [r for r in rels if r["package"] == p["name"]],
                                                [f for f in fls if f["package"] == p["name"]])
                if rules.matches(summary, package_type, platform):
                    out.append(summary)
            return sorted(out, key=lambda s: s["full_name"])
        return self._query(q)
