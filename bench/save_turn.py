"""Saving a turn: warm `Assistant.ask` p50 against ask plus saving the turn p50, on SQLite and on PostgreSQL.

    .venv/bin/python bench/save_turn.py [--rounds 3] [--limit N] [--database-url URL] [--json]

Builds an index of the real corpus in a temporary folder, loads an `Assistant` and warms it (every question
once). Then, for each back-end of the state store (assistant/state.py): SQLite in the temporary state folder,
and PostgreSQL at `--database-url`, or else on a throwaway server started from Debian's package in a temporary
folder (fsync on, as a real server; its transactions commit to disk), it opens a `StateStore` and, for each
labelled question (tests/data/questions.jsonl) and round, measures back to back, in alternating order so
that other load on the machine hits both alike:

* `ask`: `bot.ask(question)`;
* `ask + save`: `bot.ask(question)`, then `store.append_turn(conversation, question, answer)`: the answer as
  JSON with its sources, in one transaction that locks the conversation. A new conversation is started every
  10 turns, inside the timing, as the chat page starts one on its first question.

Prints p50/p95 of both, of the save alone, and the ratio of the p50s, measured in the same run (the target
is at most 1.10); `--json` also gives `ask_of_pair`, the ask inside each ask + save, to compare with the ask
alone. Gaps are not logged during the run (`log_gaps=False`), so both paths do the same work.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import (  # noqa: E402
    corpus_settings,
    machine,
    p50,
    p95,
    parser,
    postgres_bindir,
    postgres_server,
    questions,
    ratio,
    run_and_report,
    timed,
)

TARGET = 1.10
TURNS_PER_CONVERSATION = 10


class Saver:
    """Saves turns as the chat page would: a new conversation on the first question and every
    `TURNS_PER_CONVERSATION` turns after."""

    def __init__(self, store) -> None:
        self.store = store
        self.conversation = ""
        self.turns = 0

    def __call__(self, question: str, answer) -> None:
        if self.turns % TURNS_PER_CONVERSATION == 0:
            self.conversation = self.store.create_conversation().id
        self.store.append_turn(self.conversation, question, answer)
        self.turns += 1


def measure(bot, store, qs: list[str], rounds: int) -> dict:
    """ask and ask + save, paired question by question, on one store."""
    times: dict[str, list[float]] = {"ask": [], "ask_save": [], "save": [], "ask_of_pair": []}
    save = Saver(store)
    for round_no in range(rounds):
        for i, q in enumerate(qs):
            order = (0, 1) if (i + round_no) % 2 == 0 else (1, 0)
            for which in order:
                if which == 0:
                    times["ask"].append(timed(bot.ask, q, log_gaps=False)[1])
                    continue
                answer, ask_ms = timed(bot.ask, q, log_gaps=False)
                save_ms = timed(save, q, answer)[1]
                times["save"].append(save_ms)
                times["ask_of_pair"].append(ask_ms)
                times["ask_save"].append(ask_ms + save_ms)
    ms = {k: {"p50_ms": round(p50(v), 3), "p95_ms": round(p95(v), 3)} for k, v in times.items()}
    return {
        "backend": store.backend,
        "saved_turns": save.turns,
        "ms": ms,
        "ask_save_over_ask_p50": ratio(ms["ask_save"]["p50_ms"], ms["ask"]["p50_ms"]),
    }


def run(args, embedder=None) -> dict:
    from assistant.api import Assistant
    from assistant.embed import Embedder
    from assistant.state import StateStore

    with tempfile.TemporaryDirectory(prefix="save-turn-") as tmp:
        settings = corpus_settings(Path(tmp), args.docs)
        embedder = embedder or Embedder(settings)
        bot = Assistant.load(settings=settings, embedder=embedder)
        qs = questions(args.limit)
        for q in qs:  # warm
            bot.ask(q, log_gaps=False)
        result = {"machine": machine(), "questions": len(qs), "rounds": args.rounds, "target": TARGET}

        with StateStore(settings.replace(state_dir=Path(tmp) / "state")) as store:
            result["sqlite"] = measure(bot, store, qs, args.rounds)

        def on_postgres(url: str, where: str) -> dict:
            with StateStore(settings.replace(state_dir=Path(tmp) / "pg-state", database_url=url)) as store:
                return {**measure(bot, store, qs, args.rounds), "server": where}

        if args.database_url:
            result["postgresql"] = on_postgres(args.database_url, "given (--database-url)")
        elif postgres_bindir() is None:
            result["postgresql"] = {"error": "no PostgreSQL server binaries (apt-get install -y postgresql) and no --database-url"}
        else:
            with postgres_server(durable=True) as url:
                result["postgresql"] = on_postgres(url, f"throwaway, local ({postgres_bindir().parent.name}), fsync on")
        return result


def main(argv=None, embedder=None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--docs", type=int, default=None, help="only the first N corpus files (smoke runs)")
    ap.add_argument("--database-url", default="", help="a PostgreSQL server to measure instead of a throwaway one")
    result = run_and_report(ap, argv, run, embedder)
    if result is None:
        return 0
    print(f"{result['questions']} questions x {result['rounds']} rounds, each asked alone and asked then saved")
    print(f"{'':22}{'ask p50':>9}{'p95':>8}{'save p50':>10}{'p95':>8}{'ask+save p50':>14}{'p95':>8}{'ratio':>8}")
    for name in ("sqlite", "postgresql"):
        row = result[name]
        if "error" in row:
            print(f"{name:22}not measured: {row['error']}")
            continue
        ms = row["ms"]
        print(
            f"{name:22}{ms['ask']['p50_ms']:>9.2f}{ms['ask']['p95_ms']:>8.2f}{ms['save']['p50_ms']:>10.2f}{ms['save']['p95_ms']:>8.2f}"
            f"{ms['ask_save']['p50_ms']:>14.2f}{ms['ask_save']['p95_ms']:>8.2f}{row['ask_save_over_ask_p50']:>7.3f}x"
        )
    print(f"ratio: (ask + save) p50 / ask p50, target <= {result['target']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
