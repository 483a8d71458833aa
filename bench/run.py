"""`make bench`: Nära against stock Rasa, through the real REST channel, on this machine.

For each bot (Nära's config.yml, and bench/stock/config.yml: what `rasa init` trains with) on Nära's own data:

1. training time (a fresh Rasa training cache, a model cached under build/bench/models by its inputs, so a
   second run does not retrain), and held-out NLU macro-F1 with `nara evaluate`'s own split and code
   (bot/evaluation.py), unless --skip-f1;
2. its Rasa server and action server on their own ports (Nära 5305/5355, stock 5306/5356), and Nära's NLU
   server (build/bench/nlu-nara.sock) as scripts/run starts it (bot/nlu_offload.py), with a fresh
   SQLite database under build/bench/ and the channel's rate limit lifted (NARA_RATE_LIMIT_MESSAGES);
3. for each concurrency N: N closed-loop anonymous conversations (a new random sender each; the next message
   only after the previous answer) with a mix drawn from knowledge/ (topic questions, article buttons, area
   questions, handovers), a warm-up, then a fixed measuring window: messages per second, p50/p95/p99 latency,
   errors and peak RSS of each server process (with its children, sampled from /proc every 0.5 s).

One bot at a time, so that they never compete for the cores. Results: reports/bench.{json,md,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_BUILD = ROOT / "build" / "bench"
MODELS_DIR = BENCH_BUILD / "models"
REPORTS = ROOT / "reports"
STOCK_CONFIG = "bench/stock/config.yml"

# The handover flow of tests/e2e/test_handover.py, after a topic question: confirm the proposed topic, say
# where you live, come to drop-in (no personal data), confirm the summary.
HANDOVER_FLOW = ("/request_contact", "/affirm", "{district}", "Jag kommer till drop-in", "/affirm")
# Weights of the single messages of a conversation (a handover comes on top, in a share of conversations).
MIX = {"topic": 0.55, "article": 0.2, "area": 0.25}
TARGET_RATIO_AT = 20  # concurrency at which Nära must reach 3x stock Rasa's messages per second
TARGET_RATIO = 3.0
TARGET_P95_AT = 10  # concurrency at which Nära's p95 must stay under 150 ms
TARGET_P95_MS = 150.0


@dataclasses.dataclass(frozen=True)
class Bot:
    name: str
    label: str
    config: str  # relative to ROOT
    rasa_port: int
    actions_port: int
    nlu_server: bool = False  # Nära's NLU server (bot/nlu_offload.py), as scripts/run starts it


BOTS = {
    "nara": Bot("nara", "Nära", "config.yml", 5305, 5355, nlu_server=True),
    "stock": Bot("stock", "stock Rasa", STOCK_CONFIG, 5306, 5356),
}


# --- pure parts (tests/bench/test_bench.py) ---------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclasses.dataclass(frozen=True)
class Messages:
    """What residents say, drawn from Nära's own data."""

    topic: tuple[str, ...]  # article examples (free text the NLU must classify)
    article: tuple[str, ...]  # an article chosen with a button: /<topic>{"article": "<id>"}
    area: tuple[str, ...]  # "jag bor i <district>"
    districts: tuple[str, ...]
    handover_openers: tuple[str, ...]  # topic questions a handover can follow (not crisis: its flow differs)


def messages_from_knowledge(knowledge: Any) -> Messages:
    articles = sorted(knowledge.articles.values(), key=lambda a: a.id)
    districts = tuple(sorted(d.name for d in knowledge.districts))
    return Messages(
        topic=tuple(e for a in articles for e in a.examples),
        article=tuple(f"/{a.topic}{json.dumps({'article': a.id})}" for a in articles),
        area=tuple(f"jag bor i {d}" for d in districts),
        districts=districts,
        handover_openers=tuple(e for a in articles if a.topic not in ("crisis", "service") for e in a.examples),
    )


