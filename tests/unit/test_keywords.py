"""Keyword and cancel detection: a table of prompts, guards, and the cost of a miss."""

from __future__ import annotations

import subprocess
import sys

import pytest

from omcm.routing.keywords import KeywordMatch, detect

# (prompt, expected) where expected is None or (mode, cancel, fusion_requested, task).
H, U, A, S = "hulw", "ulw", "autopilot", "save-tokens"

TRIGGERS: list[tuple[str, tuple[str, bool, bool, str]]] = [
    # --- hulw: every trigger form from the seed, aliases, case, punctuation
    ("hulw: refactor the auth module", (H, False, True, "refactor the auth module")),
    ("refactor the auth module hulw", (H, False, True, "refactor the auth module")),
    ("refactor the auth module with hulw", (H, False, True, "refactor the auth module")),
    ("/hulw refactor the auth module", (H, False, True, "refactor the auth module")),
    ("/omcm:hulw refactor the auth module", (H, False, True, "refactor the auth module")),
    ("hulw refactor the auth module", (H, False, True, "refactor the auth module")),
    ("HULW: Refactor the auth module", (H, False, True, "Refactor the auth module")),
    ("Hulw refactor auth", (H, False, True, "refactor auth")),
    ("hybrid ultrawork: build the REST API", (H, False, True, "build the REST API")),
    ("Hybrid-Ultrawork build the REST API", (H, False, True, "build the REST API")),
    ("build the REST API with hybrid ultrawork", (H, False, True, "build the REST API")),
    ("hulw!", (H, False, True, "")),
    ("hulw", (H, False, True, "")),
    ("refactor auth, hulw!", (H, False, True, "refactor auth")),
    ("refactor auth (hulw)", (H, False, True, "refactor auth")),
    ("(hulw) refactor auth", (H, False, True, "refactor auth")),
    ("refactor auth hulw.", (H, False, True, "refactor auth")),
    ("refactor auth using hulw", (H, False, True, "refactor auth")),
    ("use hulw to refactor auth", (H, False, True, "refactor auth")),
    ("please hulw refactor auth", (H, False, True, "refactor auth")),
    ("hulw mode: refactor auth", (H, False, True, "refactor auth")),
    ("refactor auth with hulw please", (H, False, True, "refactor auth please")),
    ("새 대시보드를 구현하자 hulw", (H, False, True, "새 대시보드를 구현하자")),
    (
        "hulw: 데이터베이스 마이그레이션과 함께 REST API 생성",
        (H, False, True, "데이터베이스 마이그레이션과 함께 REST API 생성"),
    ),
    (
        "/hulw 개선된 오류 처리로 인증 모듈 리팩토링",
        (H, False, True, "개선된 오류 처리로 인증 모듈 리팩토링"),
    ),
    ("하이브리드 울트라워크로 인증 모듈 리팩토링해줘", (H, False, True, "인증 모듈 리팩토링해줘")),
    ("인증 모듈 리팩토링해줘 하이브리드 울트라워크", (H, False, True, "인증 모듈 리팩토링해줘")),
    ("하이브리드울트라워크: 대시보드 구현", (H, False, True, "대시보드 구현")),
    # --- ulw
    ("ulw: debug the memory leak", (U, False, False, "debug the memory leak")),
    ("debug the memory leak ulw", (U, False, False, "debug the memory leak")),
    ("optimize the database queries with ulw", (U, False, False, "optimize the database queries")),
    ("optimize the queries with ultrawork", (U, False, False, "optimize the queries")),
    ("/ulw fix the TypeScript errors", (U, False, False, "fix the TypeScript errors")),
    ("/omcm:ulw fix the TypeScript errors", (U, False, False, "fix the TypeScript errors")),
    ("/ultrawork fix the TypeScript errors", (U, False, False, "fix the TypeScript errors")),
    ("ulw fix the tests", (U, False, False, "fix the tests")),
    ("ULW fix the tests", (U, False, False, "fix the tests")),
    ("UltraWork: fix the tests", (U, False, False, "fix the tests")),
    ("ulw, fix the tests", (U, False, False, "fix the tests")),
    ("ulw. Then fix the tests", (U, False, False, "Then fix the tests")),
    ("fix the tests, ulw", (U, False, False, "fix the tests")),
    ("fix this ulw", (U, False, False, "fix this")),
    ("fix the failing tests ulw thanks", (U, False, False, "fix the failing tests thanks")),
    ("[ulw] fix the tests", (U, False, False, "fix the tests")),
    ("ulw on", (U, False, False, "")),
    ("turn ulw on and fix the tests", (U, False, False, "fix the tests")),
    ("ulw: what does this function do?", (U, False, False, "what does this function do?")),
    ("what does this function do? ulw", (U, False, False, "what does this function do?")),
    ("ulw. What does this function do?", (U, False, False, "What does this function do?")),
    (
        "could you fix the flaky tests with ulw?",
        (U, False, False, "could you fix the flaky tests?"),
    ),
    ("ulw: 메모리 누수 디버그", (U, False, False, "메모리 누수 디버그")),
    ("/ulw TypeScript 오류 수정", (U, False, False, "TypeScript 오류 수정")),
    (
        "데이터베이스 쿼리를 최적화하자 with ulw",
        (U, False, False, "데이터베이스 쿼리를 최적화하자"),
    ),
    ("울트라워크로 테스트 고쳐줘", (U, False, False, "테스트 고쳐줘")),
    ("울트라워크 모드로 테스트 고쳐줘", (U, False, False, "테스트 고쳐줘")),
    ("울트라워크를 켜고 테스트 고쳐줘", (U, False, False, "테스트 고쳐줘")),
    ("테스트 고쳐줘 울트라워크", (U, False, False, "테스트 고쳐줘")),
    ("ulw로 테스트 고쳐줘", (U, False, False, "테스트 고쳐줘")),
    ("인증 모듈 리팩토링 울트라워크로 해줘", (U, False, False, "인증 모듈 리팩토링 해줘")),
    ("이번 작업은 ulw로 진행해", (U, False, False, "이번 작업은 진행해")),
    # --- autopilot: plain (fusion left to the caller) and explicit fusion
    ("autopilot: build a todo app with auth", (A, False, False, "build a todo app with auth")),
    ("/autopilot build a todo app", (A, False, False, "build a todo app")),
    ("/omcm:autopilot build a todo app", (A, False, False, "build a todo app")),
    ("autopilot build a todo app", (A, False, False, "build a todo app")),
    ("build a todo app with autopilot", (A, False, False, "build a todo app")),
    ("build a todo app autopilot", (A, False, False, "build a todo app")),
    ("/autopilot hulw build a realtime dashboard", (A, False, True, "build a realtime dashboard")),
    (
        "/omcm:autopilot hulw build a realtime dashboard",
        (A, False, True, "build a realtime dashboard"),
    ),
    ("autopilot hulw build a realtime dashboard", (A, False, True, "build a realtime dashboard")),
    ("autopilot with fusion build a dashboard", (A, False, True, "build a dashboard")),
    ("Autopilot Fusion: build a dashboard", (A, False, True, "build a dashboard")),
    ("autopilot: hulw build a dashboard", (A, False, True, "build a dashboard")),
    ("hulw autopilot build a dashboard", (A, False, True, "build a dashboard")),
    ("build a dashboard with autopilot hulw", (A, False, True, "build a dashboard")),
    (
        "autopilot hulw 실시간 데이터가 있는 대시보드 생성",
        (A, False, True, "실시간 데이터가 있는 대시보드 생성"),
    ),
    (
        "/autopilot 인증 기능이 있는 투두 애플리케이션 빌드",
        (A, False, False, "인증 기능이 있는 투두 애플리케이션 빌드"),
    ),
    ("오토파일럿으로 투두 앱 만들어줘", (A, False, False, "투두 앱 만들어줘")),
    ("오토파일럿: 투두 앱 만들어줘", (A, False, False, "투두 앱 만들어줘")),
    ("오토파일럿 퓨전으로 대시보드 만들어줘", (A, False, True, "대시보드 만들어줘")),
    ("start autopilot: build the CLI", (A, False, False, "build the CLI")),
    ("please autopilot: build the CLI", (A, False, False, "build the CLI")),
    ("we should refactor auth ulw", (U, False, False, "we should refactor auth")),
    ("I want to refactor auth with hulw", (H, False, True, "I want to refactor auth")),
    ("Please review the PR. hulw", (H, False, True, "Please review the PR.")),
    ("ULTRAWORK.", (U, False, False, "")),
    (
        "please use ulw to fix the tests\nand then commit",
        (U, False, False, "fix the tests\nand then commit"),
    ),
    # --- save-tokens
    ("save-tokens: summarize the logs", (S, False, False, "summarize the logs")),
    ("summarize the logs save-tokens", (S, False, False, "summarize the logs")),
    ("/omcm:save-tokens summarize the logs", (S, False, False, "summarize the logs")),
    ("summarize the logs with save-tokens", (S, False, False, "summarize the logs")),
    ("Save-Tokens summarize the logs", (S, False, False, "summarize the logs")),
    ("토큰 절약 모드로 문서 정리해줘", (S, False, False, "문서 정리해줘")),
    # --- cancel
    ("cancel autopilot", (A, True, False, "")),
    ("Cancel Autopilot.", (A, True, False, "")),
    ("cancel ulw", (U, True, False, "")),
    ("cancel hulw", (H, True, False, "")),
    ("stop autopilot", (A, True, False, "")),
    ("stop ultrawork now", (U, True, False, "")),
    ("please cancel autopilot", (A, True, False, "")),
    ("ok, cancel autopilot.", (A, True, False, "")),
    ("can you cancel autopilot?", (A, True, False, "can you?")),
    ("that's enough, cancel autopilot", (A, True, False, "that's enough")),
    (
        "cancel autopilot and fix the last test by hand",
        (A, True, False, "fix the last test by hand"),
    ),
    ("turn off hulw", (H, True, False, "")),
    ("turn ulw off", (U, True, False, "")),
    ("autopilot off", (A, True, False, "")),
    ("disable the autopilot mode", (A, True, False, "")),
    ("/omcm:cancel-autopilot", (A, True, False, "")),
    ("/cancel-ulw", (U, True, False, "")),
    ("/omcm:cancel-hulw", (H, True, False, "")),
    ("오토파일럿 취소", (A, True, False, "")),
    ("오토파일럿 취소해줘", (A, True, False, "")),
    ("오토파일럿을 중지해", (A, True, False, "")),
    ("울트라워크 꺼줘", (U, True, False, "")),
    ("하이브리드 울트라워크 종료", (H, True, False, "")),
    # --- multi-line: keyword on a later line, label anywhere, fence plus a real trigger
    (
        "the login test fails on CI\nplease look at session.py\nulw",
        (U, False, False, "the login test fails on CI\nplease look at session.py"),
    ),
    (
        "the login test fails on CI\n\nfix it with hulw",
        (H, False, True, "the login test fails on CI\n\nfix it"),
    ),
    (
        "some context\nmore context\nulw: fix it",
        (U, False, False, "some context\nmore context\nfix it"),
    ),
    (
        "fix the login bug ulw\nhere is the log:\nerror at line 3",
        (U, False, False, "fix the login bug\nhere is the log:\nerror at line 3"),
    ),
    (
        "fix this:\n```python\nmode = 'ulw'  # ulw\n```\nwith hulw",
        (H, False, True, "fix this:\n```python\nmode = 'ulw'  # ulw\n```"),
    ),
    (
        "```\nulw: not this one\n```\nfix it with hulw",
        (H, False, True, "```\nulw: not this one\n```\nfix it"),
    ),
    (
        "fix the parser hulw\n```\nautopilot: inside a fence\n```",
        (H, False, True, "fix the parser\n```\nautopilot: inside a fence\n```"),
    ),
    (
        "see `ulw` in the docs, then refactor auth\nhulw",
        (H, False, True, "see `ulw` in the docs, then refactor auth"),
    ),
    ("what is ulw?\nhulw: refactor auth", (H, False, True, "what is ulw?\nrefactor auth")),
]

