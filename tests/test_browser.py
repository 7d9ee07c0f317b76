"""A person in a real browser (Debian chromium via Playwright): train a short run, watch it, predict."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

import app as lab
from finetune.core import checkpoints
from finetune.core.methods import METHODS

from .conftest import REPO, free_port, wait_for

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "test-artifacts"))
PROJECTOR = {"width": 1366, "height": 768}  # a classroom projector: what the teacher's first demo is seen on
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
# What a text not yet translated looks like on the page: Gradio's marker, or one of locales.key()'s keys.
UNTRANSLATED = re.compile(r"__i18n__|\bs[0-9a-f]{12}\b")
GRADIO_KEY = re.compile(r"[a-z_]+\.[a-z_.]+")  # one of Gradio's own catalogue's keys, e.g. common.complete


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
    root = tmp_path_factory.mktemp("browser-checkpoints")
    demo = lab.create_app(root)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=lab.CSS)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=PROJECTOR)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#start-btn", timeout=60_000)
        yield page, demo
        browser.close()
    demo.runner.stop()
    demo.runner.wait(60)
    demo.close()


def below_the_fold(page, selectors: tuple[str, ...]) -> dict[str, float]:
    """The elements (of `selectors`) whose bottom edge lies below a projector's first screen, with where it lies."""
    bottoms = {
        selector: page.locator(selector).first.evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
        for selector in selectors
    }
    return {selector: bottom for selector, bottom in bottoms.items() if bottom > PROJECTOR["height"]}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_train_watch_and_predict_in_the_browser(browser_page, tiny_bert, glue_dir):
    from playwright.sync_api import expect

    page, _ = browser_page
    # A value typed right after choosing a method stays: the method's defaults are filled in as the choice is made,
    # not by a server answer that may arrive later.
    page.get_by_text("LoRA", exact=True).click()
    page.get_by_label("Learning rate", exact=True).fill("0.002")
    page.wait_for_timeout(1500)
    expect(page.get_by_label("Learning rate", exact=True)).to_have_value("0.002")
    expect(page.get_by_label("LoRA rank r")).to_be_visible()  # the method's own options shown
    page.get_by_text("Selective layers", exact=True).click()
    expect(page.get_by_label("Learning rate")).to_have_value("0.0003")  # the method's default filled in
    # Settings whose default is decided later show empty (not 0, which would be out of bounds) once drawn.
    expect(page.get_by_label("Top k layers")).to_have_value("")
    # A task's recipe fills the method's options too: MRPC's selective recipe trains the top 4 layers.
    page.get_by_text("MRPC (paraphrase)", exact=True).click()
    expect(page.get_by_label("Top k layers")).to_have_value("4")
    page.get_by_text("SST-2 (sentiment)", exact=True).click()
    expect(page.get_by_label("Top k layers")).to_have_value("")
    page.get_by_text("Advanced").click()
    expect(page.get_by_label("Dev examples")).to_have_value("")
    expect(page.locator("#estimate")).to_contain_text("this run about", timeout=20_000)
    page.get_by_text("Model and data").click()
    page.get_by_label("Encoder").fill(str(tiny_bert))
    page.get_by_label("Local GLUE directory").fill(str(glue_dir))
    page.get_by_label("Training examples", exact=True).fill("256")
    page.get_by_label("Batch size").fill("16")
    page.get_by_label("Top k layers").fill("1")
    page.get_by_label("Top k layers").press("Tab")
    # Before starting: how long it will take on this machine, for this run and for all methods.
    expect(page.locator("#estimate")).to_contain_text("this run about", timeout=20_000)
    expect(page.locator("#estimate")).to_contain_text(f"Train all {len(METHODS)}: about")
    page.get_by_label("Batch size").fill("0")
    page.get_by_label("Batch size").press("Tab")
    expect(page.locator("#estimate")).to_contain_text("Batch size must be between 1 and 512", timeout=20_000)
    page.locator("#start-btn").click()  # refused: the answer stands under the button, not only in a pop-up
    expect(page.locator("#action-status")).to_contain_text("Not started: Batch size must be", timeout=20_000)
    page.get_by_label("Batch size").fill("16")
    page.get_by_label("Batch size").press("Tab")
    expect(page.locator("#estimate")).to_contain_text("this run about", timeout=20_000)
    shot(page, "train-form")
    page.locator("#start-btn").click()
    expect(page.locator("#action-status")).to_contain_text("Started", timeout=20_000)

    # Live view: progress, then the finished state with loss and metric curves and the parameter card.
    status = page.locator("#run-status .run-status")
    expect(status).to_have_attribute("data-state", "running", timeout=60_000)
    expect(status).to_have_attribute("data-state", "complete", timeout=180_000)
    expect(page.locator("#final-metrics")).to_contain_text("Accuracy", timeout=10_000)
    expect(page.locator("#param-card")).to_contain_text("fewer than full fine-tuning")
    for plot in ("#loss-plot", "#metric-plot"):
        expect(page.locator(f"{plot} canvas").first).to_be_visible(timeout=20_000)
    # A projector shows the run's curves without scrolling (the first screen of the page).
    assert below_the_fold(page, ("#loss-plot", "#metric-plot")) == {}
    # The run's own log, newest line last; the method by its title.
    expect(page.locator("#run-log textarea")).to_have_value(re.compile(r"SST-2 \(sentiment\) / Selective layers on"))
    expect(page.locator("#run-log textarea")).to_have_value(re.compile(r"saved run \S+$"))
    # Every part of the network, with what trains of it: selective's top layer trains whole, its embeddings not.
    expect(page.locator("#parts-plot .part")).to_have_count(5)  # embeddings, 2 layers, pooler, head
    expect(page.locator("#parts-plot .part[data-part='layer.1']")).to_contain_text("(100%)")
    expect(page.locator("#parts-plot .part[data-part='embeddings']")).to_contain_text("0 of")
    expect(page.locator(".cm-content")).to_contain_text("python -m finetune train --task sst2 --method selective")
    shot(page, "train-tab")

    # Results: the run is listed.
    page.get_by_role("tab", name="Results").click()
    expect(page.locator("#results-table")).to_contain_text("Selective layers", timeout=20_000)
    expect(page.locator("#results-plot canvas").first).to_be_visible(timeout=20_000)
    shot(page, "results-tab")
    # Another x axis redraws the chart alone, in seconds (not after the table and the differences are made again).
    before = page.locator("#results-plot").screenshot()
    page.locator("#chart-measure").get_by_text("Training seconds").click()
    wait_for(lambda: page.locator("#results-plot").screenshot() != before, timeout=10)
    expect(page.locator("#results-plot canvas").first).to_be_visible(timeout=10_000)
    # Moving runs: the task's runs as a bundle to download; the trained run offered for a Hub push.
    page.get_by_text("Move runs: download a bundle, import one, push to the Hub").click()
    page.locator("#make-bundle").click()
    expect(page.locator("#bundle-file")).to_contain_text(re.compile(r"sst2-runs\s*\.zip"), timeout=30_000)
    page.locator("#push-run input").click()
    expect(page.get_by_role("option", name=re.compile(r"sst2 \/ selective · Accuracy"))).to_be_visible()
    page.keyboard.press("Escape")
    shot(page, "results-move-runs")

    # Playground: a prediction from the trained method, and "not trained" for the other three.
    page.get_by_role("tab", name="Playground").click()
    page.locator("#text-1 textarea").fill("an utterly charming and funny film")
    page.locator("#predict-btn").click()
    expect(page.locator(".card[data-status='ok']")).to_have_count(1, timeout=60_000)
    expect(page.locator(".card[data-method='selective'] .label")).to_have_text(re.compile("^(positive|negative)$"))
    expect(page.locator(".card[data-method='selective'] .prob-caption")).to_contain_text("probability")
    expect(page.locator(".card[data-status='not_trained']")).to_have_count(len(METHODS) - 1)
    expect(page.locator(".unknown-note")).to_have_count(0)
    shot(page, "playground-tab")
    # A Korean sentence and an English encoder: the answer comes with the warning that it means little.
    page.locator("#text-1 textarea").fill("정말 재미있는 영화였어요")
    page.locator("#predict-btn").click()
    expect(page.locator(".unknown-note")).to_contain_text("This encoder does not know Korean: 100%", timeout=60_000)
    shot(page, "playground-unknown-korean")


