"""The command line: `python -m assistant index|add|remove|list|ask|eval|gaps|feedback|purge`.

This is the only module that prints. Library errors (`AssistantError`) become a one-line `error: ...`
on stderr and an exit code (2 for bad input, 1 otherwise) in one place, `main`; a traceback means a bug.
Heavy imports (torch, FAISS) happen inside the commands, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence

from .errors import AssistantError, InputError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m assistant",
        description="ML career assistant: cited answers about becoming a machine learning engineer.",
        epilog="Settings come from ASSISTANT_* environment variables (see README).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("index", help="build or refresh the index from corpus/ (only new or changed text is embedded)")
    s.add_argument("--rebuild", action="store_true", help="ignore the existing index and build from scratch")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")

    s = sub.add_parser("add", help="copy documents (files or folders) into corpus/ and index them")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--into", default="uploads", metavar="DIR", help="folder inside corpus/ (default: uploads)")
    s.add_argument("--overwrite", action="store_true", help="replace a document of the same name")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")

    s = sub.add_parser("remove", help="delete a document from corpus/ and its passages from the index")
    s.add_argument("doc", metavar="DOC", help="corpus-relative path, as `list` shows it")
    s.add_argument("-q", "--quiet", action="store_true")

    s = sub.add_parser("list", help="the indexed documents with their passage counts")
    s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("ask", help="answer a question with cited passages")
    s.add_argument("question", metavar="QUESTION")
    s.add_argument("-k", type=int, default=None, metavar="N", help="passages to retrieve (default: 5)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("eval", help="measure retrieval and answer quality on a labelled question set")
    s.add_argument(
        "--questions", default="tests/data/questions.jsonl", metavar="FILE",
        help="JSON lines: questions, or conversations, near-domain refusals or variants (told apart by their fields)",
    )
    s.add_argument(
        "--conversations", default=None, metavar="FILE",
        help="also measure conversation pairs (default with the labelled set: tests/data/conversations.jsonl)",
    )
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--plot", metavar="PNG", help="save abstention precision/recall against the threshold")
    s.add_argument("--split", choices=["all", "tune", "test"], default="all", help="which half of the set")
    s.add_argument("--mode", choices=["extractive", "llm"], default=None, help="answers to measure (default: ASSISTANT_ANSWER_MODE)")
    s.add_argument("--limit", type=int, default=None, metavar="N", help="with --mode llm: only the first N questions")
    s.add_argument("--gaps", action="store_true", help="ask the logged unanswered questions again: how many are answered now")

    s = sub.add_parser("gaps", help="questions the assistant could not answer, grouped, most asked first")
    s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("feedback", help="thumbs up and down so far, and the latest answers marked not helpful")
    s.add_argument("--recent", type=int, default=5, metavar="N", help="how many not-helpful answers to show (default: 5)")
    s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("purge", help="delete kept conversations, feedback and gaps past the retention period")
    group = s.add_mutually_exclusive_group()
    group.add_argument("--older-than", type=int, default=None, metavar="DAYS", help="past DAYS days instead (default: ASSISTANT_RETENTION_DAYS)")
    group.add_argument("--all", action="store_true", help="delete all of them, whatever their age")
    return p


class _Bars:
    """tqdm progress bars, one per build stage, on stderr; silent with --quiet."""

    LABELS = {"read": "Reading documents", "embed": "Embedding passages", "questions": "Embedding asked questions"}

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=self.LABELS.get(stage, stage), unit="", file=sys.stderr, leave=False)
        bar.update(done - bar.n)  # update(), not n=: tqdm's rate estimate stays right
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    """Text from documents or people with control characters removed, so it cannot drive the terminal, and
    any lone surrogate (a file name or argument that was not UTF-8) escaped, so it can always be printed."""
    return _CONTROL.sub("", str(text)).encode("utf-8", "backslashreplace").decode("utf-8")


def _settings():
    from .config import Settings

    return Settings.from_env()


def cmd_index(args) -> int:
    from .api import Assistant

    bars = _Bars(args.quiet)
    try:
        report = Assistant.build_index(_settings(), bars, rebuild=args.rebuild)
    finally:
        bars.close()
    for message in report.skipped:
        print(f"warning: skipped {_printable(message)}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    return 0


def cmd_add(args) -> int:
    from .api import Assistant

    bars = _Bars(args.quiet)
    try:
        result = Assistant.add_documents(_settings(), args.paths, overwrite=args.overwrite, folder=args.into, progress=bars)
    finally:
        bars.close()
    for message in result.skipped:
        print(f"warning: skipped {_printable(message)}", file=sys.stderr)
    if result.added and not args.quiet:
        for rel in result.added:
            print(f"{'replaced' if rel in result.replaced else 'added'} {_printable(rel)}")
        if result.report is not None:
            print(result.report.summary())
    return 0 if result.added or not result.skipped else 1


def cmd_remove(args) -> int:
    from .api import Assistant

    bars = _Bars(args.quiet)
    try:
        report = Assistant.remove_document(_settings(), args.doc, progress=bars)
    finally:
        bars.close()
    if not args.quiet:
        print(f"removed {_printable(args.doc)}")
        print(report.summary())
    return 0


def cmd_list(args) -> int:
    from .api import Assistant

    rows, model = Assistant.list_documents(_settings())
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    width = max((len(r["doc"]) for r in rows), default=8)
    print(f"{'DOCUMENT':<{width}}  PASSAGES  INDEXED")
    for r in rows:
        print(f"{_printable(r['doc']):<{width}}  {r['passages']:>8}  {r['indexed_at']}")
    print(f"{len(rows)} documents, {sum(r['passages'] for r in rows)} passages; model {model}")
    return 0


def cmd_ask(args) -> int:
    from .api import Assistant, clean_question

    if not args.question.strip():
        raise InputError("the question is empty; usage: python -m assistant ask \"What skills do I need?\"")
    clean_question(args.question, len(args.question))  # invalid UTF-8 is refused before the model loads
    if args.k is not None and args.k < 1:
        raise InputError("-k must be at least 1")
    bot = Assistant.load(settings=_settings(), progress=_Bars(args.json))
    if bot.settings.answer_mode == "llm" and not args.json:
        stream = bot.stream(args.question, k=args.k)
        shown = []
        for token in stream:  # the model's words as they arrive, then the checked answer if it differs
            print(_printable(token), end="", flush=True)
            shown.append(token)
        answer = stream.answer
        shown_text = "".join(shown).strip()
        if not shown_text:
            print(_printable(answer.text))
        elif shown_text == answer.text.strip():
            print()
        else:
            print(f"\n\n{'Checked answer' if stream.generated else 'Answer'}:\n{_printable(answer.text)}")
        if answer.note:
            print(f"\nNote: {_printable(answer.note)}")
    else:
        answer = bot.ask(args.question, k=args.k)
        if args.json:
            data = answer.to_dict()
            if answer.note:
                data["note"] = answer.note
            print(json.dumps(data, ensure_ascii=False, indent=1))
            return 0
        print(_printable(answer.text))  # quoted document text: no control characters reach the terminal
        if answer.note:
            print(f"\nNote: {_printable(answer.note)}")
    if answer.followup:
        print(f"\n(Read as a follow-up to “{_printable(answer.followup)}”.)")
    if answer.suggestions:
        print("\nThe sources do answer questions like these:")
        for hint in answer.suggestions:
            print(f"  - {_printable(hint)}")
    if answer.sources:
        print("\nSources:")
        for n, s in enumerate(answer.sources, start=1):
            where = f"{s.title} › {s.heading}" if s.heading else s.title
            print(f"  [{n}] {_printable(where)}  ({_printable(s.doc)}, relevance {s.score:.2f})")
    if answer.related:
        print("\nRelated, not quoted:")
        for s in answer.related:
            where = f"{s.title} › {s.heading}" if s.heading else s.title
            print(f"  - {_printable(where)}  ({_printable(s.doc)})")
    return 0


def cmd_eval(args) -> int:
    from pathlib import Path

    from .evaluate import run_eval

    default = Path("tests/data/conversations.jsonl")
    if args.conversations is None and args.questions == "tests/data/questions.jsonl" and default.is_file():
        args.conversations = str(default)
    print(_printable(run_eval(args, _settings())))  # logged questions are people's typing
    return 0


def cmd_gaps(args) -> int:
    from .api import Assistant

    groups, terms = Assistant.gaps(_settings())
    if args.json:
        print(json.dumps({"groups": groups, "candidate_terms": terms}, indent=1, ensure_ascii=False))
        return 0
    if not groups:
        print("No unanswered questions logged yet.")
        return 0
    print(f"{'COUNT':>5}  QUESTION (and similar ones)")
    for g in groups:
        print(f"{g['count']:>5}  {_printable(g['question'])}")
        for other in g["questions"][1:4]:
            print(f"       · {_printable(other)}")
    if terms:
        print("\nWords that recur in these questions and that neither the corpus nor corpus/vocabulary.txt knows:")
        print("  " + ", ".join(f"{_printable(t['term'])} ({t['count']})" for t in terms))
        print("An abbreviation or variant people use belongs in corpus/vocabulary.txt (README, \"The vocabulary\").")
    print(
        "\nA section that does answer one of these in other words can learn the reader's wording: add the question"
        "\nunder its heading as <!-- asked: ... --> and run `python -m assistant index` (README, \"Asked questions\")."
    )
    return 0


def cmd_feedback(args) -> int:
    from .api import Assistant

    if args.recent < 0:
        raise InputError("--recent must be 0 or more")
    report = Assistant.feedback_report(_settings(), recent=args.recent)
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    helpful, not_helpful = report["helpful"], report["not_helpful"]
    if not helpful and not not_helpful:
        print("No feedback given yet.")
        return 0
    print(f"Helpful: {helpful}   Not helpful: {not_helpful}")
    for r in report["recent_not_helpful"]:
        print(f"\n{r['time']}  {_printable(r['question'])}")
        print("  " + _printable(" ".join(r["answer"].split())[:300]))
    if not_helpful:
        print("\nThumbs-down questions are also listed by `python -m assistant gaps`.")
    return 0


def cmd_purge(args) -> int:
    from .api import Assistant

    settings = _settings()
    days = settings.retention_days if args.older_than is None else args.older_than
    if not args.all and days == 0:
        why = "--older-than 0 means keep forever" if args.older_than == 0 else "the retention period is 0 (keep forever)"
        print(f"Nothing deleted: {why}. Use --older-than DAYS (1 or more) or --all.")
        return 0
    purged = Assistant.purge(settings, older_than_days=days, everything=args.all)
    what = "everything kept" if args.all else f"what was untouched for more than {days} days"
    print(
        f"Deleted {what}: {purged.conversations} conversations ({purged.turns} turns), "
        f"{purged.feedback} feedback records, {purged.gaps} unanswered questions."
    )
    return 0


COMMANDS = {
    "index": cmd_index,
    "add": cmd_add,
    "remove": cmd_remove,
    "list": cmd_list,
    "ask": cmd_ask,
    "eval": cmd_eval,
    "gaps": cmd_gaps,
    "feedback": cmd_feedback,
    "purge": cmd_purge,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s" if args.verbose else "warning: %(message)s",
        stream=sys.stderr,
    )
    try:
        return COMMANDS[args.command](args)
    except AssistantError as exc:
        print(f"error: {_printable(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except OSError as exc:  # the machine, not the input: a full disk, a permission, a vanished folder
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
