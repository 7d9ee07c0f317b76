"""What a visitor types is checked before any tokenizer sees it: a specific message, or clean text."""

from __future__ import annotations

import pytest

from finetune.core.tasks import TASKS
from finetune.engine.predict import MAX_INPUT_CHARS, InputError, validate_input


@pytest.mark.parametrize(
    ("task", "text", "pair", "message"),
    [
        ("sst2", "", None, "the text is empty"),
        ("sst2", "   \n\t", None, "the text is empty"),
        ("sst2", "\u200b\u200c\ufeff", None, "no visible characters"),
        ("sst2", "\x00\x01", None, "no visible characters"),
        ("sst2", "\u0301", None, "no visible characters"),  # a combining accent on nothing
        ("sst2", "bad \ud800 text", None, "broken character"),
        ("sst2", "x" * (MAX_INPUT_CHARS + 1), None, f"the limit is {MAX_INPUT_CHARS:,}"),
        ("sst2", 42, None, "must be text, got a number"),
        ("sst2", ["a"], None, "must be text, got a list"),
        ("sst2", "one", "two", "classifies a single sentence"),
        ("mrpc", "one", None, "the second sentence is empty"),
        ("mrpc", "one", "\u200b", "the second sentence has no visible characters"),
    ],
)
def test_bad_input_is_refused_in_words(task, text, pair, message):
    with pytest.raises(InputError, match=message):
        validate_input(TASKS[task], text, pair)


def test_good_input_is_cleaned_not_changed():
    assert validate_input(TASKS["sst2"], "  a fine\x00film \u200b ") == ("a fine film \u200b", None)
    assert validate_input(TASKS["sst2"], "😀 좋은 영화") == ("😀 좋은 영화", None)
    assert validate_input(TASKS["mrpc"], "He left.", " He went away. ") == ("He left.", "He went away.")
    assert validate_input(TASKS["sst2"], "x" * MAX_INPUT_CHARS)[0] == "x" * MAX_INPUT_CHARS