MISSES: list[str] = [
    # --- questions about a keyword
    "what does ulw do?",
    "What does hulw do",
    "how does hulw work",
    "how does hulw work?",
    "ulw가 뭐야?",
    "울트라워크가 뭐야?",
    "hulw랑 ulw 차이가 뭐야?",
    "오토파일럿 어떻게 써?",
    "울트라워크 설명해줘",
    "울트라워크 사용법 알려줘",
    "explain autopilot",
    "explain ulw please",
    "is ultrawork on?",
    "is ultrawork on",
    "what is the difference between ulw and hulw",
    "what is hulw",
    "what's autopilot?",
    "tell me about hulw",
    "ulw?",
    "ulw vs hulw",
    "does this work with ulw?",
    "should I use hulw?",
    "how do I cancel autopilot?",
    "what does this function do ulw",
    "ulw what does this function do?",
    "fix it with ulw?",
    # --- the keyword as the subject or object of a statement
    "autopilot is broken",
    "autopilot keeps crashing, fix it",
    "autopilot crashed again, fix it",
    "Autopilot mode lets you run tasks unattended",
    "rename the variable x to ulw",
    "이거 ulw로 할 수 있어?",
    "ulw's output is wrong",
    "ulw and hulw both exist",
    "I tried autopilot",
    "we love hulw",
    "can you explain ulw?",
    "fix autopilot",
    "the bug is in the autopilot",
    "the bug is in autopilot",
    "don't use ulw",
    "fix the tests without ulw",
    "fix the tests but not with hulw",
    "run autopilot tests",
    "stop autopilot from crashing",
    "with the autopilot we shipped it",
    "오토파일럿이 안 돼",
    "ulw 없이 고쳐줘",
    "울트라워크는 좋은 기능이야",
    "help me save tokens",
    "save tokens: summarize the logs",
    # --- a keyword in the middle of prose
    "we could use ulw to fix the tests\nand then commit",
    "first line\nmiddle ulw line\nlast line",
    "I think hulw would help here but not sure",
    # --- longer words and glued characters
    "hulwx fix the tests",
    "xulw fix the tests",
    "ulwing fix the tests",
    "fix the tests ulws",
    "fix the tests #ulw",
    "fix the tests @hulw",
    "fix the tests --ulw",
    "ulw-mode fix the tests",
    "ulw_mode fix the tests",
    "autopilots: fix the tests",
    "울트라워크가요",
    # --- code, URLs, paths
    "```\nhulw: refactor auth\n```",
    "~~~\nulw fix the tests\n~~~",
    "```\nfix the tests with hulw",
    "fix the tests `ulw`",
    "``ulw`` fix the tests",
    "fix it http://example.com/ulw",
    "see https://github.com/x/hulw",
    "see www.ulw.com",
    "fix src/ulw.py",
    "ulw.py fails",
    "fix ./hulw/",
    "open C:\\tools\\ulw",
    "edit ~/autopilot",
    # --- quotes
    'fix the tests "ulw"',
    "fix the tests 'hulw'",
    "fix the tests \u201culw\u201d",
    "fix the tests \u2018ulw\u2019",
    "fix the tests \u300culw\u300d",
    "fix the tests \u00abautopilot\u00bb",
    'he said "ulw: fix it" yesterday',
    # --- tags, pasted hook output, JSON
    "fix the tests <ulw>",
    "<ulw/>",
    "<system-reminder>ulw mode is on</system-reminder>",
    "<hook-output>\nhulw: mode on\n</hook-output>",
    "<!-- ulw -->",
    "UserPromptSubmit hook additional context: OMCM ulw mode is on",
    "[OMCM] hulw on",
    "OMCM: autopilot active",
    '{"mode": "ulw"}',
    "{mode: ulw}",
    '{"session": {"mode": "hulw", "n": 1}}',
    "> ulw fix the tests",
    "\u23bf  hulw mode on",
    # --- other slash commands
    "/omcm:fusion-status ulw",
    "/review ulw",
]