def test_empty_text_shows_an_error_and_the_app_keeps_serving(browser_page):
    from playwright.sync_api import expect

    page, _ = browser_page
    page.get_by_role("tab", name="Playground").click()
    page.locator("#text-1 textarea").fill("   ")
    page.locator("#predict-btn").click()
    expect(page.locator("#predictions .input-error")).to_contain_text("is empty", timeout=20_000)
    expect(page.locator("#predictions .card")).to_have_count(0)  # no earlier cards left under the empty box
    page.get_by_text("MRPC (paraphrase)").last.click()
    expect(page.locator("#text-2 textarea")).to_be_visible()
    page.locator("#text-1 textarea").fill("The cat sat on the mat.")
    page.locator("#predict-btn").click()
    expect(page.get_by_text("second sentence is empty").first).to_be_visible(timeout=20_000)
    shot(page, "playground-error")


def test_stop_and_resume_in_the_browser(browser_page, tiny_bert, glue_dir):
    """Stop a run after its first dev evaluation; it appears under Stopped runs; Resume finishes it."""
    from playwright.sync_api import expect

    page, demo = browser_page
    page.get_by_role("tab", name="Train").click()
    if not page.get_by_label("Encoder").is_visible():  # open unless an earlier test left it open
        page.get_by_text("Model and data").click()
    expect(page.get_by_label("Encoder")).to_be_visible()
    page.get_by_label("Encoder").fill(str(tiny_bert))
    page.get_by_label("Local GLUE directory").fill(str(glue_dir))
    page.get_by_label("Training examples", exact=True).fill("8000")
    page.get_by_label("Epochs").fill("4")  # 4,000 steps: time to see the first evaluation and press Stop
    page.get_by_label("Batch size").fill("8")
    page.get_by_label("Batch size").press("Tab")
    page.locator("#start-btn").click()
    status = page.locator("#run-status .run-status")
    expect(status).to_have_attribute("data-state", "running", timeout=60_000)
    expect(page.locator("#final-metrics")).to_contain_text("Dev (step", timeout=120_000)
    page.locator("#stop-btn").click()
    expect(page.locator("#action-status")).to_contain_text("Stopping", timeout=20_000)
    expect(status).to_have_attribute("data-state", "cancelled", timeout=60_000)
    [stopped] = demo.runner.stopped_runs()
    # The newest stopped run is chosen already: Resume is one click.
    expect(page.locator("#resume-pick input")).to_have_value(re.compile(rf"step {stopped.step:,} of "), timeout=10_000)

    page.locator("#resume-pick input").click()
    page.get_by_role("option", name=re.compile(rf"step {stopped.step:,} of {stopped.max_steps:,}")).click()
    shot(page, "train-stopped-run")
    page.locator("#resume-btn").click()
    expect(page.locator("#action-status")).to_contain_text("Resumed", timeout=20_000)
    expect(page.locator(".cm-content")).to_contain_text(f"python -m finetune train --resume {stopped.run_id}")
    page.wait_for_timeout(3_000)  # the list of stopped runs changes under the chosen one: no Gradio pop-up about it
    assert "not in the list of choices" not in page.content()
    expect(status).to_have_attribute("data-state", "complete", timeout=180_000)
    assert demo.runner.snapshot().last_run["run_id"] == stopped.run_id
    assert demo.runner.stopped_runs() == []
    shot(page, "train-resumed")


