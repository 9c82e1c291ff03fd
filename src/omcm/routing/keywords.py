"""Magic keywords in a user prompt: the mode it asks for, or a cancel.

``detect(prompt)`` is pure (no I/O, no clock) and runs on every prompt, so a
prompt without any keyword stem costs one ``lower()`` and a few substring
scans; the regexes are compiled only when a stem is present.

Keywords (case-insensitive, whole words):

* ``hulw``: ``hulw``, ``hybrid ultrawork`` (or ``hybrid-ultrawork``), ``하이브리드 울트라워크``
* ``ulw``: ``ulw``, ``ultrawork``, ``울트라워크``
* ``autopilot``: ``autopilot``, ``오토파일럿``
* ``save-tokens``: ``save-tokens``, ``토큰 절약 모드``. Plain "save tokens" is
  ordinary English ("help me save tokens") and is not a keyword.

Grammar. A keyword counts only where a user puts an instruction, never in the
middle of prose. First, text that is quoted rather than said is blanked out:
fenced code (``` and ~~~, even mid-line; unclosed, to the end), inline code, URLs,
anything containing ``/`` or ``\\`` (paths), quoted strings ("…", '…', “…”,
curly single quotes, «…», 「…」, 『…』), XML-like tags with their content
(``<x>…</x>``, ``<system-reminder>``), HTML comments, ``{…}`` blobs (JSON),
block quotes (``> …``) and pasted hook output (lines starting ``[OMCM]``,
``OMCM:``, ``⎿``, ``⏺`` or containing "hook additional context:" and the like).
In what is left, a keyword triggers in one of these forms:

1. **Slash command** at the very start: ``/hulw <task>``, ``/omcm:hulw <task>``,
   ``/omcm:cancel-autopilot`` (Claude Code hands the hook the typed text, not
   the expanded command; a prompt starting with any *other* slash command is
   that command's business and never triggers).
2. **Label** at the start of any line: ``hulw: <task>`` (also ``hulw mode:``,
   ``please hulw:``). Explicit, so it triggers even when the task is a question.
3. **Leading** at the start of the first or last line: ``ulw fix the tests``,
   ``please ulw …``, ``use hulw to …``, ``ulw!``, ``(ulw) …``; Korean
   ``울트라워크로 …``, ``울트라워크를 켜고 …``.
4. **Trailing** at the end of the first or last line: ``<task> ulw``,
   ``<task> with hulw`` (also ``using``/``via``), ``<task> (ulw)``, optionally
   followed by ``please``/``thanks``/``now``; Korean, whose verb comes last, also
   ``<task> 울트라워크로 해줘`` (keyword with 로/으로, then at most two words).

"First/last line" means the first/last non-blank line of the visible text, so a
task line followed by a pasted log, or context followed by a task line, works.

``autopilot`` directly followed by ``hulw``, ``fusion`` or ``with fusion`` (or
``hulw autopilot``) sets ``fusion_requested``; ``hulw`` always sets it (it is
fusion by definition); plain ``autopilot`` leaves it False so the caller applies
``fusion_default``. **Cancel**: ``cancel|stop|end|exit|quit|abort|disable|turn
off <kw>`` or ``<kw> off`` in a leading or trailing position, Korean ``<kw>
취소|중지|종료|해제|그만|꺼``, or ``/omcm:cancel-<kw>``.

Bare forms (3, 4) are refused when the keyword is talked *about* rather than
used: (a) the sentence holding it is a question (ends with ``?``, opens with a
wh-word or an auxiliary such as "is"/"does", or a Korean interrogative ending
or question word), unless it is a polite request ("can you …", "please …",
"…해줄래?"); (b) a leading keyword is the subject of what follows: an auxiliary,
a third-person or past verb, a conjunction ("autopilot is broken", "autopilot
keeps crashing", "ulw vs hulw", "ulw's"), or a Korean subject/topic particle
("ulw가", "울트라워크는"); (c) a trailing keyword is the object of the word
before it: a determiner, preposition, conjunction, copula, an "explain"-like
verb, a negation nearby, or the sentence's only other word ("fix autopilot"),
or the sentence reports rather than orders ("I tried autopilot"). Only the
explicit forms (1, 2) bypass these checks: ``ulw: what does this do?``
triggers, ``what does ulw do?`` does not.
"""

from __future__ import annotations

from omcm.routing.modes import FUSION_WORDS, MODES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable
    from functools import cached_property
    from re import Match, Pattern
    from typing import Any
else:

    class _LazyRe:
        """``re`` loads on first use: a prompt without a keyword stem never needs it, and
        importing it (with enum, functools, collections) costs a third of a hook's budget."""

        def __getattr__(self, name: str) -> object:
            import re as module

            globals()["re"] = module
            return getattr(module, name)

    re = _LazyRe()

    class cached_property:
        """Compute an attribute once per instance (functools would cost an import here)."""

        def __init__(self, compute: Callable[[Any], Any]) -> None:
            self.compute = compute
            self.name = compute.__name__

        def __get__(self, instance: object, owner: type | None = None) -> Any:
            if instance is None:
                return self
            value = self.compute(instance)
            instance.__dict__[self.name] = value
            return value