@pytest.mark.parametrize(("prompt", "expected"), TRIGGERS, ids=[p for p, _ in TRIGGERS])
def test_trigger(prompt: str, expected: tuple[str, bool, bool, str]) -> None:
    found = detect(prompt)
    assert found is not None, prompt
    assert (found.mode, found.cancel, found.fusion_requested, found.task) == expected
    start, end = found.span
    assert prompt[start:end] == found.keyword


@pytest.mark.parametrize("prompt", MISSES)
def test_miss(prompt: str) -> None:
    assert detect(prompt) is None


def test_table_size() -> None:
    assert len(TRIGGERS) + len(MISSES) >= 120


def test_match_details() -> None:
    found = detect("refactor the auth module with hulw")
    assert found == KeywordMatch(
        "hulw",
        fusion_requested=True,
        task="refactor the auth module",
        keyword="with hulw",
        span=(25, 34),
        form="trailing",
    )
    assert detect("/omcm:autopilot hulw build it") == KeywordMatch(
        "autopilot",
        fusion_requested=True,
        task="build it",
        keyword="/omcm:autopilot hulw",
        span=(0, 20),
        form="slash",
    )
    assert detect("hulw: x") == KeywordMatch(
        "hulw", fusion_requested=True, task="x", keyword="hulw:", span=(0, 5), form="label"
    )