def test_train_all_races_in_the_browser_and_a_stopped_method_goes_on_with_resume_the_race(
    browser_page, tiny_bert, glue_dir, tmp_path
):
    """Train all on a server of its own: one race bar, a card a method and the four curves on one chart; a method's
    own Stop stops it alone; Resume the race trains it on where it was, and the four are saved."""
    from playwright.sync_api import expect

    demo = lab.create_app(tmp_path / "checkpoints")
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=lab.CSS)
    context = browser_page[0].context.browser.new_context(viewport=PROJECTOR)  # the module's chromium
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#start-btn", timeout=60_000)
        page.get_by_text("Model and data").click()
        page.get_by_label("Encoder").fill(str(tiny_bert))
        page.get_by_label("Local GLUE directory").fill(str(glue_dir))
        page.get_by_text("Advanced").click()
        page.get_by_label("Seed").fill("7")
        page.get_by_label("Seed").press("Tab")
        page.locator("#train-all-btn").click()
        status = page.locator("#run-status .run-status[data-race='1']")
        expect(status).to_have_attribute("data-state", "running", timeout=60_000)
        expect(status).to_contain_text("lanes of")

        def evaluated() -> str | None:  # a method training that has a dev evaluation in: the one to stop
            snap = demo.runner.snapshot()
            running = [e for e in snap.race if e.state == "running" and any(v["type"] == "eval" for v in e.events)]
            return running[0].method if snap.state == "running" and running else None

        method = wait_for(evaluated, timeout=300)  # the method it found, not a second look that may find none
        page.locator(f"#stop-{method}").click()
        expect(status).to_have_attribute("data-state", "cancelled", timeout=300_000)
        for name in METHODS:
            expect(page.locator("#final-metrics")).to_contain_text(METHODS[name].title)  # a card a method
        expect(page.locator("#metric-plot .vega-embed")).to_be_visible()  # the four curves on one chart
        expect(page.locator("#resume-race-btn")).to_be_visible(timeout=10_000)
        # The table is the curves' legend (each method's colour), and table and curves fit a projector's screen.
        expect(page.locator("#final-metrics .swatch")).to_have_count(len(METHODS))
        color = page.locator("#final-metrics .swatch.method-lora").evaluate("e => getComputedStyle(e).backgroundColor")
        assert color == "rgb(255, 127, 14)"  # LoRA's orange, as in the charts
        shot(page, "train-race-stopped")
        assert below_the_fold(page, ("#final-metrics", "#loss-plot", "#metric-plot")) == {}
        page.locator("#resume-race-btn").click()
        expect(page.locator("#run-status .run-status")).to_have_attribute("data-state", "complete", timeout=300_000)
        seeded = {r.method for r in checkpoints.list_runs(tmp_path / "checkpoints") if r.info["config"]["seed"] == 7}
        assert seeded == set(METHODS)
        shot(page, "train-race-resumed")
    finally:
        context.close()
        demo.runner.stop()
        demo.runner.wait(60)
        demo.close()