class _Vocabulary:
    """What the mode table's aliases give the detector, worked out once per process.

    ``stems``: any prompt that can trigger contains one of them (after ``lower()``):
    each alias contains one in one of its words. ``starts``: where a keyword can
    start, the first word of each alias. (No regex here: a prompt without a stem
    must not load ``re``.)
    """

    def __init__(self) -> None:
        aliases = [(mode.name, alias) for mode in MODES.values() for alias in mode.aliases]
        single = sorted({a for _, a in aliases if " " not in a}, key=len)
        stems: list[str] = []
        for word in single:
            if not any(stem in word for stem in stems):
                stems.append(word)
        for _, alias in aliases:
            if not any(stem in word for stem in stems for word in alias.split()):
                stems.append(alias.split()[0])
        self.stems = tuple(stems)
        self.starts = tuple(dict.fromkeys(alias.split()[0] for _, alias in aliases))


def _alias_pattern(alias: str) -> str:
    return r"[ \t]*+-?[ \t]*+".join(re.escape(word) for word in alias.split())


_VOCABULARY: _Vocabulary | None = None


def _vocabulary() -> _Vocabulary:
    global _VOCABULARY  # noqa: PLW0603 - worked out once per process, on first prompt
    if _VOCABULARY is None:
        _VOCABULARY = _Vocabulary()
    return _VOCABULARY


def reset() -> None:
    """Forget the patterns built from the mode table (after a change to it, in tests)."""
    global _VOCABULARY, _GRAMMAR  # noqa: PLW0603
    _VOCABULARY = _GRAMMAR = None


class KeywordMatch:
    """What a prompt asks for: a mode (or a cancel of one) and the task left over.

    ``mode`` is a name in :data:`omcm.routing.modes.MODES`; ``task`` is the prompt without
    the trigger (stripped, may be empty); ``keyword`` is the trigger exactly as typed, which
    is ``prompt[span[0]:span[1]]`` (e.g. ``"with hulw"``, ``"hulw:"``,
    ``"/omcm:autopilot hulw"``, ``"cancel autopilot"``); ``form`` says which
    grammar form matched: ``slash``, ``label``, ``leading`` or ``trailing``.
    """

    __slots__ = ("cancel", "form", "fusion_requested", "keyword", "mode", "span", "task")

    mode: str
    cancel: bool
    fusion_requested: bool
    task: str
    keyword: str
    span: tuple[int, int]
    form: str

    def __init__(
        self,
        mode: str,
        *,
        cancel: bool = False,
        fusion_requested: bool = False,
        task: str = "",
        keyword: str = "",
        span: tuple[int, int] = (0, 0),
        form: str = "",
    ) -> None:
        values = (
            ("mode", mode),
            ("cancel", cancel),
            ("fusion_requested", fusion_requested),
            ("task", task),
            ("keyword", keyword),
            ("span", span),
            ("form", form),
        )
        for name, value in values:
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"KeywordMatch is frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"KeywordMatch is frozen: cannot delete {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (
            self.mode,
            self.cancel,
            self.fusion_requested,
            self.task,
            self.keyword,
            self.span,
            self.form,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeywordMatch):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"KeywordMatch(mode={self.mode!r}, cancel={self.cancel!r}, "
            f"fusion_requested={self.fusion_requested!r}, task={self.task!r}, "
            f"keyword={self.keyword!r}, span={self.span!r}, form={self.form!r})"
        )


def detect(prompt: str) -> KeywordMatch | None:
    """Return the mode or cancel ``prompt`` asks for, or None (the common case)."""
    low = prompt.lower()
    for stem in _vocabulary().stems:
        if stem in low:
            break
    else:
        return None
    if len(low) != len(prompt):  # a few letters lower to two characters; keep offsets aligned
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in prompt)
    for wide, narrow in _FOLD:
        if wide in low:
            low = low.replace(wide, narrow)
    grammar = _grammar()
    if low.lstrip().startswith("/"):
        return _slash(prompt, low, grammar)
    return _scan(prompt, _mask(low, grammar), grammar)


# ---------------------------------------------------------------- grammar
# Every pattern runs on the lowercased prompt: no IGNORECASE (it makes compiling
# and matching several times slower), and Hangul is matched as \w, because a
# [가-힣] range alone costs a millisecond to compile.