def conversation(rng: random.Random, messages: Messages, handover_share: float = 0.2) -> list[tuple[str, str]]:
    """One anonymous conversation as (kind, text): 2-5 single messages by MIX, and in `handover_share` of them
    a topic question followed by the whole handover flow (then no area question comes first: the form would
    not ask where the resident lives and the flow would not fit)."""
    if rng.random() < handover_share:
        district = rng.choice(messages.districts)
        out = [("topic", rng.choice(messages.handover_openers))]
        if rng.random() < 0.5:
            out.append(("article", rng.choice(messages.article)))
        return out + [("handover", step.format(district=district)) for step in HANDOVER_FLOW]
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=rng.randint(2, 5))
    return [(kind, rng.choice(getattr(messages, kind))) for kind in kinds]


@dataclasses.dataclass
class Sample:
    kind: str
    started: float  # time.monotonic()
    seconds: float
    error: str | None  # None, "http <status>", "exception <name>" or "empty"
    handover_code: bool = False


def summarise(samples: Sequence[Sample], window_s: float) -> dict[str, Any]:
    """Throughput, latency percentiles and errors of the samples of one measuring window."""
    ok = [s.seconds * 1000 for s in samples if s.error is None]
    errors = collections.Counter(s.error for s in samples if s.error is not None)
    by_kind = collections.Counter(s.kind for s in samples)

    def ms(q: float) -> float | None:
        value = percentile(ok, q)
        return None if value is None else round(value, 1)

    return {
        "messages": len(samples),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(sorted(errors.items())),
        "messages_per_second": round(len(ok) / window_s, 2) if window_s > 0 else None,
        "p50_ms": ms(50),
        "p95_ms": ms(95),
        "p99_ms": ms(99),
        "max_ms": round(max(ok), 1) if ok else None,
        "mix": dict(sorted(by_kind.items())),
        "handovers_completed": sum(s.handover_code for s in samples),
    }


def _level(result: dict[str, Any], bot: str, concurrency: int) -> dict[str, Any] | None:
    levels = result.get("bots", {}).get(bot, {}).get("levels", [])
    return next((lv for lv in levels if lv["concurrency"] == concurrency), None)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's three targets, each met, not met, or not measured (None), with the figures behind it."""
    out = []
    nara, stock = _level(result, "nara", TARGET_RATIO_AT), _level(result, "stock", TARGET_RATIO_AT)
    ratio = None
    if nara and stock and stock["messages_per_second"]:
        ratio = nara["messages_per_second"] / stock["messages_per_second"]
    out.append(
        {
            "target": f"messages/s at {TARGET_RATIO_AT} concurrent: Nära at least {TARGET_RATIO:g}x stock Rasa",
            "measured": None if ratio is None else f"{ratio:.3f}x",
            "met": None if ratio is None else ratio >= TARGET_RATIO,  # judged unrounded: 2.9985 is not 3
        }
    )
    nara10 = _level(result, "nara", TARGET_P95_AT)
    p95 = nara10["p95_ms"] if nara10 else None
    out.append(
        {
            "target": f"Nära's p95 under {TARGET_P95_MS:g} ms at {TARGET_P95_AT} concurrent (embedded default)",
            "measured": None if p95 is None else f"{p95:g} ms",
            "met": None if p95 is None else p95 < TARGET_P95_MS,
        }
    )
    f1 = {b: result.get("bots", {}).get(b, {}).get("macro_f1") for b in ("nara", "stock")}
    measured = None if None in f1.values() else f"{f1['nara']:.3f} vs {f1['stock']:.3f}"
    out.append(
        {
            "target": "NLU macro-F1 (held-out) of Nära not below stock Rasa's",
            "measured": measured,
            "met": None if measured is None else f1["nara"] >= f1["stock"],
        }
    )
    return out


def _cell(value: Any, fmt: str = "{}") -> str:
    return "–" if value is None else fmt.format(value)


