"""[corpus] license: an SPDX id (any case, normalised) or "other" with a name and a link."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.licenses import normalise_license

from .conftest import MINIMAL_TOML, snapshot, write_corpus

Cli = Callable[..., Any]


def with_license(lines: str) -> str:
    assert 'license = "CC-BY-4.0"' in MINIMAL_TOML
    return MINIMAL_TOML.replace('license = "CC-BY-4.0"', lines)


@pytest.mark.parametrize(
    ("given", "stored", "card"),
    [
        ("CC-BY-4.0", "CC-BY-4.0", {"license": "cc-by-4.0"}),
        ("cc-by-4.0", "CC-BY-4.0", {"license": "cc-by-4.0"}),  # the Hub's spelling
        ("cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0", {"license": "cc-by-nc-sa-4.0"}),
        ("mit", "MIT", {"license": "mit"}),
        ("Apache-2.0", "Apache-2.0", {"license": "apache-2.0"}),
        ("CC0-1.0", "CC0-1.0", {"license": "cc0-1.0"}),
        ("odc-by", "ODC-By-1.0", {"license": "odc-by"}),  # a Hub id for one SPDX licence
        ("ODbL-1.0", "ODbL-1.0", {"license": "odbl"}),
        ("GPL-3.0-only", "GPL-3.0-only", {"license": "gpl-3.0"}),
        (
            "EUPL-1.2",  # SPDX, but not in the Hub's list: the card says other, with the SPDX page
            "EUPL-1.2",
            {
                "license": "other",
                "license_name": "EUPL-1.2",
                "license_link": "https://spdx.org/licenses/EUPL-1.2.html",
            },
        ),
    ],
)
def test_spdx_ids_are_accepted_and_normalised(
    tmp_path: Path, given: str, stored: str, card: dict[str, str]
) -> None:
    cfg = load_config(write_corpus(tmp_path / "c", with_license(f'license = "{given}"')))
    assert cfg.corpus.license == stored
    assert cfg.corpus.card_license() == card
    assert cfg.corpus.license_url == f"https://spdx.org/licenses/{stored}.html"
    assert cfg.corpus.license_title == stored


def test_other_with_name_and_link(tmp_path: Path, cli: Cli) -> None:
    lines = (
        'license = "Other"\nlicense_name = "Example Data Licence 1.0"\n'
        'license_link = "https://example.org/licence"'
    )
    root = write_corpus(tmp_path / "c", with_license(lines))
    cfg = load_config(root)
    assert cfg.corpus.license == "other"
    assert cfg.corpus.card_license() == {
        "license": "other",
        "license_name": "Example Data Licence 1.0",
        "license_link": "https://example.org/licence",
    }
    assert cfg.corpus.license_url == "https://example.org/licence"
    assert cfg.corpus.license_title == "Example Data Licence 1.0"
    assert cli("--corpus", root, "validate").exit_code == 0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            'license = "NOT-A-REAL-LICENSE"',
            r":6: corpus.license: 'NOT-A-REAL-LICENSE' is not an SPDX license id; "
            r'or use license = "other" with license_name and license_link$',
        ),
        ('license = "CC-BY-4"', r":6: corpus.license: .* \(did you mean 'CC-BY-4.0'\?\)"),
        ('license = "CC BY 4.0"', r":6: corpus.license: .* \(did you mean 'CC-BY-4.0'\?\)"),
        ('license = "cc_by_sa_4.0"', r":6: corpus.license: .* \(did you mean 'CC-BY-SA-4.0'\?\)"),
        ('license = "Apache 2.0"', r":6: corpus.license: .* \(did you mean 'Apache-2.0'\?\)"),
        ('license = "MIT OR Apache-2.0"', r":6: corpus.license: .* not an expression"),
        ('license = "LicenseRef-mine"', r":6: corpus.license: .* is not an SPDX license id"),
        ('license = "gpl-3.0+"', r":6: corpus.license: 'gpl-3.0\+' is not an SPDX license id"),
        ('license = "bsd"', r":6: corpus.license: 'bsd' is a Hub license family"),
        ('license = "unknown"', r":6: corpus.license: 'unknown' is a Hub license family"),
        ('license = ""', r":6: corpus.license: '' is not an SPDX license id"),
        ("license = 4", r":6: corpus.license: expected str, got int"),
        (
            'license = "other"',
            r':6: corpus.license: license = "other" needs license_name and license_link '
            r"\(missing license_name\)",
        ),
        (
            'license = "other"\nlicense_name = "Mine"',
            r":6: corpus.license: .* \(missing license_link\)",
        ),
        (
            'license = "other"\nlicense_name = "Mine"\nlicense_link = "LICENSE"',
            r":8: corpus.license_link: 'LICENSE' is not an http\(s\) URL",
        ),
        (
            'license = "other"\nlicense_name = "  "\nlicense_link = "https://x.test/l"',
            r":7: corpus.license_name: must not be empty",
        ),
        (
            'license = "MIT"\nlicense_name = "MIT"',
            r':7: corpus.license_name: only with license = "other"',
        ),
        (
            'license = "MIT"\nlicense_link = "https://x.test/l"',
            r':7: corpus.license_link: only with license = "other"',
        ),
    ],
)
def test_refused_licenses(tmp_path: Path, cli: Cli, lines: str, message: str) -> None:
    """validate and gather: exit 2, one line naming the line and the key; nothing written."""
    import re

    root = write_corpus(tmp_path / "c", with_license(lines))
    before = snapshot(root)
    for command in ("validate", "gather"):
        res = cli("--corpus", root, command)
        assert res.exit_code == 2, res.output
        out = res.stderr.strip().splitlines()
        assert len(out) == 1 and out[0].startswith(f"error: {root / 'corpus.toml'}:"), res.stderr
        assert re.search(message, out[0]), out[0]
    assert snapshot(root) == before


def test_every_hub_id_that_is_spdx_round_trips() -> None:
    """A Hub id that is an SPDX id in lower case goes back to the card unchanged."""
    from newscorpus.licenses import HUB_LICENSES, hub_license

    round_trips = 0
    for hub in sorted(HUB_LICENSES):
        try:
            spdx = normalise_license(hub)
        except ValueError:
            continue
        if spdx != "other":
            assert hub_license(spdx, None, None) == {"license": hub}, hub
            round_trips += 1
    assert round_trips > 40


def test_shipped_and_template_licenses_stay_valid() -> None:
    from .conftest import REPO

    assert load_config(REPO / "corpus").corpus.card_license() == {"license": "cc-by-4.0"}
    template = (REPO / "schemas" / "corpus.template.toml").read_text(encoding="utf-8")
    assert 'license = "CC-BY-4.0"' in template
