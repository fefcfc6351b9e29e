"""`python -m assistant eval`: retrieval and answer quality on a labelled question set, as numbers.

The set is JSON lines: {"id", "question", "expected": [docs], "type", "history": [earlier questions]?};
`expected: []` marks a question the corpus should not answer (type "out_of_scope").

Retrieval metrics use document-level relevance (a passage counts when its document is expected):

    hit@k    the first k passages include an expected document
    MRR@10   1 / rank of the first expected passage (0 if none in the top 10)
    nDCG@5   discounted gain of distinct expected documents in the top 5, over the ideal ordering

Answer metrics: citation validity (every [n] resolves and at least one cites an expected document),
abstention precision and recall on out-of-scope questions, mean answer length, latency, and what a reader
sees (`quality.py`): answer precision, point recall, false refusals.

Other kinds of set are recognised by their fields: conversations ("kind": unrelated or followup, with
"history"), near-domain questions to refuse ("family"), and variants beside their twins ("twin").

The set is split in two halves ("tune" and "test", stratified by question type), so defaults are chosen
on one half and reported on the other.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from . import quality
from .config import Settings
from .errors import InputError

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    expected: tuple[str, ...]
    type: str
    history: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # headings of the sections that answer it
    points: tuple[tuple[str, ...], ...] = ()  # what a good answer must say, each as lower-case alternatives
    kind: str = ""  # conversations: "unrelated" or "followup"; variants: how it is typed
    family: str = ""  # near-domain questions: what makes them unanswerable ("company", "pay", ...)
    twin: str = ""  # variants: the carefully typed question

    @property
    def in_scope(self) -> bool:
        return bool(self.expected)



def halves(cases: list[Case]) -> dict[str, str]:
    """A stratified split: within each question type, cases sorted by a hash of their id alternate
    between "tune" and "test", so both halves hold the same mix (paraphrases, out-of-scope, follow-ups).
    """
    out: dict[str, str] = {}
    by_type: dict[str, list[Case]] = {}
    for case in cases:
        by_type.setdefault(case.type, []).append(case)
    for group in by_type.values():
        group.sort(key=lambda c: hashlib.sha256(c.id.encode()).hexdigest())
        for i, case in enumerate(group):
            out[case.id] = "tune" if i % 2 == 0 else "test"
    return out


def load_cases(path: Path, split: str = "all") -> list[Case]:
    if not path.is_file():
        raise InputError(f"no question set at {path}")
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            case = Case(
                raw["id"],
                raw["question"],
                tuple(raw.get("expected", ())),
                raw.get("type", raw.get("kind", raw.get("family", ""))),
                tuple(raw.get("history", ())),
                tuple(raw.get("sections", ())),
                tuple(tuple(p) for p in raw.get("points", ())),
                raw.get("kind", ""),
                raw.get("family", ""),
                raw.get("twin", ""),
            )
            if not isinstance(case.question, str) or not all(isinstance(d, str) for d in case.expected):
                raise TypeError("question and expected must be text")
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a valid question line ({exc})") from None
        cases.append(case)
    if split != "all":
        half = halves(cases)
        cases = [c for c in cases if half[c.id] == split]
    if not cases:
        raise InputError(f"{path} holds no questions for split {split!r}")
    return cases


def retrieval_metrics(ranked_docs: list[str], expected: tuple[str, ...]) -> dict[str, float]:
    """Metrics of one ranking (list of document paths, best first) against the expected documents.

    >>> retrieval_metrics(["a", "b", "a"], ("b",))
    {'hit@1': 0.0, 'hit@5': 1.0, 'mrr@10': 0.5, 'ndcg@5': 0.6309}
    """
    relevant = [doc in expected for doc in ranked_docs]
    first = next((i for i, r in enumerate(relevant[:10]) if r), None)
    seen: set[str] = set()
    dcg = 0.0
    for i, doc in enumerate(ranked_docs[:5]):
        if doc in expected and doc not in seen:
            seen.add(doc)
            dcg += 1 / math.log2(i + 2)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(expected), 5)))
    return {
        "hit@1": float(any(relevant[:1])),
        "hit@5": float(any(relevant[:5])),
        "mrr@10": 0.0 if first is None else 1 / (first + 1),
        "ndcg@5": round(dcg / ideal, 4) if ideal else 0.0,
    }


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def abstention(best: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    """(precision, recall) of "abstain when best cosine < threshold"; `best` is (cosine, out_of_scope)."""
    abstained = [oos for cosine, oos in best if cosine < threshold]
    oos_total = sum(1 for _, oos in best if oos)
    precision = sum(abstained) / len(abstained) if abstained else 1.0
    recall = sum(abstained) / oos_total if oos_total else 1.0
    return round(precision, 4), round(recall, 4)


def evaluate(bot, cases: list[Case], modes=MODES) -> dict:
    """Run every case through retrieval (each mode) and through `ask` (the default configuration)."""
    report: dict = {"questions": len(cases), "modes": {}, "by_type": {}}
    in_scope = [c for c in cases if c.in_scope]
    for mode in modes:
        rows = []
        for case in in_scope:
            sources = bot.retrieve(case.question, k=10, mode=mode, history=list(case.history))
            rows.append(retrieval_metrics([s.doc for s in sources], case.expected))
        report["modes"][mode] = {m: _mean([r[m] for r in rows]) for m in ("hit@1", "hit@5", "mrr@10", "ndcg@5")}

    valid, resolving, lengths, latencies, best, failures = [], [], [], [], [], []
    answered: list[tuple] = []
    per_type: dict[str, list[float]] = {}
    threshold = bot.settings.threshold
    for case in cases:
        started = time.perf_counter()
        answer = bot.ask(case.question, history=list(case.history), log_gaps=False)
        latencies.append((time.perf_counter() - started) * 1000)
        retrieval = answer.confidence
        # An abstention for a reason other than the threshold (a name or a figure the sources lack) holds
        # at every threshold: count it as a score of 0 for the precision/recall sweep.
        forced = answer.abstained and retrieval >= threshold
        best.append((0.0 if forced else retrieval, not case.in_scope))
        if case.in_scope:
            answered.append((answer, case))
            hit = retrieval_metrics([s.doc for s in answer.retrieved], case.expected)["hit@5"]
            per_type.setdefault(case.type or "other", []).append(hit)
        if not answer.abstained:
            lengths.append(len(answer.text.split()))
            numbers = answer.citations()
            resolves = bool(numbers) and all(1 <= n <= len(answer.sources) for n in numbers)
            resolving.append(float(resolves))
            cites_expected = any(s.doc in case.expected for s in answer.sources)
            if case.in_scope:
                valid.append(float(resolves and cites_expected))
                if not (resolves and cites_expected):
                    failures.append({"id": case.id, "problem": "citation", "cited": [s.doc for s in answer.sources]})
            elif not resolves:
                valid.append(0.0)
        if answer.abstained == case.in_scope:
            failures.append({"id": case.id, "problem": "abstained" if answer.abstained else "answered out of scope", "best": round(retrieval, 3)})
    precision, recall = abstention(best, threshold)
    report["answers"] = {
        "citation_validity": _mean(valid),
        "citations_resolve": _mean(resolving),
        "abstention_precision": precision,
        "abstention_recall": recall,
        "mean_words": round(statistics.fmean(lengths), 1) if lengths else 0.0,
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "threshold": threshold,
    }
    report["reader"] = quality.answer_measures(answered)
    report["by_type"] = {t: {"n": len(v), "hit@5": _mean(v)} for t, v in sorted(per_type.items())}
    report["sweep"] = [
        {"threshold": round(t, 3), "precision": p, "recall": r}
        for t in [x / 100 for x in range(10, 71, 2)]
        for p, r in [abstention(best, t)]
    ]
    report["failures"] = failures
    return report


def plot(report: dict, path: Path) -> None:
    """Abstention precision and recall against the threshold, with the chosen one marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [row["threshold"] for row in report["sweep"]]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    ax.plot(xs, [row["precision"] for row in report["sweep"]], label="abstention precision", marker=".")
    ax.plot(xs, [row["recall"] for row in report["sweep"]], label="abstention recall", marker=".")
    ax.axvline(report["answers"]["threshold"], color="grey", linestyle="--", label="chosen threshold")
    ax.set_xlabel("threshold (best sentence's cosine, or an asked question's less the offset)")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(f"Abstention on {report['questions']} labelled questions")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_table(report: dict) -> str:
    lines = [f"{'configuration':<14}{'hit@1':>8}{'hit@5':>8}{'MRR@10':>8}{'nDCG@5':>8}"]
    for mode, m in report["modes"].items():
        label = f"{mode} (default)" if mode == "hybrid" else mode
        lines.append(f"{label:<14}{m['hit@1']:>8.3f}{m['hit@5']:>8.3f}{m['mrr@10']:>8.3f}{m['ndcg@5']:>8.3f}")
    a = report["answers"]
    lines += [
        "",
        f"citation validity      {a['citation_validity']:.3f}   (every [n] resolves: {a['citations_resolve']:.3f})",
        f"abstention precision   {a['abstention_precision']:.3f}   recall {a['abstention_recall']:.3f}   (threshold {a['threshold']})",
        f"mean answer length     {a['mean_words']} words",
        f"ask latency p50        {a['latency_ms_p50']} ms",
        "",
        format_reader(report["reader"]),
        "",
        "hit@5 by question type: " + ", ".join(f"{t} {v['hit@5']:.2f} (n={v['n']})" for t, v in report["by_type"].items()),
    ]
    if report["failures"]:
        lines.append("misses: " + "; ".join(f"{f['id']} ({f['problem']})" for f in report["failures"]))
    return "\n".join(lines)