def markdown(result: dict[str, Any]) -> str:
    """reports/bench.md: settings, one row per bot and concurrency, training and F1, the targets."""
    s = result["settings"]
    lines = [
        "# Benchmark: Nära and stock Rasa",
        "",
        f"Generated by `make bench` (`python -m bench.run`) on {result['generated_at']}, {result['machine']}.",
        f"Closed loop through the REST channel (`POST /webhooks/rest/webhook`): N concurrent anonymous "
        f"conversations, each sending its next message only after the answer; {s['warmup_s']:g} s warm-up, then "
        f"{s['duration_s']:g} s measured per level; seed {s['seed']}; one bot at a time. Mix: "
        + ", ".join(f"{k} {v:.0%}" for k, v in s["mix"].items())
        + f" of single messages, and {s['handover_share']:.0%} of conversations end in the handover flow. "
        "The channel's rate limit (10 messages in 20 s per conversation) is lifted with "
        "NARA_RATE_LIMIT_MESSAGES=100000 for the benchmark. Both bots use Nära's channel, tracker store "
        "(a fresh SQLite file each) and action server: the difference is the pipeline and policies, and that "
        "Nära, as scripts/run starts it, parses on a second process (its NLU server, bot/nlu_offload.py).",
        "",
        "| bot | N | msg/s | p50 ms | p95 ms | p99 ms | messages | errors | peak RSS Rasa MB | peak RSS actions MB "
        "| peak RSS NLU MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bot in result["bots"].values():
        for lv in bot.get("levels", []):
            rss = lv.get("peak_rss_mb", {})
            lines.append(
                f"| {bot['label']} | {lv['concurrency']} | {_cell(lv['messages_per_second'])} | "
                f"{_cell(lv['p50_ms'])} | {_cell(lv['p95_ms'])} | {_cell(lv['p99_ms'])} | {lv['messages']} | "
                f"{lv['errors']} | {_cell(rss.get('rasa'))} | {_cell(rss.get('actions'))} | {_cell(rss.get('nlu'))} |"
            )
    lines += ["", "| bot | training | held-out NLU macro-F1 |", "|---|---|---|"]
    for bot in result["bots"].values():
        train = bot.get("training_seconds")
        cached = " (cached model; time of the run that trained it)" if bot.get("training_cached") else ""
        lines.append(f"| {bot['label']} | {_cell(train, '{:.0f} s')}{cached} | {_cell(bot.get('macro_f1'))} |")
    costs = {b["label"]: b["model_costs"] for b in result["bots"].values() if b.get("model_costs")}
    if costs:
        n = next(iter(costs.values()))["messages"]
        lines += [
            "",
            f"The pipeline and policies alone, in process, one message at a time ({n} free-text messages of the "
            "mix; no channel, store, lock or action server, which both bots share):",
            "",
            "| bot | NLU parse ms (mean / p95) | next-action prediction ms (mean / p95) | together ms (mean) |",
            "|---|---|---|---|",
        ]
        for label, c in costs.items():
            together = c["parse_ms"]["mean"] + c["predict_ms"]["mean"]
            lines.append(
                f"| {label} | {_cell(c['parse_ms']['mean'])} / {_cell(c['parse_ms']['p95'])} | "
                f"{_cell(c['predict_ms']['mean'])} / {_cell(c['predict_ms']['p95'])} | {together:.2f} |"
            )
    lines += ["", "| target | measured | |", "|---|---|---|"]
    for t in result["targets"]:
        verdict = {True: "met", False: "**not met**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {_cell(t['measured'])} | {verdict} |")
    if result.get("notes"):
        lines += [""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


# Leaves of stacks that wait rather than work: Rasa's thread-pool workers waiting for a job (py-spy with
# --nonblocking cannot tell that they are idle).
IDLE_FRAMES = ("_worker (concurrent/futures/thread.py)",)


def top_functions(collapsed: str, limit: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive time per function (percent of samples) from py-spy's raw (collapsed) output:
    one line per stack, `function (file:line);...;function (file:line) count`; idle stacks are left out."""
    total = 0
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]  # per function, not per line
        if frames[-1] in IDLE_FRAMES:
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    if not total:
        return {"self": [], "inclusive": []}

    def top(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / total, 1)) for frame, n in counter.most_common(limit)]

    return {"self": top(own), "inclusive": top(inclusive), "samples": [("total", float(total))]}


# --- training and F1 ------------------------------------------------------------------------------------


def _inputs(bot: Bot) -> tuple[str, ...]:
    """What the bot's model depends on: Nära's MODEL_INPUTS with the bot's config, without Nära's own
    components and spaCy pipeline when the config uses neither (stock Rasa: no retraining for a change there)."""
    from bot.training import MODEL_INPUTS, NARA_COMPONENT_INPUTS, config_uses_nara_components

    inputs = tuple(bot.config if path == "config.yml" else path for path in MODEL_INPUTS)
    if config_uses_nara_components(ROOT / bot.config):
        return inputs
    return tuple(path for path in inputs if path not in NARA_COMPONENT_INPUTS)


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def train(bot: Bot) -> dict[str, Any]:
    """The bot's model for the current inputs (as bot/training.py trains Nära's, into build/bench/models),
    trained with an empty Rasa cache so that the time is a whole training; cached by the inputs' fingerprint."""
    from bot.training import fingerprint, generate_training_data, rasa

    generate_training_data()
    name = f"{bot.name}-{fingerprint(_inputs(bot))}"
    model, meta = MODELS_DIR / f"{name}.tar.gz", MODELS_DIR / f"{name}.json"
    if model.exists() and meta.exists():
        return {"model": model, **json.loads(meta.read_text()), "training_cached": True}
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    cache = BENCH_BUILD / f"rasa-cache-{bot.name}"
    shutil.rmtree(cache, ignore_errors=True)
    print(f"bench: training {bot.label} ({bot.config}) ...", flush=True)
    started = time.monotonic()
    with _environ(RASA_CACHE_DIRECTORY=str(cache)):
        rasa(
            "train",
            "--force",
            "--config",
            bot.config,
            "--domain",
            "domain.yml",
            "--data",
            "nlu",
            "build/nlu",
            "--out",
            str(MODELS_DIR.relative_to(ROOT)),
            "--fixed-model-name",
            name,
        )
    info = {
        "training_seconds": round(time.monotonic() - started, 1),
        "trained_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg()[0],
    }
    meta.write_text(json.dumps(info) + "\n")
    shutil.rmtree(cache, ignore_errors=True)
    for old in MODELS_DIR.glob(f"{bot.name}-*"):
        if old not in (model, meta):
            old.unlink()
    return {"model": model, **info, "training_cached": False}


def macro_f1(bot: Bot) -> dict[str, Any]:
    """Held-out NLU macro-F1 with `nara evaluate`'s split, model and metrics (bot/evaluation.py), without
    rewriting its reports; the NLU-only evaluation model is cached in build/eval/models as `nara evaluate`'s."""
    from bot import evaluation
    from knowledge.export import article_examples, augment, place_examples, split
    from knowledge.loader import load_knowledge

    kb = load_knowledge()
    train_part, held_out = split(article_examples(kb) + place_examples(kb) + evaluation.handwritten_examples())
    started = time.monotonic()
    model = evaluation._train_eval_model(augment(train_part), ROOT / bot.config)
    metrics = evaluation._metrics(evaluation._predict(model, held_out))
    return {
        "macro_f1": metrics["macro_f1"],
        "nlu_accuracy": metrics["accuracy"],
        "held_out_examples": metrics["held_out_examples"],
        "f1_seconds": round(time.monotonic() - started, 1),
    }


def model_costs(model: Path, texts: Sequence[str], warmup: int = 20) -> dict[str, Any]:
    """What the pipeline and the policies alone cost per message, in this process, one message at a time:
    Rasa's NLU parse of each text, then the prediction of the next action on a tracker holding it (no
    channel, store, lock or action server; those are the same for both bots). Milliseconds, mean and p95."""
    from rasa.core.agent import Agent
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.log_utils import configure_structlog

    # Rasa's debug events filtered as `rasa run` filters them (its default level, INFO): unconfigured, structlog
    # renders and prints every one (RulePolicy's states, the processor's events), in both bots' costs.
    configure_structlog(logging.INFO)
    agent = Agent.load(str(model))
    processor = agent.processor
    parse_ms: list[float] = []
    predict_ms: list[float] = []

    async def measure() -> None:
        for i, text in enumerate([*texts[:warmup], *texts]):
            started = time.perf_counter()
            parsed = await agent.parse_message(text)
            parsed_at = time.perf_counter()
            tracker = DialogueStateTracker.from_events(
                f"cost-{i}",
                [ActionExecuted("action_listen"), UserUttered(text, parsed["intent"], parsed["entities"], parsed)],
                agent.domain.slots,
            )
            processor._predict_next_with_tracker(tracker)
            if i >= warmup:
                parse_ms.append((parsed_at - started) * 1000)
                predict_ms.append((time.perf_counter() - parsed_at) * 1000)

    asyncio.run(measure())

    def stats(values: list[float]) -> dict[str, float | None]:
        return {"mean": round(sum(values) / len(values), 2), "p95": _round(percentile(values, 95))}

    return {"messages": len(texts), "parse_ms": stats(parse_ms), "predict_ms": stats(predict_ms)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def cost_texts(messages: Messages, count: int, seed: int) -> list[str]:
    """The free-text messages of the load mix (no button payloads), in the order conversations send them."""
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < count:
        texts += [text for _, text in conversation(rng, messages) if not text.startswith("/")]
    return texts[:count]


# --- servers ----------------------------------------------------------------------------------------------


def _port_busy(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _answers(where: str | Path) -> bool:
    """A server's health URL answers 200, or the NLU server answers on its socket."""
    if isinstance(where, Path):
        from bot.nlu_offload import answers

        return answers(str(where)) is not None
    return _get(where) == 200


class Servers:
    """A bot's Rasa server and action server, each in its own session; the whole process groups are
    stopped on exit, whatever happened."""

    def __init__(self, bot: Bot, model: Path):
        self.bot, self.model = bot, model
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list[Any] = []
        self.nlu_socket = BENCH_BUILD / f"nlu-{bot.name}.sock"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            NARA_RATE_LIMIT_MESSAGES="100000",
            NARA_DATABASE_URL=f"sqlite:///{BENCH_BUILD / f'{self.bot.name}.db'}",
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            OPENBLAS_NUM_THREADS=env.get("OPENBLAS_NUM_THREADS", "1"),  # as scripts/_lib.sh sets it for every server
        )
        # No e-mails to team mailboxes from a benchmark, and no NLU server but the bot's own.
        for key in ("NARA_SMTP_HOST", "NARA_SMTP_PORT", "NARA_NLU_SOCKET"):
            env.pop(key, None)
        if self.bot.nlu_server:
            env["NARA_NLU_SOCKET"] = str(self.nlu_socket)
        return env

    def endpoints(self) -> Path:
        import yaml

        endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
        endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{self.bot.actions_port}/webhook"
        path = BENCH_BUILD / f"endpoints-{self.bot.name}.yml"
        path.write_text(
            "# Written by bench/run.py from endpoints.yml: its own action server port.\n" + yaml.safe_dump(endpoints)
        )
        return path

    def _start(self, role: str, args: list[str], module: str = "rasa") -> None:
        log = (BENCH_BUILD / f"{self.bot.name}-{role}.log").open("w")
        self.logs.append(log)
        self.procs[role] = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> Servers:
        for port in (self.bot.rasa_port, self.bot.actions_port):
            if _port_busy(port):
                raise RuntimeError(f"port {port} is in use: is another benchmark running?")
        BENCH_BUILD.mkdir(parents=True, exist_ok=True)
        from bot.store.db import remove_sqlite_database

        remove_sqlite_database(BENCH_BUILD / f"{self.bot.name}.db")
        for command in (["db", "upgrade"], ["teams"]):
            subprocess.run(
                [sys.executable, "-m", "bot.cli", *command], cwd=ROOT, env=self.env(), check=True, capture_output=True
            )
        try:
            self._start("actions", ["run", "actions", "--actions", "actions", "--port", str(self.bot.actions_port)])
            if self.bot.nlu_server:
                self._start(
                    "nlu", ["--model", str(self.model), "--socket", str(self.nlu_socket)], module="bot.nlu_server"
                )
            self._start(
                "rasa",
                [
                    "run",
                    "--model",
                    str(self.model),
                    "--port",
                    str(self.bot.rasa_port),
                    "--interface",
                    "127.0.0.1",
                    "--endpoints",
                    str(self.endpoints()),
                    "--credentials",
                    "credentials.yml",
                ],
            )
            self._wait()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait(self, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        urls = {
            "actions": f"http://127.0.0.1:{self.bot.actions_port}/health",
            "rasa": f"http://127.0.0.1:{self.bot.rasa_port}/",
        }
        pending: dict[str, Any] = dict(urls)
        if self.bot.nlu_server:
            pending["nlu"] = self.nlu_socket
        while pending:
            for role, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.bot.label}'s {role} server exited; see build/bench/{self.bot.name}-{role}.log"
                    )
            pending = {role: where for role, where in pending.items() if not _answers(where)}
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.bot.label} did not start within {timeout_s:.0f} s: {sorted(pending)}")
            time.sleep(1)
        # The first message loads what Rasa loads lazily (seconds): not part of any measurement.
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.bot.rasa_port}/webhooks/rest/webhook",
            data=json.dumps({"sender": f"bench-warmup-{uuid.uuid4().hex}", "message": "hej"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self.logs:
            log.close()

    def pid(self, role: str) -> int:
        return self.procs[role].pid


def _children(pid: int) -> list[int]:
    out = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as handle:
                out += [int(child) for child in handle.read().split()]
    return out


def rss_kb(pid: int) -> int:
    """VmRSS of a process and all its descendants, in kB (0 when it is gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError), open(f"/proc/{current}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        todo += _children(current)
    return total


class MemorySampler(threading.Thread):
    """Peak RSS (with children) of some processes, sampled every `interval_s`."""

    def __init__(self, pids: dict[str, int], interval_s: float = 0.5):
        super().__init__(daemon=True)
        self.pids, self.interval_s = pids, interval_s
        self.peak_kb = dict.fromkeys(pids, 0)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for role, pid in self.pids.items():
                self.peak_kb[role] = max(self.peak_kb[role], rss_kb(pid))
            self.stopped.wait(self.interval_s)

    def stop(self) -> dict[str, float]:
        self.stopped.set()
        self.join()
        return {role: round(kb / 1024, 1) for role, kb in self.peak_kb.items()}


# --- load -------------------------------------------------------------------------------------------------


async def _say(session: Any, url: str, sender: str, kind: str, text: str) -> Sample:
    import aiohttp

    started = time.monotonic()
    error, code = None, False
    try:
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            body = await response.read()
            if response.status != 200:
                error = f"http {response.status}"
            else:
                replies = json.loads(body)
                if not replies:
                    error = "empty"
                code = any(isinstance(r.get("custom"), dict) and "handover" in r["custom"] for r in replies)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        error = f"exception {exc.__class__.__name__}"
    return Sample(kind, started, time.monotonic() - started, error, code)


async def load(
    url: str, messages: Messages, concurrency: int, warmup_s: float, duration_s: float, seed: int, handover_share: float
) -> tuple[list[Sample], float]:
    """N closed-loop conversations for warm-up + duration; the samples that started and ended in the window."""
    import aiohttp

    start = time.monotonic()
    window = (start + warmup_s, start + warmup_s + duration_s)
    samples: list[Sample] = []

    async def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        while time.monotonic() < window[1]:
            # The texts follow the seed; the sender is new for every conversation of every run and level. (Drawn
            # from the seed, as it was until session 8, each level of a run went on with the previous level's
            # conversations under the same ids, so N=20 ran on trackers two and three times as long.)
            rng.getrandbits(128)  # the draw that made the sender: the texts stay those of earlier runs
            sender = f"bench-{uuid.uuid4().hex}"
            for kind, text in conversation(rng, messages, handover_share):
                if time.monotonic() >= window[1]:
                    return
                samples.append(await _say(session, url, sender, kind, text))

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    measured = [s for s in samples if s.started >= window[0] and s.started + s.seconds <= window[1]]
    return measured, duration_s


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    """py-spy in the background on the Rasa server (raw, collapsed stacks); None when py-spy is missing."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("bench: py-spy is not installed (.venv/bin/pip install py-spy); no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
            # Only the thread holding the GIL: the server is one Python process, and what holds the GIL is
            # what the other conversations wait for (threads waiting on SQLite or idle are left out).
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(BENCH_BUILD / "py-spy.log").open("w"),
    )


def run_bot(bot: Bot, model: Path, messages: Messages, args: argparse.Namespace) -> list[dict[str, Any]]:
    levels = []
    url = f"http://127.0.0.1:{bot.rasa_port}/webhooks/rest/webhook"
    print(f"bench: starting {bot.label} on :{bot.rasa_port} (actions :{bot.actions_port})", flush=True)
    with Servers(bot, model) as servers:
        for concurrency in args.levels:
            sampler = MemorySampler({role: servers.pid(role) for role in servers.procs})
            sampler.start()
            spy = None
            if args.profile and bot.name == "nara" and concurrency == args.profile_level:
                spy = profile(servers.pid("rasa"), int(args.duration), BENCH_BUILD / "profile.txt")
            try:
                samples, window = asyncio.run(
                    load(url, messages, concurrency, args.warmup, args.duration, args.seed, args.handover_share)
                )
            finally:
                peak = sampler.stop()
            if spy is not None:
                spy.wait(timeout=120)
            level = {"concurrency": concurrency, **summarise(samples, window), "peak_rss_mb": peak}
            print(
                f"bench: {bot.label} N={concurrency}: {level['messages_per_second']} msg/s, p50 {level['p50_ms']} ms, "
                f"p95 {level['p95_ms']} ms, p99 {level['p99_ms']} ms, errors {level['errors']}, RSS {peak}",
                flush=True,
            )
            levels.append(level)
    return levels


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for bot in result["bots"].values():
        levels = bot.get("levels", [])
        n = [lv["concurrency"] for lv in levels]
        left.plot(n, [lv["messages_per_second"] for lv in levels], marker="o", label=bot["label"])
        right.plot(n, [lv["p95_ms"] for lv in levels], marker="o", label=bot["label"])
    left.set(xlabel="concurrent conversations", ylabel="messages per second", title="Throughput")
    right.set(xlabel="concurrent conversations", ylabel="p95 latency (ms)", title="p95 latency")
    right.axhline(
        TARGET_P95_MS, color="grey", linestyle="--", linewidth=1, label=f"target {TARGET_P95_MS:g} ms (Nära, N=10)"
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.suptitle(f"make bench, {result['generated_at']}")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def write(result: dict[str, Any], reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "bench.json").write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
    (reports / "bench.md").write_text(markdown(result))
    plot(result, reports / "bench.png")


def _machine() -> str:
    load1, load5, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load1:.2f} (1 min) / {load5:.2f} (5 min) at the start"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", default="1,10,20", help="concurrent conversations, comma-separated (default 1,10,20)")
    p.add_argument("--duration", type=float, default=30, help="measured seconds per level (default 30)")
    p.add_argument("--warmup", type=float, default=5, help="warm-up seconds per level, not measured (default 5)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--handover-share", type=float, default=0.2, help="share of conversations with a handover")
    p.add_argument("--bots", default="nara,stock", help="which bots (default nara,stock)")
    p.add_argument("--skip-f1", action="store_true", help="no NLU macro-F1 (it trains an NLU model per bot)")
    p.add_argument("--train-only", action="store_true", help="train (or find) the models and stop")
    p.add_argument("--profile", action="store_true", help="py-spy on Nära's Rasa server at --profile-level")
    p.add_argument("--profile-level", type=int, default=10)
    p.add_argument("--reports", default=str(REPORTS), help="where bench.{json,md,png} go (default reports/)")
    p.add_argument("--note", action="append", default=[], help="a line for the report (e.g. what else ran)")
    p.add_argument(
        "--cost-messages",
        type=int,
        default=300,
        help="free-text messages for the in-process cost of the pipeline and policies alone (0: skip)",
    )
    p.add_argument(
        "--stock-epochs",
        type=int,
        help="train stock Rasa's DIET, ResponseSelector, TED and UnexpecTED with this many epochs instead of 100: "
        "the same architecture, so the same work per message, but not stock's predictions or training time; F1 is "
        "still of the 100-epoch config "
        "(for a machine too busy to train stock Rasa in time; the report says so)",
    )
    args = p.parse_args(argv)
    args.levels = [int(n) for n in args.levels.split(",") if n.strip()]
    bots = dict(BOTS)
    if args.stock_epochs:
        bots["stock"] = stock_with_epochs(args.stock_epochs)
    args.bots = [bots[name.strip()] for name in args.bots.split(",") if name.strip()]
    return args


