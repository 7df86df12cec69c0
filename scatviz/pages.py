"""The pages of the one scatviz app, and the files `panel serve` serves them from.

``scatviz serve`` and ``scripts/serve.sh`` serve every page below whose app file exists, as
pages of one Panel server: ``/dashboard``, ``/why_jtfs``, ``/reconstruction``, ``/digits``,
and ``/explorer`` once ``apps/explorer.py`` is there. Each page's navigation header
(`scatviz.views.nav`) lists the same pages. No web stack is imported here: the CLI reads it.

>>> [p.slug for p in PAGES][:4]
['dashboard', 'why_jtfs', 'reconstruction', 'digits']
>>> app_files()[0].name
'dashboard.py'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Page", "PAGES", "APPS_DIR", "served_pages", "app_files", "page"]

#: The ``apps/`` folder of the repository (beside the package: the install is editable).
APPS_DIR = Path(__file__).resolve().parent.parent / "apps"


@dataclass(frozen=True)
class Page:
    """One page: ``slug`` (its URL path ``/slug`` and its app file ``apps/slug.py``), the
    ``title`` its navigation link shows, and one line saying what it teaches."""

    slug: str
    title: str
    blurb: str
    optional: bool = False      # served only when its file exists (written by another issue)

    def app_file(self, apps_dir: Path | None = None) -> Path:
        return (apps_dir or APPS_DIR) / f"{self.slug}.py"


PAGES: tuple[Page, ...] = (
    Page("dashboard", "Dashboard", "Every view of one signal, with live controls."),
    Page("why_jtfs", "Why JTFS", "Pairs of signals time scattering cannot tell apart, and "
                                 "JTFS can."),
    Page("reconstruction", "Reconstruction", "A signal recovered from its scattering "
                                             "coefficients by gradient descent."),
    Page("digits", "Spoken digits", "Spoken digits classified from scattering features."),
    Page("explorer", "Explorer", "Long recordings and folders, computed with Dask.",
         optional=True),
)


def served_pages(apps_dir: Path | None = None) -> list[Page]:
    """The pages whose app file exists, in navigation order (an optional page without its
    file is left out; a required one raises, saying which file is missing)."""
    out = []
    for p in PAGES:
        if p.app_file(apps_dir).exists():
            out.append(p)
        elif not p.optional:
            raise FileNotFoundError(f"The {p.title} page's app {p.app_file(apps_dir)} is "
                                    "missing: run from a clone of the repository installed "
                                    "with `pip install -e .`.")
    return out


def app_files(apps_dir: Path | None = None) -> list[Path]:
    """The app files to give `panel serve`, one per served page."""
    return [p.app_file(apps_dir) for p in served_pages(apps_dir)]


def page(slug: str) -> Page:
    """The page called ``slug``; ValueError naming the pages when there is none."""
    for p in PAGES:
        if p.slug == slug:
            return p
    raise ValueError(f"No page {slug!r}; the pages are {[p.slug for p in PAGES]}.")
