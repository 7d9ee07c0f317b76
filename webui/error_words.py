# ruff: noqa: E501 -- Korean characters count twice towards the line width; the table reads better unbroken
"""The engine's and the lab's error messages in Korean: a message the catalogue knows word for word, else one of
the known shapes below (a setting out of bounds, an empty input, a ZeroGPU refusal ...) with its parts put into
Korean where they are words, else the English words as they are."""

from __future__ import annotations

import re
from collections.abc import Callable

from .language import current_language
from .locales import KO, bounds_ko, duration_ko


def say_error(message: str) -> str:
    """An engine's or the lab's error message in the current visitor's language: a known message, else one of
    the known shapes (a setting out of bounds, an empty input ...), else the English words."""
    if current_language() != "ko":
        return message
    head, resumable, step = message.partition("; it can be resumed from step ")
    if resumable:  # any reason, then where its run resumes from
        return say_error(head) + f"; {step} 스텝부터 이어서 학습할 수 있습니다"
    if message in KO:
        return KO[message]
    for pattern, render in ERROR_SHAPES_KO:
        if match := pattern.fullmatch(message):
            return render(match)
    return message


def _ko(text: str) -> str:
    return KO.get(text, text)


INPUT_NAMES_KO = {"text": "텍스트", "first sentence": "첫 번째 문장", "second sentence": "두 번째 문장"}
SUBJECT_KO = {"text": "텍스트가", "first sentence": "첫 번째 문장이", "second sentence": "두 번째 문장이"}
KINDS_KO = {"a number": "숫자", "a whole number": "정수", "a finite number": "유한한 숫자", "text": "텍스트",
            "true or false": "참 또는 거짓", "the encoder's layers": "인코더의 레이어 수"}  # fmt: skip


def _what_ko(text: str) -> str:
    for english, korean in KINDS_KO.items():
        text = text.replace(english, korean)
    return bounds_ko(text)


