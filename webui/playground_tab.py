"""Playground tab: type a sentence (two for MRPC) and see the four methods' predictions side by side."""

from __future__ import annotations

import html
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import gradio as gr

from finetune.core.baselines import ZERO_SHOT_LM
from finetune.core.methods import METHODS
from finetune.core.tasks import TASKS, get_task
from finetune.engine import zeroshot
from finetune.engine.predict import InputError, MethodPrediction, Predictor, validate_input

from .common import TASK_CHOICES, run_color
from .deployment import user_error
from .error_words import say_error
from .language import localized, say
from .locales import t

log = logging.getLogger(__name__)

# Colour-blind-safe pair: blue pushed towards the card's label, orange pushed away from it.
TOWARDS, AWAY = "37, 99, 235", "234, 88, 12"


def why_legend() -> str:
    why = say("Why: each word's push on the card's label (Integrated Gradients).")
    return (
        f"<div class='why-legend'>{why} "
        f"<span style='background: rgba({TOWARDS}, .45)'>{say('towards')}</span> "
        f"<span style='background: rgba({AWAY}, .45)'>{say('away from')}</span>"
        f"{say('; the stronger the colour, the stronger the push.')}</div>"
    )


def why_html(explanation) -> str:
    """The input with each word shaded by how much it pushed the prediction (engine/explain.py)."""
    strongest = max((abs(w.score) for w in explanation.words), default=0.0) or 1.0
    parts, sequence = [], 0
    for w in explanation.words:
        if w.sequence != sequence:
            parts.append("<span class='why-sep'>‖</span>")
            sequence = w.sequence
        color = TOWARDS if w.score >= 0 else AWAY
        alpha = 0.08 + 0.62 * abs(w.score) / strongest
        parts.append(f"<span class='why-word' data-score='{w.score:.4f}' title='{w.score:+.3f}' "
                     f"style='background: rgba({color}, {alpha:.2f})'>{html.escape(w.word)}</span>")  # fmt: skip
    return f"<div class='why'>{' '.join(parts)}</div>"


def label_text(name: str) -> str:
    """A task's label as a person reads it, in the visitor's language ('not_equivalent' → 'not equivalent')."""
    return say(name.replace("_", " "))


def cards_html(task_name: str, results: list[MethodPrediction], explanations: dict | None = None) -> str:
    """One card per method: label, a bar of the probability of that label, its run's dev score, the run it
    came from behind a details toggle; disagreeing methods stand out; a run that ended at the majority class
    says so; with `explanations`, each card's words shaded by their push on its label."""
    labels = [r.label for r in results if r.status == "ok"]
    majority = Counter(labels).most_common(1)[0][0] if labels else None
    # An input the encoders cannot read (a Korean sentence, an English encoder): said once, above the cards.
    unreadable = max((r for r in results if r.unknown_note), key=lambda r: r.unknown_share, default=None)
    said = say_error(unreadable.unknown_note or "") if unreadable else ""
    said = said[:1].upper() + said[1:]  # (a sentence of its own here: the engine's words start in lower case)
    unknown = f"<div class='unknown-note' role='note'>⚠ {html.escape(said)}</div>" if unreadable else ""
    disagree = len(set(labels)) > 1
    cards = []
    for r in results:
        title = html.escape(r.title)
        if r.status != "ok":
            hint = say("Train it in the Train tab.") if r.status == "not_trained" and r.method in METHODS else ""
            cards.append(
                f"<div class='card missing' data-method='{r.method}' data-status='{r.status}'><h4>{title}</h4>"
                f"<p>{html.escape(say_error(r.message or ''))}</p><p class='hint'>{hint}</p></div>"
            )
            continue
        assert r.label is not None
        chance = r.probabilities[r.label]  # the bar measures the card's own answer, whichever label it is
        odd = " disagree" if disagree and r.label != majority else ""
        notes = "; ".join(say_error(part) for part in r.message.split("; ")) if r.message else ""
        note = f"<p class='note'>{html.escape(notes)}</p>" if notes else ""
        scores = (r.dev_score or {}).items()  # how far to trust this card: its run's dev-set score
        score = "".join(f"<p class='dev-score'>dev {html.escape(k)} <b>{v:.3f}</b></p>" for k, v in scores)
        warning = (
            f"<p class='majority-note'>{say('This run scores no better than always answering the commonest label.')}"
            "</p>" if r.at_majority else ""
        )  # fmt: skip
        run = html.escape(say("run {run_id}", run_id=r.run_id or ""))
        model = f" · {html.escape(r.model)}" if r.model else ""
        details = f"<details class='run'><summary>{say('Details')}</summary>{run}{model}</details>"
        color = run_color(r.method)
        why = why_html(explanations[r.method]) if explanations and r.method in explanations else ""
        cards.append(
            f"<div class='card ok{odd}' data-method='{r.method}' data-status='ok' data-label='{html.escape(r.label)}' "
            f"style='--c:{color}'><h4>{title}</h4><div class='label'>{html.escape(label_text(r.label))}</div>"
            f"<div class='prob'><div class='fill' style='width:{100 * chance:.1f}%'></div></div>"
            f"<div class='prob-caption'>{say('probability {share}', share=f'{chance:.3f}')}</div>"
            f"{score}{warning}{note}{details}{why}</div>"
        )
    banner = f"<div class='banner'>{say('The methods disagree on this input.')}</div>" if disagree else ""
    legend = why_legend() if explanations else ""
    return f"{unknown}{banner}{legend}<div class='cards'>{''.join(cards)}</div>"