def test_where_the_methods_differ_and_one_click_to_the_playground(browser_page, tiny_bert, glue_dir):
    from playwright.sync_api import expect

    from finetune.engine.compare import compare
    from finetune.engine.train import train

    from .conftest import tiny_config

    page, demo = browser_page
    root = demo.runner.checkpoints_dir
    for method, lr in (("full", 5e-4), ("lora", 5e-3)):
        train(tiny_config(tiny_bert, glue_dir, method=method, learning_rate=lr, max_train_samples=160,
                          max_eval_samples=64), checkpoints_dir=root)  # fmt: skip
    comparison = compare("sst2", root)
    # A filter with something to show: some method right where another is wrong, else one method's errors.
    pairs = [(a, b) for a in comparison.methods for b in comparison.methods if a != b]
    right, wrong = next(((a, b) for a, b in pairs if comparison.rows(right=a, wrong=b)), ("", "full"))
    expected = comparison.rows(right=right or None, wrong=wrong)
    assert expected, "the tiny full run gets every dev example right"
    page.get_by_role("tab", name="Results").click()
    page.locator("#results-refresh").click()
    expect(page.locator(".matrix")).to_have_count(len(comparison.methods), timeout=30_000)
    expect(page.locator("#curves-plot canvas").first).to_be_visible(timeout=20_000)
    page.locator("#filter-disagree input").uncheck()
    condition = []
    for box, method in (("#filter-right", right), ("#filter-wrong", wrong)):
        if method:
            page.locator(f"{box} input").click()
            page.locator(box).get_by_role("option", name=METHODS[method].title, exact=True).click()
            condition.append(f"{METHODS[method].title} {'right' if box == '#filter-right' else 'wrong'}")
    summary = page.locator("#differences-summary")
    expect(summary).to_contain_text(f"{', '.join(condition)}: {len(expected)} of 64", timeout=20_000)
    first = comparison.texts[expected[0]][0]
    expect(page.locator("#differences-table")).to_contain_text(first)
    shot(page, "results-differences")
    page.locator("#differences-table").get_by_text(first, exact=True).click()
    expect(page.locator("#text-1 textarea")).to_have_value(first, timeout=20_000)
    expect(page.locator(".card[data-status='ok']")).to_have_count(3, timeout=60_000)
    shot(page, "playground-from-results")

    # Why: each trained card shades the sentence's words; the legend says what the colours mean.
    page.locator("#why-btn").click()
    expect(page.locator(".why-legend")).to_contain_text("Integrated Gradients", timeout=60_000)
    expect(page.locator(".card[data-status='ok'] .why")).to_have_count(3)
    words = len(first.split())
    assert page.locator(".card[data-method='full'] .why-word").count() >= words - 2  # punctuation splits differ
    shot(page, "playground-why")


