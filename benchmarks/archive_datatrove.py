"""The datatrove baseline of bench_archive.py, run in datatrove's own venv (.venv-datatrove).

    .venv-datatrove/bin/python archive_datatrove.py SHARDS PATHS_FILE OUT WORKERS TERMS_JSON

LocalPipelineExecutor(tasks = the shards listed in PATHS_FILE, workers = WORKERS) of
WarcReader -> Trafilatura (its defaults but the timeout) -> LambdaFilter(the topic rule of
newscorpus.gather.topic, copied here: terms folded for case and accents, as whole words;
datatrove's extractor gives the text only, no title) -> JsonlWriter (gzip, one file a task).
Nothing of newscorpus is imported: this venv holds datatrove's pins (trafilatura < 1.12).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from functools import cache
from pathlib import Path


@cache
def _combining_table() -> dict[int, None]:
    return {i: None for i in range(0x110000) if unicodedata.combining(chr(i))}


def fold(text: str) -> str:
    """newscorpus.gather.topic.fold: lower-case and strip accents."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return unicodedata.normalize("NFC", decomposed.translate(_combining_table()))


class TopicRule:
    """newscorpus.gather.topic.TopicMatcher's rule: a folded term as whole words."""

    def __init__(self, terms: list[str]) -> None:
        folded = sorted({fold(t).strip() for t in terms if t.strip()}, key=len, reverse=True)
        alternation = "|".join(r"\s+".join(re.escape(w) for w in f.split()) for f in folded)
        self.pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")

    def __call__(self, doc) -> bool:  # type: ignore[no-untyped-def]
        return self.pattern.search(fold(doc.text)) is not None


# datatrove's default per-page timeout (1 s, which also bounds its extractor process's start-up)
# drops pages on a loaded machine (the first page of a task, mostly): raised so that the kept sets
# compare the extraction and the topic rule, not the machine's load; it costs nothing otherwise.
TIMEOUT = 60


def main() -> int:
    shards, listing, out, workers, terms = sys.argv[1:6]
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import LambdaFilter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    files = Path(listing).read_text(encoding="utf-8").split()
    rule = TopicRule(json.loads(terms))
    executor = LocalPipelineExecutor(
        pipeline=[
            WarcReader(shards, paths_file=listing),
            Trafilatura(timeout=TIMEOUT),
            LambdaFilter(rule),
            JsonlWriter(f"{out}/kept"),
        ],
        tasks=len(files),
        workers=int(workers),
        logging_dir=f"{out}/logs",
        skip_completed=False,
    )
    executor.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