def test_match_is_frozen() -> None:
    found = detect("ulw fix it")
    assert found is not None
    with pytest.raises(AttributeError, match="frozen"):
        found.mode = "hulw"
    assert hash(found) == hash(detect("ulw fix it"))
    assert repr(found).startswith("KeywordMatch(mode='ulw', cancel=False")


# --- property: a keyword that is only inside a protected region never triggers

ALIASES = [
    "ulw",
    "hulw",
    "ULW",
    "ultrawork",
    "hybrid ultrawork",
    "autopilot",
    "save-tokens",
    "울트라워크",
    "하이브리드 울트라워크",
    "오토파일럿",
]
# Each shape puts "{k}" where the keyword goes; every one triggers when {k} is bare.
SHAPES = [
    "{k}",
    "{k}: fix the tests",
    "{k} fix the tests",
    "fix the tests {k}",
    "fix the tests with {k}",
    "cancel {k}",
    "/{k} fix the tests",
]
# Regions that can hold a whole instruction: the shaped prompt goes inside.
BLOCKS = [
    "```\n{k}\n```",
    "~~~\n{k}\n~~~",
    "```js\n{k}",
    "see this: ```\n{k}\n```",
    "`{k}`",
    "``{k}``",
    '"{k}"',
    "'{k}'",
    "\u201c{k}\u201d",
    "\u300c{k}\u300d",
    "\u00ab{k}\u00bb",
    "<x>{k}</x>",
    "<system-reminder>\n{k}\n</system-reminder>",
    "<!-- {k} -->",
    '{{"prompt": "{k}"}}',
    "{{a: {{b: {k}}}}}",
    "UserPromptSubmit hook additional context: {k}",
]
# Line markers: a quoted or pasted line hides the rest of that line.
LINES = ["> {k}", "  > {k}", "[OMCM] {k}", "OMCM: {k}", "\u23bf {k}", "\u23fa {k}"]
# Tokens that hide a one-word keyword; the token then stands where the keyword would.
TOKENS = [
    "http://example.com/{k}",
    "https://example.com/a?q={k}",
    "www.{k}.com",
    "src/{k}.py",
    "./{k}/",
    "C:\\tmp\\{k}",
    "~/{k}",
    "{k}.py",
    "{k}x",
    "x{k}",
    "#{k}",
    "`{k}`",
    "'{k}'",
    '"{k}"',
    "<{k}>",
]
CONTEXTS = ["{}", "please look at this: {}", "{}\nthanks", "context\n\n{}\n"]