_CANCEL_VERBS = (
    r"cancel|stop|end|exit|quit|abort|disable|deactivate|kill"
    r"|turn[ \t]++off|switch[ \t]++off|shut[ \t]++off"
)
_ACT_VERBS = r"use|enable|activate|engage|start|run|turn[ \t]++on|switch[ \t]++(?:on|to)"
# Korean particles that may be glued to a keyword (longest first).
_PARTICLES = (
    "모드로|모드에서|모드를|모드가|모드는|모드|으로|로써|로|이랑|랑|에서|에게|에|이란|란"
    "|이라는|라는|이라|라|이|가|은|는|을|를|의|도|와|과|하고|만|처럼|보다|까지|부터|야|요"
)
_INSTRUMENT = frozenset(("모드로", "모드에서", "모드", "으로", "로써", "로", "요"))
_OBJECT = frozenset(("을", "를", "모드를"))
_EDGE_PUNCT = ",;:-\uff1a\u2013\u2014"  # also the full-width colon, en and em dashes
_QUOTES = ('"', "'")
# Typographic and full-width punctuation folded to ASCII before parsing (length kept),
# so every pattern below stays ASCII: a non-Latin-1 character class costs ~0.2 ms to
# compile. Curly, guillemet and CJK corner quotes become straight quotes.
_FOLD = (
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u00ab", '"'),
    ("\u00bb", '"'),
    ("\u300c", '"'),
    ("\u300d", '"'),
    ("\u300e", '"'),
    ("\u300f", '"'),
    ("\u2018", "'"),
    ("\u2019", "'"),
    ("\u3002", "."),
    ("\uff1f", "?"),
    ("\uff01", "!"),
    ("\uff1a", ":"),
    ("\u2026", "."),
    ("\u2013", "-"),
    ("\u2014", "-"),
)
_LINE_MARKS = (">", "[omcm]", "omcm:", "\u23bf", "\u23fa")  # quote, OMCM, Claude Code UI


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _stems(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# A leading keyword followed by one of these is the subject of a statement: an
# auxiliary, a third-person or past verb (an order would use the bare verb), or a
# conjunction ("ulw and hulw", "ulw vs hulw").
_SUBJECT_NEXT = _words("""
    is isn't are aren't was wasn't were weren't be been am does doesn't do don't did didn't
    has hasn't have haven't had can can't cannot could couldn't should shouldn't would
    wouldn't will won't shall may might must not never itself
    lets runs makes takes uses gives allows enables goes needs helps provides supports
    handles creates sends calls returns starts stops hangs fails works breaks crashes keeps
    seems looks appears tries says shows gets sets adds writes reads wants means stands
    ran made took used gave allowed enabled went needed helped created started stopped hung
    failed worked broke broken crashed kept seemed looked appeared tried said showed got
    and or nor vs vs. versus & + = ->
""")
# A trailing keyword right after one of these is that word's object. ("this" and
# "that" are missing on purpose: in "fix this ulw" they are pronouns.)
_OBJECT_PREV = _words("""
    a an the my your our their his her its any some no every each
    which what whose about of in on at to into onto from for by like than between among
    against over under regarding re without within per versus vs vs. after before during
    and or nor but & + plus is are was were be been being am does do did has have had can
    could should would will shall may might must isn't aren't wasn't doesn't didn't
    explain explains explained describe describes define document documents mean means
    meant called named mention mentioned say says said know knows understand learn
    compare remember not never
""")
# A sentence opening with one of these reports something; it does not give an order,
# unless a wish or duty follows ("we should …", "I want …").
_STATEMENT_START = _words("""
    i i'm i've we we're we've it it's he she they they're there there's
""")
_WISH = _words("want wanna need needs would should must have has will can could")
# Sentences opening like these are questions, unless they are polite requests.
_QUESTION_START = _words("""
    what what's whats how how's why when where which who whom whose is isn't are aren't
    was were does doesn't did didn't can can't could should would shall has hasn't am
""")
_POLITE_START = _words("please pls kindly let's lets")
_POLITE_MODALS = _words("can could would will")
_POLITE_SUBJECTS = _words("you u we")
_DO_SUBJECTS = _words("you u we i they")  # "do you know ulw", not "do it with ulw"
# Korean: after a bare keyword, words that talk about it ("울트라워크 설명해줘") or
# negate it ("ulw 없이"); request endings; question endings and question words.
_KO_TALK_NEXT = (
    *_stems("""
    설명 소개 알려 뜻 의미 정의 차이 문서 관련 사용법 어떻게 뭐 무엇 뭔 왜 언제 어디 무슨 말고 없이
    빼고 제외 모드
"""),
    "안 ",
    "못 ",
)
_KO_POLITE = (
    "줄래",
    "주실",
    "주세요",
    "주겠",
    "줘",
    "주라",
    "해봐",
    "하자",
    "해라",
    "합시다",
    "줄수있",
    "줄 수 있",
)
_KO_QUESTION_ENDS = _stems("""
    뭐야 뭐지 뭔데 뭐예요 뭐에요 뭔가요 뭡니까 인가요 인가 인지 나요 까요 니 냐 는지 어때 어때요
""")
_KO_QUESTION_WORDS = _stems("뭐 무엇 뭔 무슨 어떻게 어떤 왜 언제 어디 누가 몇 차이")
_NEGATIONS = _words("""
    not never no without don't dont doesn't didn't won't can't cannot shouldn't instead
""")


class _Grammar:
    """The patterns, each compiled on first use: a prompt pays only for what it needs."""

    @cached_property
    def aliases(self) -> dict[str, str]:
        """Per mode, its aliases as one regex, longest first (a space in an alias matches
        any run of spaces or tabs, or one hyphen)."""
        return {
            mode.name: "|".join(_alias_pattern(a) for a in sorted(mode.aliases, key=len)[::-1])
            for mode in MODES.values()
        }

    @cached_property
    def keyword(self) -> Pattern[str]:
        modes = self.aliases
        return re.compile(
            r"(?<![\w@#$%&*+=~^|/\\.:'\"`-])"
            rf"(?:{_groups(modes)})"
            rf"(?P<particle>{_PARTICLES})?"
            r"(?![\w@#$%&*+=~^|/\\-])(?![.:][^\s.!?:,;)\]])"
        )

    @cached_property
    def slash(self) -> Pattern[str]:
        names = {m.name: "|".join(re.escape(c) for c in m.commands) for m in MODES.values()}
        return re.compile(r"\s*/(?:omcm:)?(?P<cancel>cancel-)?" rf"(?:{_groups(names)})(?=\s|$)")

    @cached_property
    def other_command(self) -> Pattern[str]:
        return re.compile(r"\s*/[\w:.-]+(?=\s|$)")

    # ------------------------------------------------------------ masking

    @cached_property
    def fence(self) -> Pattern[str]:
        # Not only at a line start: chat prompts often open one mid-line ("see: ```").
        # It ends at the next run of at least as many of its characters, or at the end.
        return re.compile(r"(?P<fence>(?P<ch>[`~])(?P=ch){2,}).*?(?:(?P=fence)(?P=ch)*|\Z)", re.S)

    @cached_property
    def markup(self) -> Pattern[str]:
        return re.compile(
            r"<(?:(?P<comment>!--)|(?P<close>/)?(?P<tag>[a-z][\w:.-]*+)"
            r"(?:\s[^<>]*+)?(?P<empty>/)?>)"
        )

    @cached_property
    def inline_code(self) -> Pattern[str]:
        return re.compile(r"(?P<bt>`+)[^\n]*?(?<!`)(?P=bt)(?!`)")

    @cached_property
    def quotes(self) -> Pattern[str]:
        # Other quotes were folded to these. An apostrophe ("don't") opens nothing:
        # a single quote counts only where it does not follow a letter.
        return re.compile(r"\"[^\"\n]*\"|'(?<![\w']')(?=\S)[^'\n]*(?<=\S)'(?![\w'])")

    @cached_property
    def slashes(self) -> Pattern[str]:
        return re.compile(r"[/\\]\S*")

    @cached_property
    def www(self) -> Pattern[str]:
        return re.compile(r"www\.\S+")

    @cached_property
    def marked_line(self) -> Pattern[str]:
        return re.compile(r"^[ \t]*+(?:>|\[omcm\]|omcm:|\u23bf|\u23fa)[^\n]*", re.M)

    @cached_property
    def hook_text(self) -> Pattern[str]:
        return re.compile(
            r"\bhook (?:additional context|error|output|feedback|returned"
            r"|blocking error)\b"
        )

    @cached_property
    def braces(self) -> Pattern[str]:
        return re.compile(r"\{[^{}]*\}")

    # ------------------------------------------------- words after a keyword

    @cached_property
    def mode_suffix(self) -> Pattern[str]:
        return re.compile(r"[ \t]*+-?[ \t]*+(?:mode(?![\w-])|모드(?:로|에서)?(?!\w))")

    @cached_property
    def fusion_suffix(self) -> Pattern[str]:
        """After a mode that takes fusion: a fusion word or a fusion mode's alias."""
        words = [re.escape(w) for w in FUSION_WORDS]
        words += [self.aliases[m.name] for m in MODES.values() if m.fusion]
        return re.compile(
            rf"[ \t]*+(?:with[ \t]++)?(?:{'|'.join(words)})(?:[ \t]*+(?:mode|모드))?"
            r"(?:으로|로)?(?![\w-])"
        )

    @cached_property
    def fusion_taker_suffix(self) -> Pattern[str]:
        """After a fusion mode's alias: a mode that takes fusion ("hulw autopilot")."""
        aliases = self.aliases[_fusion_taker()]
        return re.compile(rf"[ \t]++(?:{aliases})(?:으로|로)?(?![\w-])")

    @cached_property
    def on_suffix(self) -> Pattern[str]:
        return re.compile(r"[ \t]++on(?![\w-])")

    @cached_property
    def off_suffix(self) -> Pattern[str]:
        return re.compile(r"[ \t]++(?:off|cancel|stop)(?![\w-])")

    @cached_property
    def ko_cancel(self) -> Pattern[str]:
        return re.compile(
            r"[ \t]*+(?:모드[ \t]*+)?(?:를|을)?[ \t]*+"
            r"(?:취소|중지|종료|해제|그만|꺼|끄|멈)[\w \t]{0,8}(?=[.!?]|$)"
        )

    @cached_property
    def ko_act(self) -> Pattern[str]:
        return re.compile(
            r"[ \t]*+(?:모드[ \t]*+)?(?:를|을)?[ \t]*+"
            r"(?:켜|사용|써|쓰|이용|활용|실행|시작|돌려)(?!\w{0,12}[ \t]*+방?법)\w*+"
        )

    @cached_property
    def filler(self) -> Pattern[str]:
        return re.compile(r"[ \t]++(?:now|please|pls)(?![\w-])")

    @cached_property
    def ko_verb_tail(self) -> Pattern[str]:
        return re.compile(r"[ \t]*+\w+(?:[ \t]++\w+)?[ \t]*+[.!]*[ \t]*+")

    @cached_property
    def label(self) -> Pattern[str]:
        return re.compile(r"[ \t]*+:(?=\s|$)")

    @cached_property
    def separated(self) -> Pattern[str]:
        return re.compile(
            r"[ \t]*+(?:[.!,;:)\]]|$"
            r"|(?:to|and|then|for|so|in|on|with|now|please|pls)(?![\w-]))"
        )

    @cached_property
    def next_word(self) -> Pattern[str]:
        return re.compile(r"[ \t,]*([^\s,]+)")

    @cached_property
    def trail_end(self) -> Pattern[str]:
        return re.compile(
            r"[ \t]*+[)\]]?[ \t]*+[.!?,;]*[ \t]*+"
            r"(?:(?:please|pls|thanks|thank[ \t]++you|thx|ty|now|asap)[ \t]*+[.!]*[ \t]*+)?"
        )

    # ------------------------------------------------ words before a keyword

    @cached_property
    def lead(self) -> Pattern[str]:
        return re.compile(
            r"[ \t]*+(?:[(\[][ \t]*+)?(?:(?:please|pls|kindly|ok|okay|alright|now)"
            r"(?:[ \t]*+[,!])?[ \t]++)*"
            rf"(?:(?:(?P<cancel>{_CANCEL_VERBS})|(?P<act>{_ACT_VERBS})|(?P<turn>turn|switch))"
            r"[ \t]++(?:the[ \t]++)?)?"
        )

    @cached_property
    def tail(self) -> Pattern[str]:
        return re.compile(
            rf"(?<![\w'-])(?:(?P<conn>with|using|via)|(?P<cancel>{_CANCEL_VERBS})"
            rf"|(?P<act>{_ACT_VERBS}))[ \t]++(?P<the>the[ \t]++)?$"
        )

    # ------------------------------------------------------------ sentences

    @cached_property
    def sentence_end(self) -> Pattern[str]:
        return re.compile(r"(?<![.!?])[.!?]++(?=\s|$)")

    @cached_property
    def connector(self) -> Pattern[str]:
        return re.compile(r"(?:and[ \t]++then|to|and|then|so)(?![\w'-])[ \t]*+")


_GRAMMAR: _Grammar | None = None


def _grammar() -> _Grammar:
    global _GRAMMAR  # noqa: PLW0603 - compile once per process, on first need
    if _GRAMMAR is None:
        _GRAMMAR = _Grammar()
    return _GRAMMAR


# ---------------------------------------------------------------- masking


def _mask(low: str, g: _Grammar) -> str:
    """Blank out (with spaces, keeping newlines and offsets) text that is quoted, not said.

    One pass per kind of region, each run only when its marker character is
    present; fences go first because nothing inside them counts.
    """

    def blank(m: Match[str]) -> str:
        return _blank(m.group())

    text = low
    if "```" in text or "~~~" in text:
        text = g.fence.sub(blank, text)
    if "<" in text:
        text = _blank_spans(text, _markup_spans(text, g))
    if "`" in text:
        text = g.inline_code.sub(blank, text)
    if any(q in text for q in _QUOTES):
        text = g.quotes.sub(blank, text)
    if "/" in text or "\\" in text:
        text = _blank_paths(text, g)
    if "www." in text:
        text = g.www.sub(blank, text)
    if any(mark in text for mark in _LINE_MARKS):
        text = g.marked_line.sub(blank, text)
    if "hook " in text:
        text = _blank_hook_lines(text, g)
    for _ in range(8):  # innermost braces first; nested JSON takes a few rounds
        if "{" not in text:
            break
        text, count = g.braces.subn(blank, text)
        if not count:
            break
    return text


def _blank(part: str) -> str:
    if "\n" not in part:
        return " " * len(part)
    return "\n".join(" " * len(line) for line in part.split("\n"))


def _blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, at = [], 0
    for first, end in spans:
        if end <= at:
            continue
        start = max(first, at)
        pieces.append(text[at:start])
        pieces.append(_blank(text[start:end]))
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def _markup_spans(text: str, g: _Grammar) -> list[tuple[int, int]]:
    """Tags, each opening tag with everything up to its closing tag, and HTML comments."""
    spans: list[tuple[int, int]] = []
    unclosed: set[str] = set()  # names with no closing tag further on: never search again
    done = 0
    for m in g.markup.finditer(text):
        if m.start() < done:
            continue
        end = m.end()
        if m.group("comment"):
            close = text.find("-->", end)
            end = len(text) if close < 0 else close + 3
        elif not (m.group("close") or m.group("empty")) and m.group("tag") not in unclosed:
            end = _closing_tag(text, m.group("tag"), end, g) or end
            if end == m.end():
                unclosed.add(m.group("tag"))
        spans.append((m.start(), end))
        done = end
    return spans


def _closing_tag(text: str, name: str, at: int, g: _Grammar) -> int:
    """The end of ``</name>`` after ``at``, or 0."""
    while (close := text.find(f"</{name}", at)) >= 0:
        closing = g.markup.match(text, close)
        if closing is not None and closing.group("tag") == name:
            return closing.end()
        at = close + 2
    return 0


def _blank_paths(text: str, g: _Grammar) -> str:
    """Blank every whitespace-delimited token holding a ``/`` or ``\\`` (paths, URLs)."""
    spans, done = [], 0
    for m in g.slashes.finditer(text):
        start = m.start()
        while start > done and not text[start - 1].isspace():
            start -= 1
        spans.append((start, m.end()))
        done = m.end()
    return _blank_spans(text, spans)


def _blank_hook_lines(text: str, g: _Grammar) -> str:
    """Blank whole lines of pasted hook output ("… hook additional context: …")."""
    spans = []
    for m in g.hook_text.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        spans.append((start, len(text) if end < 0 else end))
    return _blank_spans(text, spans)


# ---------------------------------------------------------------- forms


def _groups(patterns: dict[str, str]) -> str:
    """One named group per mode (``m0``, ``m1`` … in table order; :func:`_mode` reads them)."""
    return "|".join(f"(?P<m{i}>{pattern})" for i, pattern in enumerate(patterns.values()))


def _mode(m: Match[str]) -> str:
    names = list(MODES)
    return next(names[i] for i in range(len(names)) if m.group(f"m{i}") is not None)


def _fusion_taker() -> str:
    """The mode that fusion can be added to by a word after it (autopilot)."""
    return next(m.name for m in MODES.values() if m.needs_fusion)


def _slash(prompt: str, low: str, g: _Grammar) -> KeywordMatch | None:
    m = g.slash.match(low)
    if m is None:
        if g.other_command.match(low):
            return None  # another command's arguments are that command's business
        return _scan(prompt, _mask(low, g), g)
    mode, end = _mode(m), m.end()
    cancel = m.group("cancel") is not None
    fusion = MODES[mode].fusion
    if MODES[mode].needs_fusion and not cancel:
        marker = g.fusion_suffix.match(low, end)
        if marker is not None:  # "/omcm:autopilot hulw <task>"
            fusion, end = True, marker.end()
    start = len(low) - len(low.lstrip())
    return _result(prompt, mode, g, cancel=cancel, fusion=fusion, span=(start, end), form="slash")


def _scan(prompt: str, visible: str, g: _Grammar) -> KeywordMatch | None:
    if not visible.strip():
        return None
    first_at = len(visible) - len(visible.lstrip())
    last_at = len(visible.rstrip()) - 1
    edges = (visible.rfind("\n", 0, first_at) + 1, visible.rfind("\n", 0, last_at) + 1)
    done = 0
    for at in _candidates(visible):
        if at < done:
            continue  # inside a keyword already looked at ("ultrawork" in "hybrid ultrawork")
        m = g.keyword.match(visible, at)
        if m is None:
            continue
        done = m.end()
        found = _classify(prompt, visible, m, edges, g)
        if found is not None:
            return found
    return None


def _candidates(visible: str) -> list[int]:
    """Offsets where a keyword may start, found with plain substring search (fast)."""
    found = set()
    for stem in _vocabulary().starts:
        at = visible.find(stem)
        while at >= 0:
            found.add(at)
            at = visible.find(stem, at + 1)
    return sorted(found)


class _Spot:
    """One keyword occurrence and the line it stands on (all offsets into the prompt)."""

    __slots__ = (
        "cancel",
        "end",
        "fusion",
        "line_end",
        "line_start",
        "mode",
        "particle",
        "start",
        "text",
    )

    def __init__(self, text: str, m: Match[str]) -> None:
        self.text = text
        self.start, self.end = m.span()
        self.line_start = text.rfind("\n", 0, self.start) + 1
        line_end = text.find("\n", self.end)
        self.line_end = len(text) if line_end < 0 else line_end
        self.mode = _mode(m)
        self.particle = m.group("particle")
        self.cancel = False
        self.fusion = MODES[self.mode].fusion

    def before(self) -> str:
        return self.text[self.line_start : self.start]

    def after(self) -> str:
        return self.text[self.end : self.line_end]

    def take(self, pattern: Pattern[str]) -> bool:
        """Extend the occurrence over ``pattern`` if the rest of the line starts with it."""
        m = pattern.match(self.text, self.end, self.line_end)
        if m is None:
            return False
        self.end = m.end()
        return True


def _classify(
    prompt: str, visible: str, m: Match[str], edges: tuple[int, int], g: _Grammar
) -> KeywordMatch | None:
    spot = _Spot(visible, m)
    if not _suffixes(spot, g):
        return None
    lead = g.lead.fullmatch(spot.before())
    colon = g.label.match(spot.text, spot.end, spot.line_end)
    if lead is not None and colon is not None:
        return _labelled(prompt, spot, lead, colon.end(), g)
    if spot.line_start not in edges:
        return None
    if lead is not None:
        return _leading(prompt, spot, lead, g)
    if g.trail_end.fullmatch(spot.after()) or _korean_verb_follows(spot, g):
        return _trailing(prompt, spot, g)
    return None


def _korean_verb_follows(spot: _Spot, g: _Grammar) -> bool:
    """Korean puts the verb last: "리팩토링 울트라워크로 해줘" ends in a keyword phrase too."""
    if spot.particle not in _INSTRUMENT:
        return False
    after = spot.after()
    return bool(g.ko_verb_tail.fullmatch(after)) and not any(
        ch.isascii() and ch.isalpha() for ch in after
    )


def _suffixes(spot: _Spot, g: _Grammar) -> bool:
    """Take the words that belong to the keyword; False when its particle makes it a mention."""
    particle = spot.particle
    if particle is not None and particle not in _INSTRUMENT and particle not in _OBJECT:
        return False
    if _hangul_next(spot):
        if spot.take(g.ko_cancel):
            spot.cancel = True
            return True
        if spot.take(g.ko_act):
            return True
    if particle in _OBJECT:
        return False  # "울트라워크를 설명해줘": the keyword is the object of another verb
    spot.take(g.mode_suffix)
    if MODES[spot.mode].needs_fusion and spot.take(g.fusion_suffix):
        spot.fusion = True
    elif MODES[spot.mode].fusion and spot.take(g.fusion_taker_suffix):
        spot.mode = _fusion_taker()  # "hulw autopilot": autopilot with fusion
    if spot.take(g.off_suffix):
        spot.cancel = True
    else:
        spot.take(g.on_suffix)
    return True


def _hangul_next(spot: _Spot) -> bool:
    rest = spot.text[spot.end : spot.line_end].lstrip(" \t")
    return bool(rest) and "\uac00" <= rest[0] <= "\ud7a3"


def _labelled(prompt: str, spot: _Spot, lead: Match[str], end: int, g: _Grammar) -> KeywordMatch:
    cancel = spot.cancel or lead.group("cancel") is not None
    start = spot.line_start + _verb_start(lead)
    fusion = spot.fusion
    if MODES[spot.mode].needs_fusion and not fusion:
        marker = g.fusion_suffix.match(spot.text, end, spot.line_end)
        if marker is not None:  # "autopilot: hulw <task>"
            fusion, end = True, marker.end()
    return _result(
        prompt, spot.mode, g, cancel=cancel, fusion=fusion, span=(start, end), form="label"
    )


def _verb_start(lead: Match[str]) -> int:
    """Where the trigger phrase starts in the line: its first word ("please", a verb) or
    the keyword itself; an opening bracket stays outside for :func:`_parens`."""
    text = lead.group()
    return len(text) - len(text.lstrip(" \t([")) if text.strip(" \t([") else lead.end()


def _leading(prompt: str, spot: _Spot, lead: Match[str], g: _Grammar) -> KeywordMatch | None:
    after = spot.after()
    verb = any(lead.group(name) is not None for name in ("cancel", "act", "turn"))
    cancel = spot.cancel or lead.group("cancel") is not None
    if lead.group("turn") is not None and not (spot.cancel or _on_taken(spot)):
        return None
    if (verb or spot.cancel) and not g.separated.match(after):
        return None  # "stop autopilot from crashing", "run autopilot tests"
    if verb or spot.cancel:
        spot.take(g.filler)  # "stop ultrawork now": "now" belongs to the order
    if not verb and spot.particle is None and _subject_next(after, g):
        return None
    if _is_question(_sentence(spot, g), g):
        return None
    start = spot.line_start + _verb_start(lead)
    start, end = _parens(spot, start)
    return _result(
        prompt,
        spot.mode,
        g,
        cancel=cancel,
        fusion=spot.fusion,
        span=(start, end),
        form="leading",
        connector=True,
    )


def _on_taken(spot: _Spot) -> bool:
    return spot.text[spot.line_start : spot.end].rstrip().endswith(" on")


def _subject_next(after: str, g: _Grammar) -> bool:
    if after.startswith("'"):
        return True  # "ulw's output", "autopilot's plan"
    if after.lstrip(" \t").startswith(_KO_TALK_NEXT):
        return True
    word = g.next_word.match(after)
    if word is None:
        return False
    token = word.group(1).rstrip(".,!?:;")
    return token in _SUBJECT_NEXT or word.group(1).startswith("?")


def _trailing(prompt: str, spot: _Spot, g: _Grammar) -> KeywordMatch | None:
    before = spot.before()
    tail = g.tail.search(before)
    start = spot.start
    cancel = spot.cancel
    if tail is not None and tail.group("the") is not None and tail.group("conn") is not None:
        return None  # "with the autopilot": a thing, not a mode
    words = _clause_words(before, g)
    if _NEGATIONS.intersection(words[-4:]):
        return None  # "don't use ulw", "without autopilot"
    if tail is not None:
        start = spot.line_start + tail.start()
        cancel = cancel or tail.group("cancel") is not None
    elif _object_of_previous(words):
        return None
    if _is_question(_sentence(spot, g), g):
        return None
    start, end = _parens(spot, start)
    return _result(
        prompt, spot.mode, g, cancel=cancel, fusion=spot.fusion, span=(start, end), form="trailing"
    )


def _clause_words(before: str, g: _Grammar) -> list[str]:
    """The words of the sentence that ends with the keyword (the text is lowercase)."""
    clause = before
    for cut in g.sentence_end.finditer(before):
        clause = before[cut.end() :]
    words = [w.strip(".,;:!?()[]") for w in clause.split()]
    return [w for w in words if w]


def _object_of_previous(words: list[str]) -> bool:
    """True when a bare trailing keyword is talked about rather than used."""
    if not words:
        return False
    if words[-1] in _OBJECT_PREV:
        return True  # "the autopilot", "between ulw and hulw", "explain autopilot"
    if words[0] in _STATEMENT_START and not (len(words) > 1 and words[1] in _WISH):
        return True  # "I tried autopilot": a report, not an order
    if words[0] in ("please", "pls", "kindly"):
        words = words[1:]
    # "fix autopilot", "test ulw": an English verb whose object is the keyword.
    return len(words) == 1 and words[0].isascii() and words[0].isalpha()


def _sentence(spot: _Spot, g: _Grammar) -> str:
    """The sentence holding the occurrence, with the occurrence itself taken out."""
    line = spot.text[spot.line_start : spot.line_end]
    start, end = spot.start - spot.line_start, spot.end - spot.line_start
    head, tail = line[:start], line[end:]
    for cut in g.sentence_end.finditer(head):
        head = head[cut.end() :]
    stop = g.sentence_end.search(tail)
    if stop is not None:
        tail = tail[: stop.end()]
    return (head + " " + tail).strip()


def _is_question(sentence: str, g: _Grammar) -> bool:
    text = sentence.strip(" \t.!,;:)]\"'")
    if not text:
        return False
    words = [w.strip(",:;") for w in text.split(None, 2)[:2]]
    first, second = words[0], (words[1] if len(words) > 1 else "")
    if first in _POLITE_START or (first in _POLITE_MODALS and second in _POLITE_SUBJECTS):
        return False  # "please …", "can you …": a request phrased as a question
    if any(word in text for word in _KO_POLITE):
        return False
    if text.endswith("?") or text.endswith(_KO_QUESTION_ENDS):
        return True
    if first in _QUESTION_START or (first == "do" and second in _DO_SUBJECTS):
        return True
    return any(word in text for word in _KO_QUESTION_WORDS)


def _parens(spot: _Spot, start: int) -> tuple[int, int]:
    """Widen ``(ulw)`` / ``[ulw]`` to include the brackets."""
    text, end = spot.text, spot.end
    left = text[spot.line_start : start].rstrip(" \t")
    right = text[end : spot.line_end]
    stripped = right.lstrip(" \t")
    if left.endswith(("(", "[")) and stripped.startswith((")", "]")):
        return spot.line_start + len(left) - 1, end + len(right) - len(stripped) + 1
    return start, end


def _result(
    prompt: str,
    mode: str,
    g: _Grammar,
    *,
    cancel: bool,
    fusion: bool,
    span: tuple[int, int],
    form: str,
    connector: bool = False,
) -> KeywordMatch:
    start, end = span
    return KeywordMatch(
        mode,
        cancel=cancel,
        fusion_requested=fusion and not cancel,
        task=_task(prompt, start, end, g, connector=connector),
        keyword=prompt[start:end],
        span=(start, end),
        form=form,
    )


def _task(prompt: str, start: int, end: int, g: _Grammar, *, connector: bool) -> str:
    """The prompt without the trigger, with the punctuation that tied them together."""
    left = prompt[:start].rstrip(" \t")
    right = prompt[end:].lstrip(" \t")
    left = left.rstrip(_EDGE_PUNCT + " \t")
    bare = right.lstrip(_EDGE_PUNCT + " \t")
    right = bare.lstrip(".! \t")
    if connector and bare == right:  # "ulw. Then fix it" keeps its "Then"
        m = g.connector.match(right.lower())  # the connector is ASCII: offsets hold
        if m is not None and m.end() < len(right):
            right = right[m.end() :]
    if right.startswith(("?", "\uff1f")):  # "could you fix it with ulw?" keeps its "?"
        return (left + right).strip()
    if left and right and not left.endswith("\n") and not right.startswith("\n"):
        return (left + " " + right).strip()
    return (left + right).strip()