def test_a_korean_browser_sees_the_lab_in_korean(browser_page):
    from playwright.sync_api import expect

    page, _ = browser_page
    context = page.context.browser.new_context(locale="ko-KR", viewport=PROJECTOR)
    korean = context.new_page()
    try:
        korean.goto(page.url.split("?")[0])
        korean.wait_for_selector("#start-btn", timeout=60_000)
        expect(korean.get_by_role("tab", name="결과")).to_be_visible()
        expect(korean.locator("#start-btn")).to_have_text("시작")
        expect(korean.get_by_text("GLUE 과제", exact=True)).to_be_visible()
        korean.get_by_text("고급 설정").click()
        expect(korean.get_by_label("정밀도")).to_be_visible()
        expect(korean.get_by_label("학습률", exact=True)).to_be_visible()  # a setting generated from RunConfig
        expect(korean.get_by_text("인코더는 고정하고").first).to_be_hidden()  # full fine-tuning's summary shows
        expect(korean.get_by_text("모든 가중치를 학습합니다.", exact=False)).to_be_visible()
        expect(korean.get_by_text("어떻게 다를까요", exact=False)).to_be_visible()
        # What the server computes speaks Korean too: the estimate, the last run's status, its parameter card.
        expect(korean.locator("#estimate")).to_contain_text("이 기계에서의 예상 시간", timeout=20_000)
        expect(korean.locator("#run-status")).to_contain_text("학습 완료")  # the run trained above
        expect(korean.locator("#param-card")).to_contain_text("전체 미세조정보다")
        shot(korean, "train-tab-korean")
        korean.get_by_role("tab", name="플레이그라운드").click()
        expect(korean.locator("#why-btn")).to_have_text("왜? 단어에 색 입히기")
        korean.locator("#predict-btn").click()  # nothing typed: the error says so in Korean
        expect(korean.locator("#predictions .input-error")).to_contain_text("텍스트가 비어 있습니다", timeout=20_000)
        korean.locator("#text-1 textarea").fill("a gorgeous, witty, seductive movie.")
        korean.locator("#predict-btn").click()
        expect(korean.locator(".card[data-method='prompt']")).to_contain_text("먼저 학습하세요", timeout=30_000)
        shot(korean, "playground-korean")
        korean.get_by_role("tab", name="결과").click()
        expect(korean.locator("#confusion-matrices")).to_contain_text("개 맞힘", timeout=30_000)
        expect(korean.locator("#curve-choice")).to_contain_text("학습 손실")
        expect(korean.locator("#differences-summary")).to_contain_text("dev 예제")
        shot(korean, "results-korean")
        # Settings → Language → English: the fixed labels and the server's messages both switch.
        korean.locator("footer").get_by_text("설정").click()
        korean.get_by_role("combobox", name="Language").click()
        korean.get_by_role("option", name="English").click()
        korean.locator("div.backdrop").click(position={"x": 20, "y": 20})  # closes the settings
        expect(korean.locator("#confusion-matrices")).to_contain_text(" right (", timeout=20_000)
        korean.get_by_role("tab", name="Train").click()
        expect(korean.locator("#start-btn")).to_have_text("Start")
        expect(korean.locator("#estimate")).to_contain_text("Estimated on this machine", timeout=20_000)
        expect(korean.locator("#run-status")).to_contain_text("Finished")
    finally:
        context.close()
    expect(page.locator("#start-btn")).to_have_text("Start")  # the English browser still sees English


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_a_fresh_server_shows_no_translation_key_anywhere(browser_page, locale, tmp_path):
    """The teacher's first demo: a server just started, every tab, every task and method picked, in English and in
    Korean. No text may show as a key (every text the handlers show later is in the page's catalogue), and a
    1366x768 projector shows the Train tab's buttons, their status line and the curves together."""
    from playwright.sync_api import expect

    from finetune.core.tasks import TASKS

    korean = locale == "ko-KR"
    demo = lab.create_app(tmp_path / "checkpoints")
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    seen: list[str] = []
    heard: set[str] = set()

    def no_keys(page, where: str) -> None:
        page.wait_for_timeout(400)  # the handlers' answers drawn
        text = page.inner_text("body")  # what a person sees (the page's config carries the keys, by design)
        seen.append(where)
        assert not UNTRANSLATED.search(text), (where, UNTRANSLATED.findall(text)[:5])
        # What Gradio announces to a screen reader (an event's end) is words, not one of its keys ("common.complete").
        announced = page.locator(".sr-only[role='status']").all_inner_texts()
        assert not [said for said in announced if GRADIO_KEY.fullmatch(said.strip())], (where, announced)
        heard.update(said.strip() for said in announced if said.strip())

    context = browser_page[0].context.browser.new_context(locale=locale, viewport=PROJECTOR)  # the module's chromium
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#start-btn", timeout=60_000)
        expect(page.locator("#loss-plot canvas").first).to_be_visible(timeout=20_000)
        for element in ("#start-btn", "#stop-btn", "#estimate", "#loss-plot", "#metric-plot"):
            box = page.locator(element).bounding_box()
            assert box and box["y"] + box["height"] <= PROJECTOR["height"], (element, box)
        no_keys(page, "train")
        for task in TASKS.values():
            page.locator("#in-task").get_by_text(task.title, exact=True).click()
            for method in METHODS.values():
                page.locator("#in-method").get_by_text(method.title, exact=True).click()
                summary = page.locator("#method-summary")
                expect(summary).not_to_be_empty()
                if korean:  # the summary of a method picked later is the catalogue's Korean, not a key
                    expect(summary).to_contain_text(re.compile(r"[가-힣]"))
                no_keys(page, f"train {task.name} {method.name}")
        shot(page, f"fresh-train-{locale}")
        page.get_by_role("tab", name="결과" if korean else "Results").click()
        for task in TASKS.values():
            page.locator("#results-task").get_by_text(task.title, exact=True).click()
            no_keys(page, f"results {task.name}")
        expect(page.locator("#results-plot canvas")).to_be_visible()  # it says what will appear (test_charts)
        shot(page, f"fresh-results-{locale}")
        page.get_by_role("tab", name="플레이그라운드" if korean else "Playground").click()
        for task in TASKS.values():
            page.locator("#playground-task").get_by_text(task.title, exact=True).click()
            no_keys(page, f"playground {task.name}")
            if task.is_pair:  # the example table's headers, in the page's language
                expect(page.locator("#examples-pair")).to_contain_text("첫 번째 문장" if korean else "First sentence")
        shot(page, f"fresh-playground-{locale}")
    finally:
        context.close()
        demo.close()
    assert len(seen) == 1 + len(TASKS) * len(METHODS) + 2 * len(TASKS)
    assert ("완료" if korean else "Done") in heard, heard  # (the events that ended were announced in words)