def error_html(message: str) -> str:
    """What the predictions area shows after a refused input: the reason, where the cards were."""
    return f"<div class='input-error' role='alert'>{html.escape(message)}</div>"


class ZeroShotColumn:
    """The untrained baseline's card: a small causal LM, loaded on first use in a thread of its own (about 30 s the
    first time, a few seconds more per task), so that no Playground worker waits on it: a request while it loads,
    or while it answers someone else, gets a card that says so (`wait` seconds at most)."""

    def __init__(self):
        self._classifier = None
        self._ready: dict[str, str | None] = {}  # tasks whose prompt is chosen: None, or how it fell back
        self._lock = threading.Lock()  # one question to the LM at a time (two cores)
        self._loading: threading.Thread | None = None
        self._failed: str | None = None

    def _load(self, task_name: str) -> None:
        try:
            with self._lock:
                if self._classifier is None:
                    self._classifier = zeroshot.ZeroShotClassifier.load()
                # once per task, on its training split
                self._ready[task_name] = self._classifier.ensure_prompt(get_task(task_name))
        except zeroshot.ZeroShotUnavailable as e:
            self._failed = str(e)
        except Exception as e:  # the LM is a courtesy: a failure is a card, never a crash
            log.warning("zero-shot LM failed to load: %r", e)
            self._failed = f"the zero-shot LM could not be loaded ({type(e).__name__})"

    def _start_loading(self, task_name: str) -> None:
        if self._loading is None or not self._loading.is_alive():
            self._loading = threading.Thread(target=self._load, args=(task_name,), daemon=True, name="zero-shot")
            self._loading.start()

    def predict(self, task_name: str, text: str, text_pair: str | None, wait: float = 5.0) -> MethodPrediction:
        title = ZERO_SHOT_LM.title
        if self._failed:
            return MethodPrediction(ZERO_SHOT_LM.name, title, "not_trained", message=self._failed)
        if task_name not in self._ready:
            self._start_loading(task_name)
            if self._loading is not None:
                self._loading.join(wait)
            if task_name not in self._ready:
                message = self._failed or say("the zero-shot LM is loading (about 30 s the first time); ask again soon")
                return MethodPrediction(ZERO_SHOT_LM.name, title, "not_trained", message=message)
        if not self._lock.acquire(timeout=wait):
            busy = say("the zero-shot LM is answering someone else; ask again soon")
            return MethodPrediction(ZERO_SHOT_LM.name, title, "not_trained", message=busy)
        try:
            assert self._classifier is not None
            task = get_task(task_name)
            row = dict(zip(task.text_keys, (text, text_pair), strict=False))
            scored = self._classifier.predict(task, row)
            fallback = self._ready[task_name]
            words = "/".join(self._classifier.words_for(task))
            name = self._classifier.name
        finally:
            self._lock.release()
        calibrated, raw = scored["calibrated"], scored["raw"]
        how = say("no training; answers {words}, calibrated scoring (raw log-prob says {raw})", words=words,
                  raw=raw["label"])  # fmt: skip
        return MethodPrediction(
            ZERO_SHOT_LM.name,
            title,
            "ok",
            label=calibrated["label"],
            probabilities=calibrated["probabilities"],
            model=name,
            message=how + (f"; {fallback}" if fallback else ""),
        )


@dataclass
class PlaygroundTab:
    task: gr.Radio
    text: gr.Textbox
    text_pair: gr.Textbox
    show: Callable  # (task, text, text_pair, zero_shot) -> the cards' HTML
    inputs: list
    output: gr.HTML


