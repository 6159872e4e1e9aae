"""Archive benchmark (issue 14): `newscorpus gather` on WARC shards against datatrove.

Shards are generated here (warcio, one gzip member a record as Common Crawl writes them, a
warcinfo record first): synthetic news pages (marked `<meta name="synthetic" content="true">`, not
real news) of 50-100 KB of HTML each (head with the meta tags news sites write -- og:site_name,
author, article:published_time -- and inline CSS and scripts, navigation menu, cookie
banner, an article of several paragraphs in es, fr or en, a related-links aside, HTML comments, a
footer, part of the site's script bundle inlined), every page distinct. On-topic pages hold one
term of TERMS in a paragraph of the article; off-topic pages hold none anywhere (scripts and meta
included: the prefilter looks there). Two data sets, cached under .bench-cache/archive/<params>/
(gitignored; `--generate` only makes them):
- "1%": NEWSCORPUS_BENCH_ARCHIVE_RECORDS (100,000) records in shards of
  NEWSCORPUS_BENCH_ARCHIVE_PER_SHARD (2,000), exactly 1% on topic;
- "100%": NEWSCORPUS_BENCH_ARCHIVE_ALL_RECORDS (2,000: records/s is a rate) records, all on
  topic, in shards of a quarter of that size (so that the workers stay busy to the end).
Runs, each a subprocess timed by the wall clock:
- datatrove 0.10.1 in its own venv, .venv-datatrove (made here with uv; its pins, trafilatura
  < 1.12, clash with ours): LocalPipelineExecutor(tasks = shards, workers =
  NEWSCORPUS_BENCH_ARCHIVE_WORKERS (2)) of WarcReader -> Trafilatura -> LambdaFilter(our topic
  rule, copied) -> JsonlWriter (benchmarks/archive_datatrove.py). On the 1% set it reads the first
  NEWSCORPUS_BENCH_ARCHIVE_DATATROVE_SHARDS (2) shards only: it extracts every page whatever the
  share on topic, so its records/s is the same on fewer, and the full set would take it most of
  an hour here;
- ours: `newscorpus gather` (the real CLI) into a fresh corpus with one warc source (a glob over
  the shards), the same number of workers, executor local; on the 1% set also executor ray (a
  local Ray instance: RAY_ADDRESS unset; the archive case, where its start, a fixed ~10 s here,
  is what it is at scale) into another fresh corpus. The driver's RSS (the gather
  process only, not its workers) and CPU time are polled from /proc.
Checked: the kept URL sets of ours and datatrove's are equal (on the shards datatrove read); the
Ray corpus's articles files equal the local one's, ignoring fetched_at. The corpora and logs of
the last run stay in .bench-cache/archive/runs/. At the default sizes it writes what it prints
into docs/archive-bench.md (`--no-write` only prints). Progress goes to stderr.
"""

from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from docs_block import REPO, run_recorded