_NAME = "(?P<name>text|first sentence|second sentence)"
# (the shape of an English message, its Korean); the named parts are translated where they are words.
ERROR_SHAPES_KO: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r"the " + _NAME + r" is empty: type something for (?P<task>.+) to classify"),
     lambda m: f"{SUBJECT_KO[m['name']]} 비어 있습니다: {m['task']}에서 분류할 문장을 입력하세요"),
    (re.compile(r"the second sentence is empty: (?P<task>.+) compares two sentences"),
     lambda m: f"두 번째 문장이 비어 있습니다: {m['task']}는 두 문장을 비교하는 과제입니다"),
    (re.compile(r"(?P<task>.+) classifies a single sentence; leave the second one empty"),
     lambda m: f"{m['task']}는 한 문장만 분류하는 과제입니다. 두 번째 문장은 비워 두세요"),
    (re.compile(r"the " + _NAME + r" has (?P<n>[\d,]+) characters; the limit is (?P<limit>[\d,]+)"),
     lambda m: f"{SUBJECT_KO[m['name']]} {m['n']}자입니다. 최대 {m['limit']}자까지 입력할 수 있습니다"),
    (re.compile(r"the " + _NAME + r" has no visible characters .*"),
     lambda m: f"{INPUT_NAMES_KO[m['name']]}에 보이는 글자가 없습니다 (공백, 폭 없는 문자, 제어 문자뿐입니다)"),
    (re.compile(r"the " + _NAME + r" contains a broken character .*"),
     lambda m: f"{INPUT_NAMES_KO[m['name']]}에 깨진 문자(짝 없는 UTF-16 서로게이트)가 있습니다. 다시 입력하세요"),
    (re.compile(r"the " + _NAME + r" must be text, got (?P<got>.+)"),
     lambda m: f"{INPUT_NAMES_KO[m['name']]}에는 텍스트만 넣을 수 있습니다 (받은 것: {_what_ko(m['got'])})"),
    (re.compile(r"(?P<label>[^:]+?) is empty: choose a value"), lambda m: f"{_ko(m['label'])} 값이 비어 있습니다: 값을 고르세요"),
    (re.compile(r"(?P<label>[^:]+?) must be (?P<what>.+), got (?P<got>.+)"),
     lambda m: f"{_ko(m['label'])}: {_what_ko(m['what'])}만 가능합니다 (입력: {m['got']})"),
    (re.compile(r"(?P<label>[^:]+?) is (?P<n>[\d,]+) characters long; the limit is (?P<limit>[\d,]+)"),
     lambda m: f"{_ko(m['label'])}: {m['n']}자입니다. 최대 {m['limit']}자까지 가능합니다"),
    (re.compile(r"Max sequence length (?P<n>\d+) exceeds the model's limit (?P<limit>\d+)"),
     lambda m: f"최대 시퀀스 길이 {m['n']}이 모델의 한도 {m['limit']}를 넘습니다"),
    (re.compile(r"the waiting line is full \((?P<n>\d+) jobs\); try again when it is shorter"),
     lambda m: f"대기열이 가득 찼습니다 (작업 {m['n']}개). 줄이 짧아지면 다시 시도하세요"),
    (re.compile(r"(?P<n>\d+) runs from your address are already in line or training; one of them must end first "
                r"\(visitors sharing a network share this; logging in to Hugging Face gives you your own\)"),
     lambda m: f"같은 주소에서 이미 {m['n']}개의 학습이 대기 중이거나 학습 중입니다. 그중 하나가 끝나야 합니다 (같은 네트워크의 "
               "방문자는 이 한도를 함께 씁니다. Hugging Face에 로그인하면 나만의 한도를 받습니다)"),
    (re.compile(r"this lab trains only these encoders: (?P<names>.+)"),
     lambda m: f"이 실습실은 다음 인코더만 학습합니다: {m['names']}"),
    (re.compile(r"(?P<title>.+) has not been trained on (?P<task>.+) yet: train it first(?P<note>.*)"),
     lambda m: f"{m['title']}: 아직 {m['task']}로 학습하지 않았습니다. 먼저 학습하세요{m['note']}"),
    (re.compile(r"input truncated to (?P<n>\d+) tokens"), lambda m: f"입력이 {m['n']} 토큰으로 잘렸습니다"),
    (re.compile(r"this encoder does not know (?P<language>Korean|this text's language): (?P<share>\d+)% of the "
                r"characters become \[UNK\] \(unknown\) or meaningless letter pieces, so its answers mean little; train "
                r"on an encoder that knows it, named by its Hub id \(e\.g\. (?P<instead>.+)\)"),
     lambda m: f"이 인코더는 {'한국어' if m['language'] == 'Korean' else '이 텍스트의 언어'}를 모릅니다: 문자의 {m['share']}%가 "
               f"[UNK](알 수 없음)이나 뜻 없는 자모 조각이 되어 답이 거의 의미가 없습니다. 그 언어를 아는 인코더를 Hub id로 "
               f"골라 학습하세요 (예: {m['instead'].replace(' or ', ' 또는 ')})"),
    (re.compile(r"The runs were evaluated on different dev samples: (?P<n>[\d,]+) examples are common to all of them\."),
     lambda m: f"학습마다 평가한 dev 예제가 다릅니다: 모든 학습에 공통인 예제는 {m['n']}개입니다."),
    (re.compile(r"(?P<method>[^:]+): dev_predictions\.json is damaged \((?P<error>\w+)\); score the run again"),
     lambda m: f"{m['method']}: dev_predictions.json이 손상되었습니다 ({m['error']}). 다시 채점하세요"),
    (re.compile(r"this run would take about (?P<run>.+) on this machine; this lab allows (?P<limit>.+) a run: fewer "
                r"training examples or epochs are faster"),
     lambda m: f"이 학습은 이 기계에서 약 {duration_ko(m['run'])} 걸립니다. 이 실습실은 학습 하나에 {duration_ko(m['limit'])}까지 "
               "허용합니다: 학습 예제나 에폭을 줄이면 빨라집니다"),
    (re.compile(r"it trained past this lab's (?P<limit>.+) a run"),
     lambda m: f"이 실습실의 학습당 한도({duration_ko(m['limit'])})를 넘어 멈췄습니다"),
    (re.compile(r"ZeroGPU refused this run: (?:it asks for (?P<asked>\d+) s of GPU time and you have (?P<left>\d+) s left"
                r"|your GPU time for today is used up)(?:; try again in (?P<wait>[^.]+))?\. Visitors not logged in to "
                r"Hugging Face share one quota per address; logging in gives you your own"),
     lambda m: "ZeroGPU가 이 학습을 거절했습니다: "
               + (f"GPU 시간 {m['asked']}초를 요청했지만 남은 시간은 {m['left']}초입니다" if m["asked"]
                  else "오늘의 GPU 시간을 다 썼습니다")
               + (f". {duration_ko(m['wait'])} 뒤에 다시 시도하세요" if m["wait"] else "")
               + ". Hugging Face에 로그인하지 않은 방문자는 주소마다 할당량 하나를 나눠 씁니다. 로그인하면 나만의 할당량을 받습니다"),
    (re.compile(r"ZeroGPU refused this run: it asks for (?P<asked>\d+) s of GPU time, more than one call may have; "
                r"fewer training examples or epochs make it shorter"),
     lambda m: f"ZeroGPU가 이 학습을 거절했습니다: GPU 시간 {m['asked']}초는 호출 한 번에 허용되는 시간보다 깁니다. "
               "학습 예제나 에폭을 줄이면 짧아집니다"),
    (re.compile(r"the GPU call ended before the run did \(ZeroGPU ends a call after the (?P<asked>\d+) s asked\)"
                r"(?P<nothing>; nothing was saved)?"),
     lambda m: f"학습이 끝나기 전에 GPU 호출이 끝났습니다 (ZeroGPU는 요청한 {m['asked']}초가 지나면 호출을 끝냅니다)"
               + (". 아무것도 저장되지 않았습니다" if m["nothing"] else "")),
    (re.compile(r"the training process (?:ended unexpectedly \(exit code (?P<code>-?\d+|None)\)|was ended by "
                r"(?P<signal>\w+))(?P<nothing>; nothing was saved)?"),
     lambda m: "학습 프로세스가 예기치 않게 끝났습니다 ("
               + (f"종료 코드 {m['code']}" if m["code"] else f"신호 {m['signal']}") + ")"
               + (". 아무것도 저장되지 않았습니다" if m["nothing"] else "")),
    (re.compile(r"run (?P<run>[\w-]+) is already waiting in line to be resumed"),
     lambda m: f"학습 {m['run']}은 이미 이어서 학습하려고 대기열에서 기다리고 있습니다"),
    (re.compile(r"ZeroGPU could not run this training \((?P<title>.+)\)"),
     lambda m: f"ZeroGPU에서 이 학습을 실행하지 못했습니다 ({m['title']})"),
]  # fmt: skip
