"""The corpus licence: an SPDX id (checked against the SPDX list ``packaging`` ships) or ``other``.

``packaging`` (PyPA, the library pip itself uses) carries the SPDX licence list for PEP 639 and
updates it with each SPDX release, so the check needs no download and no list kept by hand.
The Hub's card vocabulary (https://huggingface.co/docs/hub/repositories-licenses) is lower-case and
mostly the SPDX id lower-cased; the few Hub-only ids are kept below, with what they map to.
"""

from __future__ import annotations

import difflib
import re

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

OTHER = "other"

# The Hub's license identifiers (docs/hub/repositories-licenses.md, "region licenses"). An SPDX
# id whose lower-case form is here goes to the card as it is; any other SPDX id goes to the card
# as `other` with its name and its spdx.org page.
_HUB_IDS = """
    apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause
    bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0
    cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
    cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
    cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1
    agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by
    odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
    deepfloyd-if-license llama2 gemma unknown other
"""
HUB_LICENSES = frozenset(_HUB_IDS.split())
# Hub ids that name one SPDX licence under another spelling (accepted in corpus.toml too).
HUB_TO_SPDX = {"odc-by": "ODC-By-1.0", "odbl": "ODbL-1.0", "pddl": "PDDL-1.0"}
# SPDX ids the Hub lists under a shorter id.
SPDX_TO_HUB = {
    **{v: k for k, v in HUB_TO_SPDX.items()},
    "GPL-2.0-only": "gpl-2.0",
    "GPL-2.0-or-later": "gpl-2.0",
    "GPL-3.0-only": "gpl-3.0",
    "GPL-3.0-or-later": "gpl-3.0",
    "LGPL-2.1-only": "lgpl-2.1",
    "LGPL-2.1-or-later": "lgpl-2.1",
    "LGPL-3.0-only": "lgpl-3.0",
    "LGPL-3.0-or-later": "lgpl-3.0",
    "AGPL-3.0-only": "agpl-3.0",
    "AGPL-3.0-or-later": "agpl-3.0",
}
_ONE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
NAME_MAX = 200


def _spdx_ids() -> list[str]:
    """Every SPDX licence id packaging knows (for suggestions only; [] if its layout changes)."""
    try:
        from packaging.licenses import _spdx
    except ImportError:  # pragma: no cover - a private module of packaging
        return []
    return [e["id"] for e in _spdx.LICENSES.values() if "+" not in e["id"]]


def _suggestion(value: str) -> str:
    guess = value.strip().replace(" ", "-").replace("_", "-")
    ids = _spdx_ids()
    by_lower = {i.lower(): i for i in ids}
    if guess.lower() in by_lower:
        return f" (did you mean {by_lower[guess.lower()]!r}?)"
    close = difflib.get_close_matches(guess.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def normalise_license(value: str) -> str:
    """The canonical SPDX id of ``value`` (any case), or ``other``; ValueError says why not."""
    raw = value.strip()
    if raw.lower() == OTHER:
        return OTHER
    if raw.lower() in HUB_TO_SPDX:
        return HUB_TO_SPDX[raw.lower()]
    hint = 'use license = "other" with license_name and license_link'
    if not _ONE_ID.match(raw):
        if raw and not raw.startswith("LicenseRef-") and re.search(r"\s(AND|OR|WITH)\s", raw, re.I):
            raise ValueError(f"{value!r}: give one SPDX id, not an expression; or {hint}")
        raise ValueError(f"{value!r} is not an SPDX license id{_suggestion(raw)}; or {hint}")
    try:
        canonical = canonicalize_license_expression(raw)
    except InvalidLicenseExpression:
        if raw.lower() in HUB_LICENSES:  # a Hub family (bsd, cc, gpl) or a model licence
            raise ValueError(
                f"{value!r} is a Hub license family or model license, not one SPDX license id; "
                f"name the exact license{_suggestion(raw)}, or {hint}"
            ) from None
        raise ValueError(
            f"{value!r} is not an SPDX license id{_suggestion(raw)}; or {hint}"
        ) from None
    if canonical.startswith("LicenseRef-") or not _ONE_ID.match(canonical):
        raise ValueError(f"{value!r} is not an SPDX license id; {hint}")
    return canonical


def hub_license(license_id: str, name: str | None, link: str | None) -> dict[str, str]:
    """The dataset card's licence keys: ``license``, plus ``license_name``/``license_link`` for other."""
    if license_id == OTHER:
        return {"license": OTHER, "license_name": name or "", "license_link": link or ""}
    hub = SPDX_TO_HUB.get(license_id, license_id.lower())
    if hub in HUB_LICENSES:
        return {"license": hub}
    return {"license": OTHER, "license_name": license_id, "license_link": spdx_url(license_id)}


def spdx_url(license_id: str) -> str:
    """The licence's page on spdx.org."""
    return f"https://spdx.org/licenses/{license_id}.html"