def _block(wrapper: str, inner: str) -> str:
    return (
        wrapper.replace("{{", "\0")
        .replace("}}", "\1")
        .replace("{k}", inner)
        .replace("\0", "{")
        .replace("\1", "}")
    )


def _controls() -> list[str]:
    return [
        shape.format(k=alias)
        for alias in ALIASES
        for shape in SHAPES
        if not (shape.startswith("/") and not (alias.isascii() and " " not in alias))
    ]


def test_every_control_prompt_triggers() -> None:
    # The property tests below mean something only if the bare prompts do trigger.
    assert [prompt for prompt in _controls() if detect(prompt) is None] == []


@pytest.mark.parametrize("wrapper", BLOCKS)
def test_keyword_inside_a_block_never_triggers(wrapper: str) -> None:
    for inner in _controls():
        for context in CONTEXTS:
            prompt = context.format(_block(wrapper, inner))
            assert detect(prompt) is None, prompt


@pytest.mark.parametrize("marker", LINES)
def test_keyword_on_a_marked_line_never_triggers(marker: str) -> None:
    for inner in _controls():
        for context in ("{}", "{}\nthanks", "please look at this:\n{}", "context\n\n{}\n"):
            prompt = context.format(marker.replace("{k}", inner))
            assert detect(prompt) is None, prompt


