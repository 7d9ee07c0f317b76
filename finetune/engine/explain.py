"""Why a method said what it said: how much each word pushed its prediction, by Integrated Gradients
(captum's LayerIntegratedGradients over the word embeddings).

What is attributed is the log-odds of the predicted label against the others (for two labels: the logit
difference), from a baseline input that keeps [CLS]/[SEP] and replaces every word piece with [PAD].
Integrated Gradients is *complete*: the attributions add up to the log-odds at the input minus the
log-odds at the baseline (up to the integral's discretisation, reported as `completeness_gap`). Word
pieces are summed into words. It runs in fp32 whatever the run's precision (gradients, not a forward
pass alone), on request only: a plain prediction stays as fast as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from captum.attr import LayerIntegratedGradients

from ..core.tasks import Task

STEPS = 48  # integral steps: the completeness gap stays within a few percent on the lab's encoders


@dataclass
class WordAttribution:
    word: str
    score: float  # > 0 pushed towards the predicted label, < 0 away from it
    sequence: int  # 0: the sentence (or first sentence), 1: the second sentence of a pair


@dataclass
class Explanation:
    label: int  # the predicted label the words are scored for
    words: list[WordAttribution]
    log_odds: float  # at the input
    baseline_log_odds: float  # at the all-[PAD] baseline
    completeness_gap: float  # sum of attributions - (log_odds - baseline_log_odds)


def explain(model, tokenizer, task: Task, text: str, text_pair: str | None = None, max_length: int = 128,
            steps: int = STEPS) -> Explanation:  # fmt: skip
    """Word attributions for one input (see the module's docstring)."""
    args = (text, text_pair) if text_pair is not None else (text,)
    encoded = tokenizer(*args, truncation=True, max_length=max_length, return_tensors="pt")
    device = next(model.parameters()).device
    input_ids = encoded["input_ids"].to(device)
    extra = {k: v.to(device) for k, v in encoded.items() if k != "input_ids"}
    special = torch.tensor(tokenizer.get_special_tokens_mask(input_ids[0].tolist(), already_has_special_tokens=True),
                           dtype=torch.bool, device=device)  # fmt: skip
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    baseline = torch.where(special, input_ids[0], torch.full_like(input_ids[0], pad_id)).unsqueeze(0)

    model_was_training = model.training
    model.eval()

    def log_odds_of(label: int):
        def forward(ids):
            batch = {"input_ids": ids, **{k: v.expand(ids.shape[0], -1) for k, v in extra.items()}}
            logits = model(**batch).logits.float()
            others = torch.cat([logits[:, :label], logits[:, label + 1 :]], dim=1)
            return logits[:, label] - torch.logsumexp(others, dim=1)

        return forward

    try:
        with torch.no_grad():
            label = int(model(input_ids=input_ids, **extra).logits.argmax(-1)[0])
        forward = log_odds_of(label)
        ig = LayerIntegratedGradients(forward, model.get_input_embeddings())
        attributions, delta = ig.attribute(input_ids, baselines=baseline, n_steps=steps, method="gausslegendre",
                                           internal_batch_size=steps, return_convergence_delta=True)  # fmt: skip
        with torch.no_grad():
            at_input, at_baseline = float(forward(input_ids)[0]), float(forward(baseline)[0])
    finally:
        model.train(model_was_training)
    per_token = attributions.sum(dim=-1)[0].detach().float().cpu()
    return Explanation(label, _words(encoded, args, per_token, special.cpu()), at_input, at_baseline,
                       float(delta[0]))  # fmt: skip


def _words(
    encoded, originals: tuple[str, ...], per_token: torch.Tensor, special: torch.Tensor
) -> list[WordAttribution]:
    """Word pieces summed into the words they came from (as typed), in reading order."""
    words: dict[tuple[int, int], WordAttribution] = {}
    for position, (word, sequence) in enumerate(zip(encoded.word_ids(0), encoded.sequence_ids(0), strict=True)):
        if word is None or special[position]:
            continue
        if (sequence, word) not in words:
            span = encoded.word_to_chars(0, word, sequence_index=sequence)
            words[(sequence, word)] = WordAttribution(originals[sequence][span.start : span.end], 0.0, sequence)
        words[(sequence, word)].score += float(per_token[position])
    return list(words.values())
