"""Does the encoder know this text's language? The share of a text's characters its tokenizer cannot read: those
that become the unknown token ([UNK]), and those broken into letter pieces that carry no meaning for it (an English
vocabulary splits a Korean syllable the uncased tokenizer did not map to [UNK] into its jamo). A Korean sentence
typed into an English encoder gets a confident, meaningless answer; this says so before anyone trusts it.
"""

from __future__ import annotations

import unicodedata

# At or above this share the text is mostly unreadable to the encoder: a warning in words, never a refusal.
UNKNOWN_WARN_SHARE = 0.3
# Encoders that know Korean, by Hub id (what the warning suggests instead).
KOREAN_ENCODERS = ("klue/bert-base", "bert-base-multilingual-cased")


def unknown_share(tokenizer, texts: list[str]) -> float:
    """The share of the visible characters of `texts` that `tokenizer` maps to its unknown token or breaks into
    pieces of a single character (0 for a tokenizer without an unknown token or without character offsets)."""
    unknown_id = getattr(tokenizer, "unk_token_id", None)
    if unknown_id is None or not getattr(tokenizer, "is_fast", False):
        return 0.0
    visible = unreadable = 0
    for text in texts:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                            verbose=False)  # fmt: skip
        pieces: dict[tuple[int, int], int] = {}
        lost: set[int] = set()
        for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
            if token == unknown_id:
                lost.update(range(start, end))
            elif end - start == 1:
                pieces[(start, end)] = pieces.get((start, end), 0) + 1
        lost.update(start for (start, _), count in pieces.items() if count > 1)
        shown = [i for i, character in enumerate(text) if not character.isspace()]
        visible += len(shown)
        unreadable += sum(i in lost for i in shown)
    return unreadable / visible if visible else 0.0


def mostly_korean(texts: list[str]) -> bool:
    letters = [c for text in texts for c in text if c.isalpha()]
    hangul = sum("HANGUL" in unicodedata.name(c, "") for c in letters)
    return bool(letters) and hangul / len(letters) > 0.5


def unknown_note(share: float, texts: list[str]) -> str:
    """The warning, in words, for a share at or above UNKNOWN_WARN_SHARE."""
    korean = mostly_korean(texts)
    language = "Korean" if korean else "this text's language"
    instead = " or ".join(KOREAN_ENCODERS) if korean else "bert-base-multilingual-cased"
    return (f"this encoder does not know {language}: {share:.0%} of the characters become [UNK] (unknown) or "
            f"meaningless letter pieces, so its answers mean little; train on an encoder that knows it, named by its "
            f"Hub id (e.g. {instead})")  # fmt: skip