RECORDS = int(os.environ.get("NEWSCORPUS_BENCH_ARCHIVE_RECORDS", "100000"))
PER_SHARD = int(os.environ.get("NEWSCORPUS_BENCH_ARCHIVE_PER_SHARD", "2000"))
ALL_RECORDS = int(os.environ.get("NEWSCORPUS_BENCH_ARCHIVE_ALL_RECORDS", str(RECORDS // 50)))
WORKERS = int(os.environ.get("NEWSCORPUS_BENCH_ARCHIVE_WORKERS", "2"))
# datatrove on the 1% set: the first DT_SHARDS shards (it extracts every page whatever the share on
# topic, so its records/s is the same on fewer; the kept sets are compared on those shards)
DT_SHARDS = int(os.environ.get("NEWSCORPUS_BENCH_ARCHIVE_DATATROVE_SHARDS", "2"))
DEFAULTS = (100_000, 2000, 2000, 2, 2)
CACHE = REPO / ".bench-cache" / "archive"
DATATROVE_VENV = REPO / ".venv-datatrove"
DATATROVE = "datatrove==0.10.1"
BIN = Path(sys.executable).parent

# The bench corpus's [topic] any (a few of corpus/corpus.toml's, one multi-word).
TERMS = ["fentanyl", "fentanilo", "cártel", "narcotráfico", "Sheinbaum", "crime organisé"]
ON_TOPIC_TERMS = {
    "es": ["fentanilo", "cártel", "narcotráfico", "Sheinbaum"],
    "fr": ["fentanyl", "crime organisé", "Sheinbaum"],
    "en": ["fentanyl", "Sheinbaum"],
}
# CC-NEWS, one month: the documents of CC-NEWS-2024-05 in FineNews-unfiltered (the dataset card
# of huggingface.co/datasets/maxidl/FineNews-unfiltered; records that extracted to text, so the
# month has at least this many HTML records). Cited in docs/archive-bench.md.
CC_NEWS_MONTH = 11_715_084
NODES = 10

# --- synthetic pages ----------------------------------------------------------------------------

WORDS = {
    "es": str.split(
        "el la los las de del que y en un una por para con sin sobre entre desde hasta se su sus "
        "al lo como más pero también ya muy este esta estos estas ese esa otro otra años año día "
        "gobierno ciudad país estado presidente ministro diputados senado ley reforma proyecto "
        "informe datos cifras mercado empresa empresas precio precios inflación empleo salario "
        "trabajadores escuela maestros alumnos hospital salud médicos agua lluvia calor sequía "
        "campo cosecha maíz carretera obra puente tren metro transporte vecinos colonia barrio "
        "alcalde municipio elecciones partido votos campaña debate acuerdo reunión semana mes "
        "lunes martes miércoles jueves viernes sábado domingo mañana tarde noche según dijo "
        "afirmó explicó señaló anunció aseguró indicó donde cuando porque aunque mientras durante "
        "nuevo nueva grande pequeño primer primera último última importante público pública "
        "nacional local regional social económico política historia cultura música fútbol equipo"
    ),
    "fr": str.split(
        "le la les de des du que et en un une pour par avec sans sur entre depuis jusqu se son sa "
        "ses au aux comme plus mais aussi déjà très ce cette ces autre autres ans année jour "
        "gouvernement ville pays état président ministre députés sénat loi réforme projet rapport "
        "données chiffres marché entreprise entreprises prix inflation emploi salaire salariés "
        "école enseignants élèves hôpital santé médecins eau pluie chaleur sécheresse campagne "
        "récolte blé route travaux pont train métro transports habitants quartier maire commune "
        "élections parti voix débat accord réunion semaine mois lundi mardi mercredi jeudi "
        "vendredi samedi dimanche matin soir nuit selon a déclaré expliqué souligné annoncé "
        "assuré indiqué où quand parce lorsque pendant nouveau nouvelle grand petit premier "
        "première dernier dernière important public publique national local régional social "
        "économique politique histoire culture musique football équipe"
    ),
    "en": str.split(
        "the a an of to and in on for with without about between from until it its their his her "
        "as more but also already very this that these those other years year day government "
        "city country state president minister lawmakers senate law reform project report data "
        "figures market company companies price prices inflation jobs wages workers school "
        "teachers students hospital health doctors water rain heat drought farm harvest wheat "
        "road works bridge train subway transport residents neighborhood mayor council elections "
        "party votes campaign debate agreement meeting week month Monday Tuesday Wednesday "
        "Thursday Friday Saturday Sunday morning afternoon night according said told explained "
        "noted announced added where when because although while during new large small first "
        "last important public national local regional social economic political history "
        "culture music football team"
    ),
}
SECTIONS = {
    "es": ["Nacional", "Estados", "Economía", "Mundo", "Deportes", "Cultura", "Opinión", "Ciencia"],
    "fr": ["France", "Monde", "Économie", "Société", "Sport", "Culture", "Idées", "Sciences"],
    "en": ["Nation", "World", "Business", "Politics", "Sports", "Culture", "Opinion", "Science"],
}
SITES = 12  # site templates: 4 a language
_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class DataSet:
    name: str  # "1%" or "100%"
    records: int
    per_shard: int
    on_topic: int  # how many records are on topic, exactly

    @property
    def shards(self) -> int:
        return -(-self.records // self.per_shard)

    @property
    def folder(self) -> Path:
        tag = "all" if self.on_topic == self.records else "1pct"
        return CACHE / f"{tag}-{self.records}x{self.per_shard}-on{self.on_topic}-v4"


def _tokens(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_HEX, k=n))


def _site(n: int) -> dict[str, str]:
    """The parts of site ``n`` that every page of it shares (CSS, scripts, menu, footer)."""
    rng = random.Random(1000 + n)
    lang = ("es", "fr", "en")[n % 3]
    words = WORDS[lang]
    host = f"site{n:02d}-{lang}.news.example"
    css = "".join(
        f".c{i}{{margin:{rng.randint(0, 40)}px;color:#{_tokens(rng, 6)};"
        f"font-size:{rng.randint(10, 30)}px}}"
        for i in range(rng.randint(150, 300))
    )
    js = "".join(
        f"function f{i}(a,b){{var k='{_tokens(rng, 12)}';return a*{i}+b.length;}}"
        for i in range(rng.randint(100, 250))
    )
    menu = "".join(
        f'<li class="menu-item"><a href="https://{host}/{s.lower()}/">{s}</a><ul>'
        + "".join(
            f'<li><a href="https://{host}/{s.lower()}/{w}/">{w.title()}</a></li>'
            for w in rng.sample(words, 8)
        )
        + "</ul></li>"
        for s in SECTIONS[lang]
    )
    footer = "".join(
        f'<a href="https://{host}/p/{_tokens(rng, 6)}">{" ".join(rng.sample(words, 2))}</a> '
        for _ in range(rng.randint(60, 120))
    )
    # the site's script bundle, inlined in part by each page (sizes vary as ads and widgets do)
    bundle = "".join(
        f"w.q{i}=function(e){{return e.{rng.choice(['id', 'src', 'slot', 'ts'])}||"
        f"'{rng.randbytes(rng.randint(4, 24)).hex()}';}};"
        for i in range(1800)
    )
    return {
        "lang": lang,
        "host": host,
        "css": css,
        "js": js,
        "menu": menu,
        "footer": footer,
        "bundle": bundle,
    }


def _sentence(rng: random.Random, words: list[str]) -> str:
    s = " ".join(rng.choices(words, k=rng.randint(10, 24)))
    return s[0].upper() + s[1:] + "."


def make_page(rng: random.Random, site: dict[str, str], i: int, term: str | None) -> bytes:
    """Page ``i`` of ``site``: 50-100 KB of HTML; ``term`` in a paragraph when on topic."""
    lang, host = site["lang"], site["host"]
    words = WORDS[lang]
    target = rng.randint(50_000, 100_000)
    title = " ".join(rng.choices(words, k=rng.randint(6, 10))).capitalize()
    paras = [
        " ".join(_sentence(rng, words) for _ in range(rng.randint(3, 6)))
        for _ in range(rng.randint(6, 12))
    ]
    if term is not None:
        ws = paras[1].split(" ")
        k = rng.randrange(1, len(ws))
        paras[1] = " ".join([*ws[:k], term, *ws[k:]])
    author = f"{rng.choice(words).title()} {rng.choice(words).title()}"
    published = (
        f"2024-05-{rng.randint(1, 31):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
    )
    related = "".join(
        f'<li><a href="https://{host}/n/{rng.randrange(10**9)}.html">'
        f"{' '.join(rng.choices(words, k=7)).capitalize()}</a></li>"
        for _ in range(10)
    )
    head = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="synthetic" content="true">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        f'<meta property="og:site_name" content="{host}">'
        f'<meta name="author" content="{author}">'
        f'<meta property="article:published_time" content="{published}">'
        f"<style>{site['css']}</style><script>{site['js']}</script>"
        f"<!-- page {i} built {_tokens(rng, 16)} --></head><body>"
        f'<header><div class="logo"><a href="https://{host}/">{host}</a></div>'
        f'<nav class="main-menu"><ul>{site["menu"]}</ul></nav></header>'
        f'<div class="cookie-banner"><p>Cookies.</p><button>OK</button></div>'
        f'<main><article><h1>{title}</h1><div class="byline">{author}</div>'
        f'<time datetime="{published}">{published[:10]}</time>'
        + "".join(f"<p>{p}</p>" for p in paras)
        + f'</article><aside class="related"><ul>{related}</ul></aside></main>'
        f'<footer><div class="links">{site["footer"]}</div><p>© {host}</p></footer>'
    )
    tail = "</body></html>"
    pad = max(0, target - len(head.encode()) - len(tail) - len("<script></script>"))
    at = rng.randrange(len(site["bundle"]) - pad) if pad else 0
    payload = f"<script>{site['bundle'][at : at + pad]}</script>" if pad else ""
    return (head + payload + tail).encode("utf-8")


def page_url(site: dict[str, str], shard: int, n: int) -> str:
    return f"https://{site['host']}/n/{shard:03d}/{n:05d}.html"


def write_shard(job: tuple[Path, int, int, frozenset[int], int]) -> Path:
    """Shard ``s`` of a data set: records [first, first + count), those in ``on`` on topic."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    folder, s, first, on, count = job
    rng = random.Random(f"shard-{s}-{first}")
    sites = [_site(n) for n in range(SITES)]
    final = folder / f"SYNTH-NEWS-{s:05d}.warc.gz"
    part = final.with_suffix(".part")
    with part.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(final.name, {"software": "bench_archive (synthetic)"})
        )
        for n in range(first, first + count):
            site = sites[n % SITES]
            term = rng.choice(ON_TOPIC_TERMS[site["lang"]]) if n in on else None
            body = make_page(rng, site, n, term)
            http = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            rec = writer.create_warc_record(
                page_url(site, s, n),
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Identified-Payload-Type": "text/html"},
            )
            writer.write_record(rec)
    part.rename(final)
    return final


def ensure_data(ds: DataSet) -> Path:
    """The shards of ``ds``, generated once (in WORKERS processes) and kept in the cache."""
    folder = ds.folder
    done = folder / "done.json"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    on = set(random.Random(f"on-{ds.records}-{ds.on_topic}").sample(range(ds.records), ds.on_topic))
    jobs = []
    for s in range(ds.shards):
        first = s * ds.per_shard
        count = min(ds.per_shard, ds.records - first)
        mine = frozenset(n for n in on if first <= n < first + count)
        jobs.append((folder, s, first, mine, count))
    t0 = time.perf_counter()
    log(f"generating {ds.name}: {ds.records:,} records in {ds.shards} shards into {folder}")
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        for k, _ in enumerate(pool.imap_unordered(write_shard, jobs), start=1):
            if k % max(1, ds.shards // 10) == 0 or k == ds.shards:
                log(f"  {k}/{ds.shards} shards ({time.perf_counter() - t0:.0f} s)")
    done.write_text(json.dumps({"records": ds.records, "on_topic": ds.on_topic}), "utf-8")
    return folder


# --- runs --------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def _any_file(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


@dataclass
class Driver:
    """What the poller saw of the gather process (the driver; not its workers): RSS in MB when it
    took the corpus (its .newscorpus/ folder appeared: imports done, config read), after its
    first shard (a marker written), at its peak (VmHWM); CPU seconds then and at the end."""

    pid: int
    start_rss: float = 0.0
    start_cpu: float = 0.0
    first_shard_rss: float = 0.0
    peak_rss: float = 0.0
    cpu: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def poll(self, root: Path) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        markers = root / ".newscorpus" / "shards" / "archive"
        while not self.stop.is_set():
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                stat = Path(f"/proc/{self.pid}/stat").read_text()
            except OSError:
                return
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
            hwm = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
            parts = stat.rsplit(")", 1)[1].split()
            cpu = (int(parts[11]) + int(parts[12])) / tick  # utime + stime, not children's
            if hwm:
                self.peak_rss = max(self.peak_rss, hwm)
                self.cpu = cpu
            if not self.start_rss and (root / ".newscorpus").is_dir():
                self.start_rss, self.start_cpu = rss, cpu
            if not self.first_shard_rss and _any_file(markers):
                self.first_shard_rss = rss
            time.sleep(0.1)


@dataclass
class Run:
    seconds: float
    kept: set[str]  # URLs
    driver: Driver | None = None
    root: Path | None = None
    rejected: int = 0
    records: int = 0


def ensure_datatrove() -> Path:
    """datatrove's own venv (its pins clash with ours), made once with uv."""
    py = DATATROVE_VENV / "bin" / "python"
    stamp = DATATROVE_VENV / ".installed"
    if not stamp.exists():
        log(f"making {DATATROVE_VENV.name} with {DATATROVE}")
        uv = BIN / "uv"
        if not py.exists():
            subprocess.run(
                [str(uv), "venv", "-q", "-p", sys.executable, str(DATATROVE_VENV)], check=True
            )
        subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "-q",
                "-p",
                str(py),
                f"{DATATROVE.replace('==', '[io,processing]==')}",
            ],
            check=True,
        )
        stamp.touch()
    return py