@dataclass
class Controls:
    """What a visitor types, picks and clicks."""

    task: gr.Radio
    text: gr.Textbox
    text_pair: gr.Textbox
    single: gr.Dataset  # examples of a one-sentence task
    pairs: gr.Dataset  # examples of a sentence-pair task
    predict_btn: gr.Button
    why_btn: gr.Button
    with_zeroshot: gr.Checkbox

    @property
    def inputs(self) -> list:
        return [self.task, self.text, self.text_pair, self.with_zeroshot]


# The four methods share two workers (two cores); the rest wait in the app's bounded queue. The zero-shot LM and the
# word attributions each have a worker of their own, so that neither starves a prediction.
# Many at once: the Predictor answers those waiting together, in batches (engine/predict.py PredictionLine).
PREDICTING = {"concurrency_limit": 24, "concurrency_id": "predict"}
ASKING_THE_LM = {"concurrency_limit": 1, "concurrency_id": "zero-shot"}
EXPLAINING = {"concurrency_limit": 1, "concurrency_id": "explain"}

Answer = Callable[..., list[MethodPrediction]]  # (task, text, text_pair, ask_zero_shot, zero_shot_wait=5.0)


def build(predictor: Predictor) -> PlaygroundTab:
    controls = build_controls()
    output = gr.HTML(elem_id="predictions")
    answer = answerer(predictor, ZeroShotColumn())
    wire_examples(controls, output)
    show = wire_predictions(controls, output, answer)
    wire_why(controls, output, answer, predictor)
    add_apis(predictor, answer)
    return PlaygroundTab(controls.task, controls.text, controls.text_pair, show, controls.inputs, output)


def build_controls() -> Controls:
    task = gr.Radio(TASK_CHOICES, value="sst2", label=t("Task"), elem_id="playground-task")
    with gr.Row():
        text = gr.Textbox(label=t("Sentence"), lines=2, max_length=None, elem_id="text-1", scale=3)
        text_pair = gr.Textbox(label=t("Second sentence"), lines=2, visible=False, elem_id="text-2", scale=3)
    # Two example lists, one shown at a time, so a one-sentence task has no empty "Second sentence" column.
    single = gr.Dataset(components=[text], samples=[[e[0]] for e in TASKS["sst2"].examples],
                        label=t("Examples (click one)"), elem_id="examples-single")  # fmt: skip
    # A Dataset's headers are plain text (the frontend does not translate them): the task's handler sets them
    # in the visitor's language whenever the pair examples show.
    pairs = gr.Dataset(components=[text, text_pair], samples=[[*e][:2] for t in TASKS.values() if t.is_pair
                       for e in t.examples][:1], label=t("Examples (click one)"), visible=False,
                       headers=["First sentence", "Second sentence"], elem_id="examples-pair")  # fmt: skip
    with gr.Row():
        predict_btn = gr.Button(
            t(f"Predict with all {len(METHODS)}"), variant="primary", elem_id="predict-btn", scale=3
        )
        why_btn = gr.Button(t("Why? Shade the words"), elem_id="why-btn", scale=1)
        with_zeroshot = gr.Checkbox(
            False, label=t("Also ask a zero-shot LM (SmolLM2-135M, no training)"), elem_id="zeroshot-box", scale=2
        )
    return Controls(task, text, text_pair, single, pairs, predict_btn, why_btn, with_zeroshot)


def wire_examples(controls: Controls, output: gr.HTML) -> None:
    """A task shows its own examples and boxes; a clicked example fills the boxes."""

    @localized
    def on_task(task_name):
        chosen = get_task(task_name)
        return (
            # A pair task keeps a second sentence that came with the task (an example sent from Results).
            gr.update(visible=True) if chosen.is_pair else gr.update(visible=False, value=""),
            gr.update(label=t("First sentence" if chosen.is_pair else "Sentence")),
            gr.Dataset(samples=[[e[0]] for e in chosen.examples], visible=not chosen.is_pair),
            gr.Dataset(
                samples=[list(e[:2]) for e in chosen.examples] if chosen.is_pair else [["", ""]],
                visible=chosen.is_pair,
                headers=[say("First sentence"), say("Second sentence")],
            ),
            "",
        )

    c = controls
    c.task.change(on_task, c.task, [c.text_pair, c.text, c.single, c.pairs, output], api_visibility="private")
    c.single.click(lambda sample: sample[0], c.single, c.text, api_visibility="private")
    c.pairs.click(lambda sample: (sample[0], sample[1]), c.pairs, [c.text, c.text_pair], api_visibility="private")