@pytest.mark.parametrize("token", TOKENS)
def test_keyword_inside_a_token_never_triggers(token: str) -> None:
    for alias in ALIASES:
        if " " in alias:
            continue  # a multi-word alias cannot hide inside one token
        hidden = token.replace("{k}", alias)
        for shape in SHAPES:
            for context in CONTEXTS:
                prompt = context.format(shape.format(k=hidden))
                assert detect(prompt) is None, prompt


def test_real_trigger_outside_protected_region_still_wins() -> None:
    for wrapper in BLOCKS + LINES:
        hidden = _block(wrapper, "ulw: fix it")
        found = detect(f"refactor auth with hulw\n{hidden}")
        assert found is not None and found.mode == "hulw", hidden
        if wrapper.startswith("```js"):
            continue  # an unclosed fence hides everything after it
        found = detect(f"{hidden}\nrefactor auth with hulw")
        assert found is not None and found.mode == "hulw", hidden


# --- cost: benchmarks/keywords.py times these; here, what they detect


def _log(size: int) -> str:
    line = "2024-05-01 12:00:00 ERROR test_login failed at src/app/session.py:42 (timeout)\n"
    return (line * (size // len(line) + 1))[:size]


def test_large_prompt_without_keyword_detects_nothing() -> None:
    assert detect(_log(10_000)) is None


def test_large_prompt_with_late_keyword() -> None:
    prompt = _log(10_000) + "fix these failures with ulw"
    found = detect(prompt)
    assert found is not None and found.mode == "ulw" and found.keyword == "with ulw"
    assert found.task.endswith("fix these failures")


def test_pathological_inputs_finish() -> None:
    from benchmarks.keywords import NASTY

    found = [detect(prompt) for prompt in NASTY]
    assert [m.mode if m else None for m in found] == [
        None,
        "ulw",
        "ulw",
        "ulw",
        None,
        None,
        "ulw",
        None,
        "ulw",
        "ulw",
        "ulw",
        "ulw",
        "ulw",
        "ulw",
        None,
    ]


def test_import_is_lean() -> None:
    # A prompt without a keyword stem must not even load re (the hook's budget is ~2x start-up).
    code = (
        "import sys; before = set(sys.modules); import omcm.routing.keywords; "
        "omcm.routing.keywords.detect('please fix the failing test ' * 400); "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == [
        "__future__",
        "omcm",
        "omcm.routing",
        "omcm.routing.keywords",
        "omcm.routing.modes",
    ]
