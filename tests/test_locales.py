"""Messages computed on the server, in the visitor's language (webui/locales.py, language.py, error_words.py): the
catalogue is consistent, the error shapes translate the engine's real messages, and two visitors with different
languages get theirs."""

from __future__ import annotations

import inspect
import re
import string

import gradio as gr
import pytest
from gradio_client import Client

import app as lab
from finetune.core.tasks import get_task
from finetune.engine.config import ConfigError, config_from_values
from finetune.engine.predict import InputError, validate_input
from webui import language
from webui.error_words import say_error
from webui.language import accepted_language, localized, say, speaking
from webui.locales import KO

from .conftest import free_port


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_korean_message_fills_the_same_blanks_as_its_english():
    for english, korean in KO.items():
        assert placeholders(korean) == placeholders(english), english


@pytest.mark.parametrize(
    ("header", "language"),
    [("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"), ("en-US,en;q=0.9,ko;q=0.5", "en"), ("fr-FR, ko;q=0.2", "ko"),
     ("ko;q=0, en", "en"), ("", "en"), (None, "en"), ("de, fr", "en"), ("KO", "ko"), ("ko;q=abc", "en")],
)  # fmt: skip
def test_accept_language_picks_the_first_supported_language(header, language):
    assert accepted_language(header) == language


