"""The newscorpus command asks polars' jemalloc to hand freed pages back at once (release memory), through
the override polars documents (`_RJEM_MALLOC_CONF`, appended to its own settings when it loads)."""

from __future__ import annotations

import os
import subprocess
import sys

OURS = "dirty_decay_ms:0,muzzy_decay_ms:0"
SHOW = "import os; print(os.environ.get('_RJEM_MALLOC_CONF'))"


def _conf(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def test_the_cli_loaded_first_sets_the_decay_unless_the_builder_set_one() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert _conf(f"import newscorpus.cli; {SHOW}", env) == OURS
    assert _conf(f"import newscorpus.cli, polars; {SHOW}", env).endswith("," + OURS)  # ours last
    builder = {**env, "_RJEM_MALLOC_CONF": "narenas:2"}
    assert _conf(f"import newscorpus.cli; {SHOW}", builder) == "narenas:2"
    # polars loaded first: its allocator read the setting then; newscorpus adds nothing
    assert OURS not in _conf(f"import polars, newscorpus.cli; {SHOW}", env)


def test_the_library_alone_leaves_the_allocator_as_polars_sets_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert _conf(f"import newscorpus; {SHOW}", env) == "None"
