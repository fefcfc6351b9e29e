"""The command line: `python -m assistant index|add|remove|list|ask|eval|gaps`.

This is the only module that prints. Library errors (`AssistantError`) become a one-line `error: ...`
on stderr and an exit code (2 for bad input, 1 otherwise) in one place, `main`; a traceback means a bug.
Heavy imports (torch, FAISS) happen inside the commands, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from .errors import AssistantError

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
    s.add_argument("--questions", default="tests/data/questions.jsonl", metavar="FILE")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--plot", metavar="PNG", help="save abstention precision/recall against the threshold")
    s.add_argument("--split", choices=["all", "tune", "test"], default="all", help="which half of the set")
    s.add_argument("--mode", choices=["extractive", "llm"], default=None, help="answers to measure (default: ASSISTANT_ANSWER_MODE)")
    s.add_argument("--limit", type=int, default=None, metavar="N", help="with --mode llm: only the first N questions")

    s = sub.add_parser("gaps", help="questions the assistant could not answer, grouped, most asked first")
    s.add_argument("--json", action="store_true", help="print JSON")
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


def _settings():
    from .config import Settings

    return Settings.from_env()


def cmd_index(args) -> int:
    from .build import sync
    from .embed import Embedder

    settings = _settings()
    bars = _Bars(args.quiet)
    try:
        report = sync(settings, Embedder(settings), bars, rebuild=args.rebuild)
    finally:
        bars.close()
    for message in report.skipped:
        print(f"warning: skipped {message}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    return 0


def cmd_add(args) -> int:
    from .build import sync
    from .embed import Embedder
    from .ingest import add_documents

    settings = _settings()
    result = add_documents(settings, args.paths, overwrite=args.overwrite, folder=args.into)
    for message in result.skipped:
        print(f"warning: skipped {message}", file=sys.stderr)
    if result.added:
        bars = _Bars(args.quiet)
        try:
            report = sync(settings, Embedder(settings), bars)
        finally:
            bars.close()
        if not args.quiet:
            for rel in result.added:
                print(f"{'replaced' if rel in result.replaced else 'added'} {rel}")
            print(report.summary())
    return 0 if result.added or not result.skipped else 1


def cmd_remove(args) -> int:
    from .build import sync
    from .embed import Embedder
    from .ingest import remove_document

    settings = _settings()
    remove_document(settings, args.doc)
    report = sync(settings, Embedder(settings), _Bars(args.quiet))
    if not args.quiet:
        print(f"removed {args.doc}")
        print(report.summary())
    return 0


def cmd_list(args) -> int:
    from . import index as store
    from .errors import IndexMissingError

    settings = _settings()
    manifest = store.read_manifest(settings.index_dir)
    if manifest is None:
        raise IndexMissingError(f"no index in {settings.index_dir}/; run `python -m assistant index` to build it")
    rows = [{"doc": doc, **entry} for doc, entry in sorted(manifest["documents"].items())]
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    width = max((len(r["doc"]) for r in rows), default=8)
    print(f"{'DOCUMENT':<{width}}  PASSAGES  INDEXED")
    for r in rows:
        print(f"{r['doc']:<{width}}  {r['passages']:>8}  {r['indexed_at']}")
    print(f"{len(rows)} documents, {sum(r['passages'] for r in rows)} passages; model {manifest['model']}")
    return 0


def cmd_ask(args) -> int:
    from .api import Assistant
    from .errors import InputError

    if not args.question.strip():
        raise InputError("the question is empty; usage: python -m assistant ask \"What skills do I need?\"")
    if args.k is not None and args.k < 1:
        raise InputError("-k must be at least 1")
    bot = Assistant.load(settings=_settings(), progress=_Bars(args.json))
    if bot.settings.answer_mode == "llm" and not args.json:
        stream = bot.stream(args.question, k=args.k)
        shown = []
        for token in stream:  # the model's words as they arrive, then the checked answer if it differs
            print(token, end="", flush=True)
            shown.append(token)
        answer = stream.answer
        shown_text = "".join(shown).strip()
        if not shown_text:
            print(answer.text)
        elif shown_text == answer.text.strip():
            print()
        else:
            print(f"\n\n{'Checked answer' if stream.generated else 'Answer'}:\n{answer.text}")
        if answer.note:
            print(f"\nNote: {answer.note}")
    else:
        answer = bot.ask(args.question, k=args.k)
        if args.json:
            data = answer.to_dict()
            if answer.note:
                data["note"] = answer.note
            print(json.dumps(data, ensure_ascii=False, indent=1))
            return 0
        print(answer.text)
        if answer.note:
            print(f"\nNote: {answer.note}")
    if answer.sources:
        print("\nSources:")
        for n, s in enumerate(answer.sources, start=1):
            where = f"{s.title} › {s.heading}" if s.heading else s.title
            print(f"  [{n}] {where}  ({s.doc}, relevance {s.score:.2f})")
    return 0


def cmd_eval(args) -> int:
    from .evaluate import run_eval

    return run_eval(args, _settings())


def cmd_gaps(args) -> int:
    from .logs import gap_groups

    groups = gap_groups(_settings().state_dir)
    if args.json:
        print(json.dumps(groups, indent=1, ensure_ascii=False))
        return 0
    if not groups:
        print("No unanswered questions logged yet.")
        return 0
    print(f"{'COUNT':>5}  QUESTION (and similar ones)")
    for g in groups:
        print(f"{g['count']:>5}  {g['question']}")
        for other in g["questions"][1:4]:
            print(f"       · {other}")
    print(
        "\nA section that does answer one of these in other words can learn the reader's wording: add the question"
        "\nunder its heading as <!-- asked: ... --> and run `python -m assistant index` (README, \"Asked questions\")."
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
        print(f"error: {exc}", file=sys.stderr)
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