def engine_message(values: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        config_from_values({"task": "sst2", "method": "full", **values})
    return str(caught.value)


@pytest.mark.parametrize(
    ("values", "korean"),
    [
        ({"learning_rate": 50}, re.compile(r"^학습률: .*이하만 가능합니다 \(입력: 50\)$")),
        ({"epochs": "abc"}, re.compile(r"^에폭: 숫자만 가능합니다")),
        ({"batch_size": 2.5}, re.compile(r"^배치 크기: 정수만 가능합니다")),
    ],
)
def test_the_engines_setting_errors_read_in_korean(values, korean):
    english = engine_message(values)
    with speaking("ko"):
        assert korean.search(say_error(english)), (english, say_error(english))
    assert say_error(english) == english  # English visitors get the engine's own words


@pytest.mark.parametrize(
    ("task", "text", "pair", "korean"),
    [
        ("sst2", "", None, "텍스트가 비어 있습니다"),
        ("sst2", "\u200b\u200b", None, "보이는 글자가 없습니다"),
        ("mrpc", "one", "", "두 번째 문장이 비어 있습니다"),
        ("sst2", "one", "two", "한 문장만 분류하는 과제입니다"),
        ("sst2", "x" * 20_001, None, "최대"),
    ],
)
def test_the_playgrounds_input_errors_read_in_korean(task, text, pair, korean):
    with pytest.raises(InputError) as caught:
        validate_input(get_task(task), text, pair)
    with speaking("ko"):
        translated = say_error(str(caught.value))
    assert korean in translated and not re.search(r"[a-z]{4,} [a-z]{4,}", translated.replace("sentiment", "")), (
        translated
    )


def test_unknown_messages_stay_english_and_say_fills_in_values():
    with speaking("ko"):
        assert say_error("something nobody translated") == "something nobody translated"
        assert say("Finished {task} / {method}", task="sst2", method="lora") == "sst2 / lora 학습 완료"
        assert language.duration(200) == "3분 20초"
    assert say("Finished {task} / {method}", task="sst2", method="lora") == "Finished sst2 / lora"
    assert language.duration(200) == "3 min 20 s"


def test_a_localized_handler_gets_the_request_slot_gradio_fills_and_speaks_its_language():
    @localized
    def handler(name: str, count: int = 1):
        return say("Finished {task} / {method}", task=name, method=str(count))

    parameters = list(inspect.signature(handler).parameters)
    assert parameters == ["visitor", "name", "count"]  # Gradio inserts the request first
    korean = gr.Request(headers={"accept-language": "ko-KR,ko"})
    assert handler(korean, "sst2", 2) == "sst2 / 2 학습 완료"
    assert handler("sst2") == "Finished sst2 / 1"  # a plain Python call: English at the top
    with speaking("ko"):
        assert handler("sst2") == "sst2 / 1 학습 완료"  # ... and the caller's language inside another handler

    @localized
    def steps(request: gr.Request):
        yield say("Nothing is training.")
        yield say("Nothing is training.")

    assert list(inspect.signature(steps).parameters) == ["request"]  # already takes the request: unchanged
    assert list(steps(korean)) == ["학습 중인 것이 없습니다."] * 2  # every step, whatever thread runs it


@pytest.fixture(scope="module")
def two_visitors(tmp_path_factory):
    demo = lab.create_app(tmp_path_factory.mktemp("locales-checkpoints"))
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    yield (Client(url, verbose=False, headers={"Accept-Language": "ko-KR,ko;q=0.9"}),
           Client(url, verbose=False, headers={"Accept-Language": "en-US"}))  # fmt: skip
    demo.close()


def test_two_visitors_get_the_same_error_each_in_their_own_language(two_visitors):
    korean, english = two_visitors
    calls = [
        ({"api_name": "/import_bundle"}, (None, ""), "먼저 가져올 묶음(.zip)을 고르세요.",
         "Choose a bundle (.zip) to import first."),
        ({"api_name": "/predict", "task": "sst2", "text": "   "}, (), "텍스트가 비어 있습니다", "the text is empty"),
        ({"api_name": "/train", "task": "sst2", "method": "full", "learning_rate": 50.0}, (), "학습률: ",
         "Learning rate must be"),
    ]  # fmt: skip
    for keywords, positional, in_korean, in_english in calls:
        for client, words in ((korean, in_korean), (english, in_english)):
            with pytest.raises(Exception, match=re.escape(words)):
                client.predict(*positional, **keywords)


def shown_texts() -> list[tuple[str, int, str]]:
    """Every literal text the UI passes to t() or say() (file, line, text)."""
    import ast
    from pathlib import Path

    texts = []
    for path in sorted((Path(__file__).parents[1] / "webui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("say", "t") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    texts.append((path.name, node.lineno, first.value))
    return texts


def test_every_text_the_ui_shows_has_its_korean():
    from finetune.core.methods import METHODS
    from finetune.core.tasks import TASKS
    from webui.charts import MEASURES
    from webui.playground_tab import label_text
    from webui.results_tab import MEASURE_CHOICES, SHOWN_COLUMNS

    texts = shown_texts()
    assert len(texts) > 150  # the scan sees the UI's texts
    missing = [(name, line, text) for name, line, text in texts if text not in KO]
    # Texts that reach say() through a variable: method summaries, labels, chart and table headings.
    computed = [m.summary for m in METHODS.values()] + [title for _, title, _, _ in MEASURES.values()]
    computed += [label for label, _ in MEASURE_CHOICES] + list(SHOWN_COLUMNS.values())
    metric_names = {"F1", "MCC"}  # stay as they are in Korean too (the catalogue's rule)
    missing += [("computed", 0, text) for text in computed if text not in KO and text not in metric_names]
    assert not missing, missing
    with speaking("ko"):
        for task in TASKS.values():
            assert all(label_text(name) != name.replace("_", " ") for name in task.label_names), task.name


def test_a_fresh_process_has_the_whole_catalogue_before_any_page_is_built():
    """Pages take the catalogue when they load: a text shown later by a handler (a method's summary after a click)
    must be in it from the start, or the first visitors see its key."""
    import subprocess
    import sys
    from pathlib import Path

    check = (
        "from webui.locales import I18N, KO, key\n"
        "missing = [text for text in KO if I18N.translations['ko'].get(key(text)) != KO[text]]\n"
        "print(len(KO), len(missing))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parents[1])  # fmt: skip
    total, missing = map(int, done.stdout.split())
    assert total == len(KO) and missing == 0


def test_every_registered_method_says_what_it_is_in_korean():
    """A method owns its words: its summary and each option's label and help line, shown in the Train tab's form,
    must have their Korean, or a Korean class sees English in the middle of its form. (Method titles, like metric
    names, stay as they are.)"""
    from finetune.core.fields import settings_of
    from finetune.core.methods import METHODS

    said = {method.name: [method.summary] for method in METHODS.values()}
    for method in METHODS.values():
        said[method.name] += [part for s in settings_of(method.Options) for part in (s.spec.label, s.spec.help)]
    missing = [(name, text) for name, texts in said.items() for text in texts if text not in KO]
    assert not missing, missing


def test_the_log_says_why_a_run_stopped_in_the_visitors_language():
    """A run its GPU call's time cut is not "stopped by the user": the log says which, in Korean too."""
    from finetune.engine.worker import OVERTIME
    from webui.live_view import log_line

    cut = {"time": 0, "event": {"type": "end", "status": "cancelled", "reason": OVERTIME, "resumable_from": 293}}
    stopped = {"time": 0, "event": {"type": "end", "status": "cancelled", "reason": "120", "resumable_from": 120}}
    assert log_line(cut).endswith("it used up the GPU time it asked for (resumable from step 293)")
    assert log_line(stopped).endswith("stopped by the user (resumable from step 120)")
    with speaking("ko"):
        assert "요청한 GPU 시간을 다 써서 멈췄습니다" in log_line(cut) and "사용자가 중지함" in log_line(stopped)