def answerer(predictor: Predictor, zero_shot: ZeroShotColumn) -> Answer:
    def answer(task_name: object, first: object, second: object, ask_zero_shot: object,
               zero_shot_wait: float = 5.0) -> list[MethodPrediction]:  # fmt: skip
        """Every method's prediction (and the zero-shot LM's when asked, waiting for it `zero_shot_wait` seconds at
        most), or an error popup in words."""
        try:
            task = get_task(task_name if isinstance(task_name, str) else repr(task_name))
            results = predictor.predict(task.name, first, second or None)  # checks the input
        except (InputError, ValueError) as e:
            raise user_error(str(e)) from None
        if ask_zero_shot is True:
            texts = validate_input(task, first, second or None)
            results.append(zero_shot.predict(task.name, *texts, wait=zero_shot_wait))
        return results

    return answer


def wire_predictions(controls: Controls, output: gr.HTML, answer: Answer) -> Callable:
    """Predict (or Enter): the methods' cards at once, then the zero-shot LM's when asked. Returns the first step."""

    @localized
    def show(task_name, first, second, ask_zero_shot):
        """The four cards at once (the zero-shot LM's follows, from its own worker), or (for an input that cannot be
        classified) the reason in their place and in a pop-up: no earlier cards left standing under an empty box."""
        try:
            results = answer(task_name, first, second, False)
        except gr.Error as e:
            gr.Warning(str(e.message))
            return error_html(str(e.message))
        if ask_zero_shot is True:
            waiting = say("asking the zero-shot LM…")
            results.append(MethodPrediction(ZERO_SHOT_LM.name, ZERO_SHOT_LM.title, "pending",
                                            message=waiting))  # fmt: skip
        return cards_html(task_name, results)

    @localized
    def with_zero_shot(task_name, first, second, ask_zero_shot):
        """The cards again with the zero-shot LM's (loaded on first use: it may take half a minute)."""
        if ask_zero_shot is not True:
            return gr.skip()
        try:
            return cards_html(task_name, answer(task_name, first, second, True, zero_shot_wait=90.0))
        except gr.Error:
            return gr.skip()  # show() said why already

    for asked in (controls.predict_btn.click, controls.text.submit):
        asked(show, controls.inputs, output, api_visibility="private", **PREDICTING).then(
            with_zero_shot, controls.inputs, output, api_visibility="private", **ASKING_THE_LM
        )
    return show


def wire_why(controls: Controls, output: gr.HTML, answer: Answer, predictor: Predictor) -> None:
    """Why?: the cards with each trained method's words shaded by their push on its label."""

    @localized
    def why(task_name, first, second, ask_zero_shot, progress=gr.Progress()):  # noqa: B008 - Gradio's bar
        """The predictions with each trained method's word attributions (a few seconds: on request only)."""
        try:
            results = answer(task_name, first, second, ask_zero_shot, zero_shot_wait=0.0)
        except gr.Error as e:
            gr.Warning(str(e.message))
            return error_html(str(e.message))
        progress(0.3, desc=say("Attributing each word (Integrated Gradients)"))
        return cards_html(task_name, results, predictor.explain(task_name, first, second or None))

    controls.why_btn.click(why, controls.inputs, output, api_visibility="private", **EXPLAINING)


def add_apis(predictor: Predictor, answer: Answer) -> None:
    """/predict and /explain, for scripts (gradio_client), on the same workers as the buttons."""

    @localized
    def explain_api(task: str, text: str, text_pair: str | None = None) -> dict[str, dict]:
        """Each trained method's word attributions for one input: the predicted label they explain, each word's
        push towards it (Integrated Gradients over the word embeddings) and the completeness check."""
        try:
            if not isinstance(task, str):
                raise ValueError(f"the task must be one of {', '.join(TASKS)}")
            explained = predictor.explain(task, text, text_pair or None)
        except (InputError, ValueError) as e:
            raise user_error(str(e)) from None
        return {method: asdict(e) for method, e in explained.items()}

    gr.api(explain_api, api_name="explain", **EXPLAINING)

    @localized
    def predict_api(task: str, text: str, text_pair: str | None = None, zero_shot_lm: bool = False) -> list[dict]:
        """Every method's prediction for one input: label, probabilities, and the run it came from
        (plus the untrained zero-shot LM's when zero_shot_lm is true)."""
        return [asdict(r) for r in answer(task, text, text_pair, zero_shot_lm)]

    gr.api(predict_api, api_name="predict", **PREDICTING)