def run_datatrove(py: Path, shards: Path, files: list[str], work: Path) -> Run:
    """datatrove on ``files`` (names of shards in ``shards``), one task a file."""
    out = work / f"datatrove-{shards.name}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    listing = out / "paths.txt"
    listing.write_text("".join(f"{f}\n" for f in files), encoding="utf-8")
    script = REPO / "benchmarks" / "archive_datatrove.py"
    with (out / "log.txt").open("wb") as logf:
        t0 = time.perf_counter()
        code = subprocess.call(
            [
                str(py),
                str(script),
                str(shards),
                str(listing),
                str(out),
                str(WORKERS),
                json.dumps(TERMS),
            ],
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
        seconds = time.perf_counter() - t0
    if code:
        raise SystemExit(f"datatrove failed ({code}): see {out / 'log.txt'}")
    kept = set()
    for f in (out / "kept").glob("*.jsonl.gz"):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            kept.update(json.loads(line)["metadata"]["url"] for line in fh)
    return Run(seconds, kept)


CORPUS_TOML = """[corpus]
name = "archive-bench"
pretty_name = "Archive benchmark"
description = "Synthetic pages for a benchmark."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "t"
text = "A target."

[topic]
any = {terms}

[[sources]]
name = "archive"
kind = "warc"
path = "{glob}"

[gather]
workers = {workers}
executor = "{executor}"
"""


def run_ours(shards: Path, work: Path, executor: str, *, watch: bool) -> Run:
    root = work / f"corpus-{executor}-{shards.name}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "articles").mkdir(parents=True)
    toml = CORPUS_TOML.format(
        terms=json.dumps(TERMS, ensure_ascii=False),
        glob=f"{shards}/*.warc.gz",
        workers=WORKERS,
        executor=executor,
    )
    (root / "corpus.toml").write_text(toml, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "NEWSCORPUS_WORKERS")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    with (work / f"gather-{executor}-{shards.name}.log").open("wb") as logf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(BIN / "newscorpus"), "--corpus", str(root), "gather"],
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
        )
        driver = Driver(proc.pid)
        poller = None
        if watch:
            poller = threading.Thread(target=driver.poll, args=(root,), daemon=True)
            poller.start()
        code = proc.wait()
        seconds = time.perf_counter() - t0
        driver.stop.set()
        if poller is not None:
            poller.join()
    if code:
        raise SystemExit(f"gather ({executor}) failed ({code}): see {logf.name}")
    kept = set()
    for f in (root / "articles").glob("*.jsonl"):
        kept.update(json.loads(line)["url"] for line in f.read_text("utf-8").splitlines())
    rejected = (
        sum(1 for _ in (root / "rejected.jsonl").open("rb"))
        if (root / "rejected.jsonl").exists()
        else 0
    )
    return Run(seconds, kept, driver if watch else None, root, rejected)