def format_reader(r: dict) -> str:
    return "\n".join(
        [
            f"answer precision       {r['answer_precision']:.3f}   (quoted sentences from a labelled section)",
            f"point recall           {r['point_recall']:.3f}   (points a good answer must make)",
            f"false refusals         {r['false_refusals']} of {r['answerable']} answerable ({r['false_refusal_rate']:.3f})",
            f"sources per answer     {r['sources_per_answer']}   (median {r['median_words']} words)",
        ]
    )


def set_kind(cases: list[Case]) -> str:
    """"variants", "refusals", "conversations" or "questions", from the fields the set's lines carry."""
    if any(c.twin for c in cases):
        return "variants"
    if any(c.family for c in cases):
        return "refusals"
    if any(c.kind in ("unrelated", "followup") for c in cases):
        return "conversations"
    return "questions"


def evaluate_special(bot, cases: list[Case], kind: str) -> dict:
    """Conversations, refusal families or variants (see `quality.py`)."""
    if kind == "conversations":
        rows = [(c, bot.ask(c.question, history=list(c.history), log_gaps=False), bot.ask(c.question, log_gaps=False)) for c in cases]
        return {"kind": kind, "questions": len(cases), **quality.conversation_measures(rows)}
    if kind == "refusals":
        rows = [(c, bot.ask(c.question, log_gaps=False)) for c in cases]
        return {"kind": kind, "questions": len(cases), **quality.family_measures(rows)}
    rows = [(c, bot.ask(c.question, log_gaps=False), bot.ask(c.twin, log_gaps=False)) for c in cases]
    return {"kind": kind, "questions": len(cases), **quality.variant_measures(rows)}


