"""What a question asks for, read from its words alone: a piece of writing, a judgement of the reader's own
work, figures for pay or prices, another role than the ones the corpus is about, another language.

Pure text work (no model, no index): `decide.py` weighs these with what retrieval found. Each test is tuned
to leave ordinary questions alone: "How do I write clean ML code?" asks about writing, not for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .text import STOPWORDS
from .vocabulary import Vocabulary

_POLITE = r"^\s*(?:hi|hello|hey)?[,!.\s]*(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
_AUTHORING = re.compile(
    _POLITE + r"(?:(?:write|draft|translate|compose|rewrite|proofread|generate|summari[sz]e)\b|(?:make|create|build|design|give)\s+me\s+an?\b"
    r"|turn\s+(?:this|that|it|these)\s+into\b"
    r"|(?:give|show)\s+me\s+(?:\d+|a few|some|several|three|five|ten)\s+(?:[\w'-]+\s+){0,3}?(?:options|ideas|versions|variations|headlines|titles|taglines|bios|names|drafts)\b)",
    re.I,
)


def asks_for_writing(question: str) -> bool:
    """Whether `question` asks the assistant to write something (code, a letter, a translation, a plan made
    for the reader) rather than asks what the sources say. An extractive assistant can only quote; close
    passages ("PyTorch", "cover letter") would otherwise be quoted as if they were the work.

    >>> asks_for_writing("Can you write the PyTorch code for an attention layer?")
    True
    >>> asks_for_writing("How do I write clean, testable ML code?")
    False
    """
    return bool(_AUTHORING.search(question))


_MINE = r"\b(my|mine|our)\b"
_WORK = (
    r"(cv|résumé|resume|github|portfolio|profile|projects?|cover letter|linkedin|code|notebook|repo|repository|application|"
    r"background|plan|idea|model|kaggle|readme|take-home|solution|assignment|summary|thesis|answer|query|sql|script|function|"
    r"letter|essay|statement|post|bio|headline|pitch)"
)
_JUDGE = re.compile(
    r"\bproofread\b|\b(critique|roast)\s+(it|this|my)\b|\bwhat'?s\s+wrong\s+with\s+(my|this)\b"
    + r"|\b(review|rate|assess|evaluate|judge|grade)\b[^.?!]{0,30}" + _MINE
    + r"|\b(can|could|would|will)\s+you\s+(please\s+)?(check|read|look over)\b[^.?!]{0,30}" + _MINE
    + r"|\b(look|go)\s+(at|over|through)\b[^.?!]{0,30}" + _MINE
    + r"|\b(feedback|thoughts|opinion)\s+on\b[^.?!]{0,30}" + _MINE
    + r"|\b(grade|rate|score)\s+(it|this|that|these|them)\b"
    + r"|\b(does|do|would)\b[^.?!]{0,40}" + _MINE + r"[^.?!]{0,60}\b(sound|look|read|seem|come across)\s+(too\s+|a bit\s+|very\s+|kind of\s+|kinda\s+)?"
    r"(generic|unprofessional|professional|good|bad|ok|okay|fine|weak|strong|cringe|cringy|amateurish|boring|cluttered|messy|off|right)\b"
    + r"|\b(what are|what're|how are|how good are)\s+my\s+(chances|odds|prospects)\b"
    + r"|\bdo i (have|stand) (a|any) (real )?chance\b"
    + r"|\b(my|mine|this)\s+" + _WORK + r"\b[^?!]{0,160}\b(good enough|any good|strong enough|competitive enough|"
    r"is (it|that|this) (good|ok|okay|enough|strong|competitive|fine)|does (it|this|that) work|what do you think|how does (it|this) (look|sound))\b"
    + r"|\b(here'?s|here is|this is|below is|attached is)\s+(the\s+\w+\s+(of|for)\s+)?my\s+(\w+\s+){0,2}" + _WORK + r"\b",
    re.I,
)


def asks_for_review(question: str) -> bool:
    """Whether `question` asks the assistant to judge something of the reader's own (a CV, a GitHub
    profile, a project idea, their chances), which the sources cannot see.

    >>> asks_for_review("Can you look at my GitHub and tell me if my projects are good enough?")
    True
    >>> asks_for_review("What are my chances of getting an ML job at 40?")
    True
    >>> asks_for_review("How do I make my portfolio stand out?"), asks_for_review("Should my CV list Kaggle?")
    (False, False)
    """
    return bool(_JUDGE.search(question))


_MONEY = re.compile(
    r"\b(salar(y|ies)|wages?|earn(s|ing|ings)?|compensation|comp package|pay ?(rise|raise|band|scale|cut|check|packet|range)s?|"
    r"stock options?|equity|bonus(es)?|(hourly|day|daily) rate|rate should i charge|how much (do|does|did|will|would|can|could|should|might)\b[^?]{0,60}\b"
    r"(make|earn|pay|get paid|charge|cost)|(cost|costs|price|priced|fee|fees)\s+(per|a|an|each)\s+(hour|month|year|week|seat|token|course|exam|attempt)|"
    r"how much (is|are|was|were)\b[^?]{0,60}\b(subscription|course|exam|certificate|certification|degree|bootcamp|ticket|registration|tuition|gpu|plan)|"
    r"how much (is|are|was|were) (?!enough|too|reasonable|realistic|normal)[^?]{0,60}\b(per|a|an) (hour|month|year|week)|"
    r"(what|how much) (does|do|did|would|will)\b[^?]{0,100}\bcost|tuition|(price|cost) of|how expensive|raise should i expect|get paid)\b",
    re.I,
)
#: A money figure in a text: "$90,000", "€60k", "120k USD", "50 euros".
MONEY_FIGURE = re.compile(r"[$€£¥₹]\s?\d|\b\d[\d,.]*\s?(k|usd|eur|gbp|inr|dollars?|euros?|pounds?|rupees?)\b", re.I)


def asks_for_figures(question: str) -> bool:
    """Whether `question` asks for pay or prices, which need figures the answer would quote.

    >>> asks_for_figures("What salary does a junior ML engineer get?"), asks_for_figures("How much does Colab Pro cost per month?")
    (True, True)
    >>> asks_for_figures("How much maths do I need?"), asks_for_figures("Is a paid course worth the money?")
    (False, False)
    """
    return bool(_MONEY.search(question))


#: A name: one to three capitalised words ("Netflix", "Jane Street", "OpenAI").
_NAME = r"([A-Z][\w&.-]*[a-zA-Z](?:\s+[A-Z][\w&.-]*[a-zA-Z]){0,2})"
#: What a question asks about an employer: its culture, hiring, interviews, teams and ways of working.
_EMPLOYER_THING = (
    r"(culture|values|leadership principles|keeper test|work-life balance|interviews?|interview process|loop|onsite|on-site|"
    r"hiring( bar| process| committee)?|teams?|office|layoffs?|levels?|levelling|promotions?|perks|benefits|vacation|remote policy)"
)
#: (pattern, whether the question must also ask about hiring or working there): working somewhere is
#: context ("my job at Accenture"), asking how it hires or works is the question.
_EMPLOYER = [
    # "Netflix's culture", "OpenAI's interview process", "Google's ML engineer interviews"
    (re.compile(_NAME + r"'s\s+(?:[\w-]+\s+){0,3}?" + _EMPLOYER_THING + r"\b"), False),
    # "Does Jane Street hire ...", "How does JPMorgan interview ...", "Is Meta still hiring ..."
    (re.compile(r"\b(?i:does|do|did|is|are|was|will|would)\s+" + _NAME + r"\s+(?i:still\s+|really\s+|actually\s+|even\s+)?"
                r"(?i:hire|hiring|interview|interviewing|ask|pay|sponsor|allow|let|require|expect)\b"), False),
    # "ML engineers at Spotify", "an onsite loop with Netflix", "working at DeepMind"
    (re.compile(r"\b(?i:engineers?|people|employees|staff|scientists?|researchers?|work(?:ing)?|job|role|loop|onsite|interviews?|offer)"
                r"(?:\s+[a-z]+){0,3}?\s+(?:at|with|from)\s+" + _NAME + r"\b"), True),
    # "the Netflix 'keeper test' culture", "the DeepMind research engineer interview"
    (re.compile(r"\bthe\s+" + _NAME + r"\s+(?:['\"‘“]?[\w-]+['\"’”]?\s+){0,3}?" + _EMPLOYER_THING + r"\b"), False),
    # "Which Amazon leadership principles come up most?"
    (re.compile(_NAME + r"\s+(?:[\w-]+\s+){0,2}?(?:leadership principles|culture|hiring bar|hiring committee|interview process|keeper test)\b"), False),
]


#: Capitalised words that are no employer's name ("Which Amazon …": the name is "Amazon").
_NOT_NAMES = {"i", "i'm", "ml", "ai", "the", "a", "an", "my", "our", "their", "your", "which", "what", "how", "is", "does", "do", "why", "when", "where", "who"}
#: Words that ask how an employer hires or works.
_EMPLOYER_WORDS = re.compile(r"\b" + _EMPLOYER_THING + r"\b|\b(hire|hiring|interview\w*|remote|work-life|pay)\b", re.I)


def employer_names(question: str) -> list[str]:
    """The names a question asks about as employers: their culture, hiring, interviews or teams. The sources
    describe kinds of employers, never a particular one.

    >>> employer_names("Does Jane Street hire ML people from non-finance backgrounds?")
    ['Jane Street']
    >>> employer_names("What's OpenAI's interview process for research engineers like?")
    ['OpenAI']
    >>> employer_names("How do I prepare for ML interviews at a start-up?"), employer_names("Is PyTorch's API hard to learn?")
    ([], [])
    """
    found = []
    asks_about_work = bool(_EMPLOYER_WORDS.search(question))
    for pattern, needs_work_words in _EMPLOYER:
        if needs_work_words and not asks_about_work:
            continue
        for m in pattern.finditer(question):
            name = " ".join(w for w in m.group(1).split() if w.lower() not in _NOT_NAMES)
            if name:
                found.append(name)
    return list(dict.fromkeys(found))


#: The nouns that end a role's name.
_ROLE_NOUN = (
    r"engineers?|developers?|analysts?|scientists?|designers?|managers?|researchers?|architects?|administrators?|"
    r"admins?|consultants?|specialists?|testers?|technicians?|programmers?|statisticians?|actuar(?:y|ies)|quants?|"
    r"sres?|officers?|directors?|teachers?|tutors?|writers?|marketers?|recruiters?|pilots?|nurses?|doctors?|physicians?|"
    r"lawyers?|accountants?|chefs?|cooks?|plumbers?|electricians?|journalists?|photographers?|actors?|artists?|"
    r"musicians?|pharmacists?|dentists?|therapists?|psychologists?|economists?|bankers?|traders?|firefighters?|"
    r"salespeople|salesperson|mechanics?|carpenters?"
)
_ROLE = re.compile(rf"\b((?:[a-z0-9+#/&-]+\s+){{0,3}}?(?:{_ROLE_NOUN})(?:\s+(?:{_ROLE_NOUN}))?)\b", re.I)
_TARGET = re.compile(
    r"\b(become|becoming|get into|getting into|break into|breaking into|hired as|job as|jobs as|"
    r"career as|switch to|switching to|transition to|transitioning to|move into|moving into|roadmap (to|for)|path to|"
    r"interviews? for|to be an?|get hired as|land an?|qualify as|train as|apply as|role as|"
    r"(switch|switching|move|moving|transition|transitioning|pivot|pivoting)\s+from\s+(?:[\w'-]+\s+){1,4}?(?:to|into))\b",
    re.I,
)
#: Words that make a role one of ours when it ends in engineer, scientist or researcher ("NLP engineer").
_ML_WORDS = re.compile(r"\b(ml|machine learning|ai|artificial intelligence|deep learning|nlp|computer vision|mlops|llm|genai|applied)\b", re.I)
_FIELD = re.compile(r"\b(ml|machine learning|ai|artificial intelligence|deep learning|mlops|llms?)\b", re.I)


def role_phrases(text: str) -> list[tuple[int, int, str]]:
    """(start, end, phrase) of each role named in `text` (up to three words before a role noun)."""
    out = []
    for m in _ROLE.finditer(text):
        words = m.group(1).split()
        # Words up to the last one that cannot be part of a role's name ("the difference between an") go.
        cut = max((i + 1 for i, w in enumerate(words[:-1]) if w.lower() in _NOT_IN_ROLE or w.lower() in STOPWORDS), default=0)
        words = words[cut:]
        phrase = " ".join(words)
        if len(words) == 1 and not words[0].isupper():  # "an engineer", "my manager": no role named
            continue
        out.append((m.end() - len(phrase), m.end(), phrase))
    return out


_NOT_IN_ROLE = frozenset(
    "a an the as to be become becoming into i im i'm me my our your their his her for of and or vs versus from at in "
    "on with how what which who do does is are was get hired work working job jobs career switch move moving land "
    "good great new junior senior lead entry level mid first one two three any some every each this that between "
    "difference differences compared versus like than".split()
)


def is_our_role(phrase: str, vocabulary: Vocabulary) -> bool:
    """Whether a role phrase names a role the corpus is about: one of the vocabulary's `[roles]` (any
    seniority before it), or an engineer, scientist or researcher of an ML subject ("NLP engineer")."""
    low = " ".join(vocabulary.expand(phrase).lower().replace("(", " ").replace(")", " ").split())
    low = re.sub(r"(?<=[a-z])s$", "", low)  # "research engineers" is "research engineer"
    if any(low == r or low.endswith(" " + r) or f"{r} " in f"{low} " for r in vocabulary.roles):
        return True
    return bool(_ML_WORDS.search(low)) and bool(re.search(r"(engineer|scientist|researcher)s?$", low)) and not re.search(
        r"\b(product|project|program|sales|marketing)\b", low
    )


def other_role(question: str, vocabulary: Vocabulary) -> tuple[str, bool]:
    """The role `question` asks about when it is not one the corpus is about, else "", and whether the
    question says it is the role to enter (else it only names it).

    A role after "become", "hired as", "roadmap to" … is what the question is about, and so is a field in "a
    cover letter for a teaching job"; without one, a question comparing other roles only ("SRE vs DevOps
    engineer?") or asking what one does names them. A question that names one of ours ("Can a data analyst
    become an ML engineer?") is ours.

    >>> v = Vocabulary(roles=frozenset({"machine learning engineer", "ml engineer"}))
    >>> other_role("How do I become a UX designer for AI products?", v)
    ('UX designer', True)
    >>> other_role("Can a data analyst become an ML engineer?", v), other_role("I'm a data analyst; what should I learn for ML?", v)
    (('', False), ('', False))
    """
    roles = role_phrases(question)
    if any(is_our_role(p, vocabulary) for _, _, p in roles) or _PATH.search(question):
        return "", False
    for target in _TARGET.finditer(question):
        if _OWN_JOB.search(question[: target.end()]):  # "my first job as a data analyst": where they are now
            continue
        if _NOT_WANTED.search(question[max(0, target.start() - 40) : target.start()]):  # "no interest in becoming a data scientist"
            continue
        after = [p for start, _, p in roles if 0 <= start - target.end() <= 12]
        if after:
            return after[0], True
    job = _JOB.search(question)
    if job and not _FIELD.search(job.group(1)) and not is_our_role(job.group(1), vocabulary):
        return f"{job.group(1)} {job.group(2)}", True
    if not roles:
        return "", False
    # No stated target: a question comparing other roles only ("SRE vs DevOps engineer?") or asking what
    # one does ("What does a UX designer do?") is about them, unless it names an ML field outside them.
    compares = len({p.lower() for _, _, p in roles}) >= 2
    asks_what = re.search(r"\bwhat (does|do) (an?|the)\s+[\w\s-]{1,40}\s+do\b", question, re.I)
    if not (compares or asks_what):
        return "", False
    outside = question
    for start, end, _ in sorted(roles, reverse=True):
        outside = outside[:start] + " " + outside[end:]
    return ("", False) if _FIELD.search(outside) else (roles[0][2], False)


#: A role taken on the way to ML is ours to talk about: "Should I become a data analyst first?"
_PATH = re.compile(
    r"\b((role|job|position|" + _ROLE_NOUN + r") first|stepping[- ]stones?|on the way|along the way|before (moving|switching|going|getting)|then (move|switch|go)|"
    r"next step|(path|way|route) (in)?to (ml|machine learning|ai)|"
    r"(switch|switching|move|moving|transition|transitioning|get|getting|break|breaking)( over| across)? (in)?to (an? )?(ml|machine learning|ai))\b",
    re.I,
)
#: "a cover letter for a teaching job": the field of a job, role or position asked about ("in a nightly batch
#: job" is a program that runs, not a job to have).
_JOB = re.compile(
    r"\b(?:for|as|into)\s+an?\s+(?!(?:\w+\s+)?(?:batch|cron|nightly|scheduled|training|background|spark|etl|airflow)\b)"
    r"((?:[a-z-]+\s+){0,1}[a-z-]+)\s+(job|role|position|career)s?\b",
    re.I,
)
#: A role the asker says they do not want to enter: what they want is something else.
_NOT_WANTED = re.compile(r"\b(no|zero|not|never|little|without)\b[\w\s']{0,25}$|n't\s+(\w+\s+){0,3}$|\b(nor|rather than|instead of)\s*$", re.I)
#: A job the asker has now ("my first job as", "I work as"), not one they want.
_OWN_JOB = re.compile(r"\b(my\s+(first|new|current|day|old)?\s*(job|role|position)\s+as|i\s+work\s+as)\s*$", re.I)


_LEGAL = re.compile(
    r"\b(visas?|work permits?|(visa |h-?1b )sponsor(ship|s|ed)?|sponsor(ship|s|ed)?(?=[^.?!]{0,30}\b(visas?|permits?|h-?1b))|immigration|green card|h-?1b|opt\b|stem extension|blue card|"
    r"residence permit|citizenship|non-?compete|clause|enforceable|lawsuit|legal(ly)?|labou?r law|employment law|"
    r"ip assignment|severance|tax(es|ed|ation)?|ir35|umbrella company|limited company|vat|ai act|gdpr compliance)\b",
    re.I,
)


def asks_for_legal(question: str) -> bool:
    """Whether `question` turns on visas, employment law, contracts or tax: advice the sources do not give.

    >>> asks_for_legal("Will a UK company sponsor my visa?"), asks_for_legal("Is a non-compete clause enforceable?")
    (True, True)
    >>> asks_for_legal("Why should ML engineers care about ethics?"), asks_for_legal("Would my company sponsor a part-time master's?")
    (False, False)

    In a long message only the question itself counts: "I'm on a student visa, so time matters. Should I keep
    applying the same way?" asks about the job search.
    """
    return bool(_LEGAL.search(asked_part(question)))


def asked_part(message: str, words: int = 25) -> str:
    """The sentences of a long message that ask (end in "?"), or its last sentence; a short one whole.

    >>> asked_part("I'm on a student visa and have sent 120 applications since May, with three phone screens and no offers so far. Should I look at other roles?")
    'Should I look at other roles?'
    """
    if len(message.split()) <= words:
        return message
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", message.strip()) if s]
    asking = [s for s in sentences if s.rstrip().endswith("?")]
    return " ".join(asking or sentences[-1:])


_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def looks_english(question: str, knows: Callable[[str], bool], close: Callable[[str], bool] | None = None) -> bool:
    """Whether `question` is in English.

    Not when most of its letters are not Latin, nor when three or more of its words (a quarter of them) are
    another language's and not English. Yes when most of its words are English or known to the corpus
    (`knows`). Otherwise the words that are not: not English when at least two of them are words of one other
    language (`spelling.other_language_hits`); English when most words are at least close to a known one (`close`:
    "machin lerning enginer skils" is typed in a hurry, not in another language).

    >>> english = {"what", "is", "data", "leakage", "the", "difference"}.__contains__
    >>> looks_english("What is data leakage?", english), looks_english("¿Qué es el data leakage en los modelos?", english)
    (True, False)
    >>> looks_english("机器学习工程师的面试一般有哪些环节？", english)
    False
    >>> also = {"est", "en", "pour", "maths", "machine", "learning"}.__contains__
    >>> looks_english("Est-ce que les maths sont vraiment indispensables pour devenir ingénieur en machine learning ?", also)
    False
    """
    from .spelling import other_language_hits

    letters = [c for c in question if c.isalpha()]
    if not letters:
        return True
    latin = sum(1 for c in letters if _LATIN.match(c))
    if latin / len(letters) < 0.7:
        return False
    words = [w.lower().replace("’", "'") for w in re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", question) if len(w) >= 2]
    if len(words) < 4:
        return True
    unknown = [w for w in words if not knows(w)]
    language, hits = other_language_hits(unknown)
    # Another language's words are often English ones too ("pour", "est", "vale") or the corpus's ("machine
    # learning"), so a question can look half English: three or more words of one other language that are
    # not English, a quarter of all its words, still make it that language.
    if hits >= 3 and hits / len(words) >= 0.25:
        return False
    if len(unknown) / len(words) <= 0.5:
        return True
    if language:
        return False
    near = sum(1 for w in unknown if close is not None and close(w))
    return (len(words) - len(unknown) + near) / len(words) > 0.5


#: A named credential or course: two or more capitalised words (a name may hold "of", "for", "in" or "and")
#: right before the kind of thing it is ("TensorFlow Developer Certificate", "'Fundamentals of Deep Learning'
#: course", "AWS Machine Learning Specialty exam").
_CREDENTIAL = re.compile(
    r"((?:[A-Z][\w+&.-]*|[A-Z]{2,}|of|for|in|and)(?:[\s'’\"]+(?:[A-Z][\w+&.-]*|of|for|in|and))+)['’\"]?\s+"
    r"((?i:certificates?|certifications?|certs?|exams?|courses?|speciali[sz]ations?|nanodegrees?|bootcamps?|programmes?|programs?))\b"
)


def named_credentials(question: str) -> list[str]:
    """Names of certificates, exams, courses or programmes in `question` (typed with ordinary capitals).

    >>> named_credentials("Is the TensorFlow Developer Certificate still a thing?")
    ['TensorFlow Developer Certificate']
    >>> named_credentials("Is NVIDIA's 'Fundamentals of Deep Learning' course free?")
    ['Fundamentals of Deep Learning course']
    >>> named_credentials("Is an AWS certification worth it?"), named_credentials("Are online courses worth it?")
    ([], [])
    """
    return [name for name, _ in credential_spans(question)]


def credential_spans(question: str) -> list[tuple[str, str]]:
    """(name, the text it was typed as) for each named credential (see `named_credentials`)."""
    out = []
    for m in _CREDENTIAL.finditer(question):
        name = re.sub(r"^(?:of|for|in|and)\s+", "", m.group(1).strip(" '’\""))
        if sum(1 for w in name.split() if w[:1].isupper()) >= 2:
            typed = question[m.end(1) - len(m.group(1).lstrip()) : m.end()]
            typed = re.sub(r"^(?:of|for|in|and)\s+", "", typed.lstrip(" '’\""))
            out.append((" ".join(w.strip("'’\"") for w in name.split()) + " " + m.group(2), typed))
    return out