def articles_without_clock(root: Path) -> dict[str, list[dict[str, object]]]:
    out = {}
    for f in sorted((root / "articles").glob("*.jsonl")):
        rows = [json.loads(line) for line in f.read_text("utf-8").splitlines()]
        for r in rows:
            r.pop("fetched_at", None)
        out[f.name] = rows
    return out


def shard_of(url: str) -> int:
    """The shard number in a page URL (page_url)."""
    return int(url.rsplit("/", 2)[1])


def main() -> int:
    spread = 2 * WORKERS  # at least two shards a worker
    one = DataSet("1%", RECORDS, min(PER_SHARD, max(1, RECORDS // spread)), max(1, RECORDS // 100))
    every = DataSet(
        "100%", ALL_RECORDS, min(PER_SHARD // 4, max(1, ALL_RECORDS // spread)), ALL_RECORDS
    )
    if "--generate" in sys.argv:  # only make the data sets (cached)
        for ds in (one, every):
            ensure_data(ds)
        return 0
    print(f"{os.cpu_count()} cores; load average before the run: {load()}")
    py = ensure_datatrove()
    folders = {ds.name: ensure_data(ds) for ds in (one, every)}
    for ds in (one, every):
        size = sum(f.stat().st_size for f in folders[ds.name].glob("*.warc.gz"))
        print(
            f"data set {ds.name}: {ds.records:,} synthetic records of 50-100 KB of HTML in"
            f" {ds.shards} gzip WARC shards ({size / 1e9:.2f} GB), {ds.on_topic:,} on topic"
        )
    dt_shards = min(DT_SHARDS, one.shards)
    print(
        f"{WORKERS} workers each: datatrove 0.10.1 (own venv; trafilatura < 1.12, its pin) with"
        f" tasks = shards; newscorpus gather (CLI) with executor local; on the 1% set also"
        f" executor ray (a local Ray instance) into a fresh corpus"
    )
    print(
        f"datatrove on the 1% set reads its first {dt_shards} shards"
        f" ({dt_shards * one.per_shard:,} records: it extracts every page whatever the share on"
        f" topic); the kept sets are compared on those shards"
    )
    results: dict[str, dict[str, Run]] = {}
    work = CACHE / "runs"  # the corpora and logs of the last run, kept to inspect
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for ds in (every, one):
        shards = folders[ds.name]
        files = sorted(f.name for f in shards.glob("*.warc.gz"))
        if ds is one:
            files = files[:dt_shards]
        runs: dict[str, Run] = {}
        log(f"[{ds.name}] datatrove on {len(files)} shards ... (load {load()})")
        runs["datatrove"] = run_datatrove(py, shards, files, work)
        runs["datatrove"].records = min(ds.records, len(files) * ds.per_shard)
        log(f"  {runs['datatrove'].seconds:.1f} s")
        for executor in ("local", "ray") if ds is one else ("local",):
            log(f"[{ds.name}] newscorpus gather, executor {executor} ... (load {load()})")
            runs[executor] = run_ours(shards, work, executor, watch=executor == "local")
            runs[executor].records = ds.records
            log(f"  {runs[executor].seconds:.1f} s")
        results[ds.name] = runs
    ok = report(one, every, dt_shards, results)
    return 0 if ok else 1


def report(
    one: DataSet, every: DataSet, dt_shards: int, results: dict[str, dict[str, Run]]
) -> bool:
    ok = True
    print(f"{'data set':9} {'run':20} {'records':>8} {'wall s':>8} {'records/s':>10} {'kept':>6}")
    for ds in (every, one):
        for name, run in results[ds.name].items():
            label = "datatrove" if name == "datatrove" else f"newscorpus {name}"
            print(
                f"{ds.name:9} {label:20} {run.records:8,} {run.seconds:8.1f}"
                f" {run.records / run.seconds:10,.1f} {len(run.kept):6,}"
            )
    for ds, goal in ((every, 1.0), (one, 5.0)):
        runs = results[ds.name]
        dt, ours = runs["datatrove"], runs["local"]
        ratio = (ours.records / ours.seconds) / (dt.records / dt.seconds)
        mine = ours.kept if ds is every else {u for u in ours.kept if shard_of(u) < dt_shards}
        same = mine == dt.kept
        met = ratio >= goal and same and len(ours.kept) == ds.on_topic
        ok = ok and met
        print(
            f"{ds.name} on topic: ours {ratio:.2f}x datatrove's records/s (goal >= {goal:.0f}x);"
            f" ours kept {len(ours.kept):,} of {ds.on_topic:,} on topic;"
            f" kept URL sets equal: {'yes' if same else 'NO'} ({len(dt.kept):,} pages):"
            f" {'met' if met else 'NOT met'}"
        )
    local, ray = results[one.name]["local"], results[one.name]["ray"]
    assert ray.root is not None and local.root is not None
    ray_ratio = ray.seconds / local.seconds
    same_corpus = articles_without_clock(ray.root) == articles_without_clock(local.root)
    met = ray_ratio <= 1.3 and same_corpus and ray.rejected == local.rejected
    ok = ok and met
    print(
        f"Ray vs local executor on the 1% shards: {ray_ratio:.2f}x the wall time (goal <= 1.3x);"
        f" articles files equal ignoring fetched_at: {'yes' if same_corpus else 'NO'};"
        f" rejections {ray.rejected:,} and {local.rejected:,}: {'met' if met else 'NOT met'}"
    )
    local = results[one.name]["local"]
    d = local.driver
    assert d is not None
    print(
        f"driver (the gather process, not its workers), 1% run: RSS {d.start_rss:.0f} MB at start,"
        f" {d.first_shard_rss:.0f} MB after its first shard, peak {d.peak_rss:.0f} MB;"
        f" CPU {d.cpu - d.start_cpu:.1f} s after start ({(d.cpu - d.start_cpu) / one.records * 1e6:.0f} µs a record)"
    )
    d_all = results[every.name]["local"].driver
    assert d_all is not None
    print(
        f"driver, 100% run: peak RSS {d_all.peak_rss:.0f} MB; CPU {d_all.cpu - d_all.start_cpu:.1f} s"
        f" after start ({(d_all.cpu - d_all.start_cpu) / every.records * 1e3:.2f} ms a kept record)"
    )
    rate = one.records / local.seconds
    busy = d.cpu - d.start_cpu
    driver_cap = one.records / busy if busy > 0 else float("inf")
    many = min(NODES * rate, driver_cap)
    limit = "the driver" if driver_cap < NODES * rate else "the shard work"
    print(
        f"projection, one CC-NEWS month (>= {CC_NEWS_MONTH:,} HTML records, see below) at 1% on"
        f" topic: {CC_NEWS_MONTH / rate / 3600:.1f} h on this machine ({rate:,.0f} records/s);"
        f" {CC_NEWS_MONTH / many / 3600:.1f} h on {NODES} like it ({many:,.0f} records/s:"
        f" shard tasks x{NODES}; the driver's measured CPU per record caps it at"
        f" {driver_cap:,.0f} records/s; the limit is {limit})"
    )
    print(f"load average after the run: {load()}")
    return ok


if __name__ == "__main__":
    sizes = (RECORDS, PER_SHARD, ALL_RECORDS, WORKERS, DT_SHARDS)
    # --generate only makes the data: nothing measured, the docs' figures stay
    write = not {"--no-write", "--generate"} & set(sys.argv) and sizes == DEFAULTS
    doc = REPO / "docs" / "archive-bench.md"
    sys.exit(run_recorded(main, doc, "bench_archive", write=write))