def format_special(report: dict) -> str:
    kind = report["kind"]
    if kind == "conversations":
        lines = [
            f"unrelated second questions answered as in a new chat   {report['unrelated_as_new_chat']:.3f}   (n={report['unrelated']})",
            f"follow-ups that find a labelled document (hit@5)       {report['followup_hit@5']:.3f}   (n={report['followups']})",
        ]
    elif kind == "refusals":
        lines = [
            f"near-domain abstention   {report['near_domain_abstention']:.3f}   (n={report['near_domain']})",
            f"off-topic abstention     {report['off_topic_abstention']:.3f}",
            "by family: " + ", ".join(f"{f} {v['abstention']:.2f} (n={v['n']})" for f, v in report["by_family"].items()),
        ]
        return "\n".join(lines + (["answered: " + ", ".join(report["answered"])] if report["answered"] else []))
    else:
        lines = [
            f"variants answered like their twin   {report['like_twin']:.3f}   (n={report['pairs']}; refused: {report['variant_refusals']} variants, {report['twin_refusals']} twins)",
            "by kind: " + ", ".join(f"{k} {v['like_twin']:.2f} (n={v['n']})" for k, v in report["by_kind"].items()),
        ]
    return "\n".join(lines + (["misses: " + ", ".join(report["misses"])] if report.get("misses") else []))


def evaluate_llm(bot, cases: list[Case]) -> dict:
    """llm mode (`eval --mode llm`): every question through `bot.stream`, then the grounding figures.

    supported_share     claims the model wrote that the passage they cite supports (all generations)
    citation_validity   written [n] that name a passage given to the model
    generated           answers shown as the model wrote them (checked); the rest fell back to extractive,
                        because too little was supported (ungrounded) or the model failed (unavailable:
                        unreachable, HTTP error, time-out, empty or endless output; see fallback_reasons)
    cites_expected      shown generated answers citing at least one expected document
    """
    counts = {"generated": 0, "ungrounded": 0, "unavailable": 0, "abstained": 0}
    claims = supported = citations = dangling = 0
    cites_expected: list[float] = []
    latencies: list[float] = []
    failures: list[dict] = []
    for case in cases:
        started = time.perf_counter()
        stream = bot.stream(case.question, history=list(case.history), log_gaps=False)
        answer = stream.answer
        latencies.append(time.perf_counter() - started)
        if stream.report is not None:
            claims += stream.report.claims
            supported += stream.report.supported
            citations += stream.report.citations
            dangling += stream.report.dangling
        if answer.abstained:
            counts["abstained"] += 1
        elif stream.generated:
            counts["generated"] += 1
            if case.in_scope:
                cites_expected.append(float(any(s.doc in case.expected for s in answer.sources)))
        else:
            counts["ungrounded" if stream.failure == "ungrounded" else "unavailable"] += 1
            failures.append({"id": case.id, "problem": stream.failure})
    reasons: dict[str, int] = {}
    for f in failures:
        reasons[f["problem"]] = reasons.get(f["problem"], 0) + 1
    return {
        "mode": "llm",
        "model": bot.settings.llm_model,
        "questions": len(cases),
        "answers": {
            **counts,
            "fallback_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "sentences_checked": claims,
            "supported_share": round(supported / claims, 4) if claims else 0.0,
            "citations_written": citations,
            "citation_validity": round((citations - dangling) / citations, 4) if citations else 0.0,
            "cites_expected": _mean(cites_expected),
            "latency_s_p50": round(statistics.median(latencies), 2) if latencies else 0.0,
            "support_threshold": bot.settings.llm_support_threshold,
        },
        "failures": failures,
    }