def test_two_browsers_on_the_zerogpu_stand_in_train_stop_resume_and_run_out_of_quota(browser_page, tmp_path, tiny_bert,
                                                                                     glue_dir):  # fmt: skip
    """A fresh lab on the ZeroGPU stand-in, two visitors at once (each with their own X-IP-Token, as ZeroGPU's proxy
    sends): an English one's short run trains and shows live; a Korean one's long run, in line behind it, is cut by
    its GPU call's duration, resumed, cut again, and then refused in Korean when their quota no longer covers a call,
    while the English visitor, whose quota is their own, trains again."""
    from playwright.sync_api import expect

    from .test_deployment import start_space

    chromium = browser_page[0].context.browser.browser_type  # Playwright's, already running in this thread

    env = {k: v for k, v in os.environ.items() if k != "FINETUNE_CHECKPOINTS"}
    # Every call asks for 20 s (capped), the run stopping itself after 15 s; each visitor has 45 s.
    # The browsers' X-IP-Token plays Spaces' proxy, which sets it per visitor: the lab is told to trust it.
    env |= {"LAB_ZEROGPU_EMULATE": "1", "LAB_ZEROGPU_QUOTA_S": "45", "LAB_ZEROGPU_MAX_CALL_S": "20",
            "LAB_VISITOR_HEADER": "x-ip-token", "FINETUNE_CHECKPOINTS": str(tmp_path / "runs"),
            "GLUE_DIR": str(glue_dir), "PYTHONPATH": str(REPO)}  # fmt: skip
    port = free_port()
    app = start_space(env, port)
    try:
        pages, browsers = {}, []
        for name, locale in (("en", "en-US"), ("ko", "ko-KR")):
            # Two browsers, not two tabs of one: a browser slows the timers of a page in the background.
            browser = chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            browsers.append(browser)
            context = browser.new_context(viewport=PROJECTOR, locale=locale,
                                          extra_http_headers={"X-IP-Token": f"visitor-{name}"})  # fmt: skip
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#start-btn", timeout=60_000)
            # The form is filled in the page's language once the page has told it: then it is ours to fill.
            expect(page.locator("#estimate")).to_contain_text("GPU time" if name == "en" else "GPU 시간",
                                                              timeout=120_000)  # fmt: skip
            page.get_by_text("Model and data" if name == "en" else "모델과 데이터").click()
            page.get_by_text("Advanced" if name == "en" else "고급 설정").click()
            # 100 steps (well inside one 20 s call, on a loaded machine too); and 8,000 (longer than two 20 s calls),
            # evaluated every 160 steps so that even a call slowed by a loaded machine reaches an evaluation, the step a
            # cut run resumes from.
            epochs, examples, evaluations = (1, 800, 3) if name == "en" else (8, 8000, 50)
            # Every value filled, seen in the command (3 evaluations, the default, is not written there).
            wanted = [f"--epochs {epochs}", f"--max-train-samples {examples}", "--batch-size 8", str(tiny_bert)]
            wanted += [f"--evaluations {evaluations}"] if evaluations != 3 else []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # the page's first events may fill the method's defaults in again
                fill_run(page, tiny_bert, glue_dir, epochs, examples, evaluations)
                page.wait_for_timeout(2000)
                if all(flag in page.locator("#terminal-command").inner_text() for flag in wanted):
                    break
            for flag in wanted:
                expect(page.locator("#terminal-command")).to_contain_text(flag, timeout=5_000)
            pages[name] = page
        en, ko = pages["en"], pages["ko"]
        try:
            check_zerogpu_pages(en, ko, tmp_path / "runs")
        except Exception:
            shot(en, "zerogpu-failed-en")
            shot(ko, "zerogpu-failed-ko")
            raise
        for browser in browsers:
            browser.close()
    finally:
        app.terminate()
        app.wait(30)