def stock_with_epochs(epochs: int) -> Bot:
    """bench/stock/config.yml with every `epochs` replaced, written to build/bench/."""
    import yaml

    config = yaml.safe_load((ROOT / STOCK_CONFIG).read_text())
    for component in config["pipeline"] + config["policies"]:
        if "epochs" in component:
            component["epochs"] = epochs
    path = BENCH_BUILD / f"stock-epochs{epochs}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# bench/stock/config.yml with epochs {epochs} (bench/run.py --stock-epochs)\n" + yaml.safe_dump(config)
    )
    stock = BOTS["stock"]
    return dataclasses.replace(
        stock, label=f"stock Rasa, {epochs} epoch{'s' if epochs != 1 else ''}", config=str(path.relative_to(ROOT))
    )


def _interrupt(*_: object) -> None:
    """A SIGTERM (e.g. from make) unwinds like Ctrl-C, so the servers' process groups are stopped."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from knowledge.loader import cached_knowledge

    result: dict[str, Any] = {
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": _machine(),
        "settings": {
            "levels": args.levels,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "seed": args.seed,
            "mix": MIX,
            "handover_share": args.handover_share,
            "rate_limit": "NARA_RATE_LIMIT_MESSAGES=100000 (the channel's default 10 per 20 s is lifted)",
        },
        "bots": {},
        "notes": [],
    }
    models = {}
    for bot in args.bots:
        trained = train(bot)
        models[bot.name] = trained.pop("model")
        result["bots"][bot.name] = {"label": bot.label, "config": bot.config, "model": models[bot.name].name, **trained}
    if args.train_only:
        print(json.dumps(result["bots"], indent=2))
        return 0
    if args.skip_f1:
        result["notes"].append("NLU macro-F1 was skipped (--skip-f1).")
    else:
        for bot in args.bots:
            # F1 is always of the real config: with --stock-epochs, stock Rasa's NLU is still trained with its
            # 100 epochs for it (an NLU-only model on the 80% split, cached in build/eval/models).
            f1_bot = BOTS[bot.name]
            print(f"bench: held-out NLU macro-F1 of {f1_bot.label} ...", flush=True)
            result["bots"][bot.name].update(macro_f1(f1_bot))
            if f1_bot != bot:
                result["notes"].append(
                    f"The F1 of {bot.label} is that of {f1_bot.label}'s own config ({f1_bot.config}, 100 epochs)."
                )
    if args.stock_epochs:
        result["notes"].append(
            f"Stock Rasa was trained with {args.stock_epochs} epochs instead of 100 (--stock-epochs): the same "
            "components and layers, so the same work per message, but its training time is not stock's, and its "
            "different predictions can take different dialogue paths."
        )
    result["notes"] += args.note
    messages = messages_from_knowledge(cached_knowledge())
    texts = cost_texts(messages, args.cost_messages, args.seed)
    for bot in args.bots:
        if args.cost_messages:
            print(f"bench: pipeline and policies of {bot.label}, in process ...", flush=True)
            result["bots"][bot.name]["model_costs"] = model_costs(models[bot.name], texts)
        result["bots"][bot.name]["levels"] = run_bot(bot, models[bot.name], messages, args)
    result["targets"] = targets(result)
    if args.profile and (BENCH_BUILD / "profile.txt").exists():
        result["profile"] = top_functions((BENCH_BUILD / "profile.txt").read_text())
    write(result, Path(args.reports))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