def format_llm_table(report: dict) -> str:
    a = report["answers"]
    shown = a["generated"] + a["ungrounded"] + a["unavailable"]
    lines = [
        f"llm mode, model {report['model']}, {report['questions']} questions",
        f"sentences supported      {a['supported_share']:.3f}   ({a['sentences_checked']} claims checked, threshold {a['support_threshold']})",
        f"citation validity        {a['citation_validity']:.3f}   ({a['citations_written']} citations written)",
        f"generated answers shown  {a['generated']} of {shown}   (fallbacks: {a['ungrounded']} too little supported, {a['unavailable']} model unavailable)",
        f"abstained                {a['abstained']}   (retrieval found nothing: the model was not asked)",
        f"cite an expected doc     {a['cites_expected']:.3f}   (generated answers to in-scope questions)",
        f"latency p50              {a['latency_s_p50']} s",
    ]
    if a.get("fallback_reasons"):
        lines.append("fallback reasons: " + "; ".join(f"{reason} ({n})" for reason, n in a["fallback_reasons"].items()))
    return "\n".join(lines)


def run_eval(args, settings: Settings) -> str:
    """The CLI command's report: a table (or JSON); the threshold plot is saved when asked for. The CLI
    prints it."""
    from .api import Assistant

    if getattr(args, "gaps", False):
        report = recheck_gaps(Assistant.load(settings=settings), settings)
        return json.dumps(report, indent=1, ensure_ascii=False) if args.json else format_gaps(report)
    cases = load_cases(Path(args.questions), args.split)
    if (getattr(args, "mode", None) or settings.answer_mode) == "llm":
        if not settings.llm_base_url or not settings.llm_model:
            raise InputError("eval --mode llm needs ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_MODEL")
        bot = Assistant.load(settings=settings.replace(answer_mode="llm"))
        report = evaluate_llm(bot, cases[: getattr(args, "limit", None)])
        return json.dumps(report, indent=1) if args.json else format_llm_table(report)
    bot = Assistant.load(settings=settings)
    kind = set_kind(cases)
    if kind != "questions":
        report = evaluate_special(bot, cases, kind)
        return json.dumps(report, indent=1) if args.json else format_special(report)
    report = evaluate(bot, cases)
    if args.plot:
        plot(report, Path(args.plot))
    conversations = getattr(args, "conversations", None)
    if conversations:
        report["conversations"] = evaluate_special(bot, load_cases(Path(conversations)), "conversations")
    if args.json:
        return json.dumps(report, indent=1)
    return format_table(report) + ("\n\n" + format_special(report["conversations"]) if conversations else "")


def recheck_gaps(bot, settings: Settings) -> dict:
    """Ask every distinct logged gap again, each in a fresh chat: how many the corpus now answers. Run it after
    editing the notes to see which of the questions people could not get answered now are."""
    from .logs import gaps

    seen: dict[str, str] = {}
    for record in gaps(settings):
        key = " ".join(record["question"].lower().split())
        if key and key not in seen:
            seen[key] = record["question"]
    rows = []
    for question in seen.values():
        answer = bot.ask(question, log_gaps=False)
        first = answer.sources[0] if answer.sources and not answer.abstained else None
        rows.append({
            "question": question,
            "answered": not answer.abstained,
            "reason": answer.reason if answer.abstained else "",
            "source": f"{first.doc} › {first.heading}" if first else "",
        })  # fmt: skip
    return {"asked": len(rows), "answered": sum(r["answered"] for r in rows), "questions": rows}


def format_gaps(report: dict) -> str:
    if not report["asked"]:
        return "No unanswered questions logged yet."
    lines = [f"{report['answered']} of {report['asked']} logged unanswered questions are answered now."]
    for r in report["questions"]:
        where = r["source"] if r["answered"] else f"still refused ({r['reason']})"
        lines.append(f"  {'✓' if r['answered'] else '·'} {r['question']}  — {where}")
    return "\n".join(lines)