def fill_run(page, tiny_bert, glue_dir, epochs: int, examples: int, evaluations: int) -> None:
    page.locator("#in-model input, #in-model textarea").first.fill(str(tiny_bert))
    page.locator("#in-evaluations input").first.fill(str(evaluations))
    page.locator("#in-data-dir input, #in-data-dir textarea").first.fill(str(glue_dir))
    page.locator("#in-max-train-samples input").first.fill(str(examples))
    page.locator("#in-epochs input").first.fill(str(epochs))
    page.locator("#in-batch-size input").first.fill("8")
    page.locator("#in-batch-size input").first.press("Tab")


def english_runs(runs: Path) -> int:
    """The English visitor's saved runs (800 training examples; the Korean visitor's have 8,000)."""
    import json

    return sum(json.loads(path.read_text())["train_samples"] == 800 for path in runs.glob("*/*/*/run.json"))


def check_zerogpu_pages(en, ko, runs: Path) -> None:
    """The two visitors' story (test_two_browsers_on_the_zerogpu_stand_in_...)."""
    from playwright.sync_api import expect

    expect(en.locator("#hardware")).to_contain_text("ZeroGPU (stand-in)")
    expect(ko.locator("#hardware")).to_contain_text("ZeroGPU(대역)")
    expect(en.locator("#estimate")).to_contain_text("asks for 20 s of GPU time", timeout=30_000)
    expect(ko.locator("#estimate")).to_contain_text("GPU 시간 20초", timeout=30_000)
    shot(ko, "zerogpu-train-ko")
    en.locator("#start-btn").click()
    expect(en.locator("#action-status")).to_contain_text("Started", timeout=30_000)
    ko.locator("#start-btn").click()  # at once: the second waits in line
    expect(ko.locator("#action-status")).to_contain_text("대기열", timeout=30_000)
    wait_for(lambda: english_runs(runs) == 1, 300)  # (the live view then follows the next run, the Korean one)
    # The Korean visitor's run is cut by its call's duration, and stays resumable from the step it reached.
    cut = "요청한 GPU 시간을 다 써서 멈췄습니다"
    expect(ko.locator("#run-status")).to_contain_text(cut, timeout=120_000)
    # Its "in line" answer spoke of a wait long over: gone (webui/action_line.py).
    expect(ko.locator("#action-status")).not_to_contain_text("대기열", timeout=15_000)
    shot(ko, "zerogpu-cut-ko")
    ko.locator("#resume-pick input").click()
    ko.get_by_role("option", name=re.compile("8,?000")).click()
    ko.locator("#resume-btn").click()
    expect(ko.locator("#action-status")).to_contain_text("이어서", timeout=20_000)
    expect(ko.locator("#run-status")).not_to_contain_text(cut, timeout=60_000)  # going on
    expect(ko.locator("#run-status")).to_contain_text(cut, timeout=120_000)  # and cut again
    # About 32 s of the Korean visitor's 45 are spent: the next 20 s call is refused, in Korean; the English
    # visitor's quota is their own.
    ko.locator("#resume-pick input").click()
    ko.get_by_role("option", name=re.compile("8,?000")).click()
    ko.locator("#resume-btn").click()
    expect(ko.locator("#run-status")).to_contain_text("ZeroGPU가 이 학습을 거절했습니다", timeout=60_000)
    expect(ko.locator("#run-status")).to_contain_text("로그인하면 나만의 할당량을 받습니다")
    shot(ko, "zerogpu-refused-ko")
    en.locator("#start-btn").click()
    expect(en.locator("#run-status")).to_contain_text("Training SST-2", timeout=60_000)
    wait_for(lambda: english_runs(runs) == 2, 120)


def test_a_visitor_who_closes_the_page_leaves_the_line(browser_page, tiny_bert, glue_dir, tmp_path):
    """A job waiting in line for a page that was closed would train for nobody later: it leaves the line when the
    page goes (a run already training is not touched)."""
    from .conftest import tiny_config

    browser = browser_page[0].context.browser
    demo = lab.create_app(tmp_path / "runs")
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    runner = demo.runner
    try:
        busy = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=8000, epochs=3)
        runner.submit([busy], owner="teacher")  # the machine is busy: the visitor's job will wait
        page = browser.new_page(viewport=PROJECTOR)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#start-btn", timeout=60_000)
        page.get_by_text("Model and data").click()
        page.get_by_label("Encoder").fill(str(tiny_bert))
        page.get_by_label("Local GLUE directory").fill(str(glue_dir))
        page.get_by_label("Local GLUE directory").press("Tab")
        page.locator("#start-btn").click()
        wait_for(lambda: len(runner.snapshot().waiting) == 1, timeout=60)
        page.close()
        wait_for(lambda: runner.snapshot().waiting == [], timeout=60)
        assert runner.snapshot().owner == "teacher" and runner.snapshot().state == "running"  # untouched
    finally:
        runner.stop("teacher", override=True)
        runner.wait(120)
        demo.close()
