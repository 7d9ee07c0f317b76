"""The README's pictures of the lab, taken as a person sees it: a freshly started lab on the packaged encoder, Train all
on SST-2 with the classroom defaults, then Results and the Playground, at a projector's 1366 px width, in English and
Korean. Real runs (about 3-4 min on 2 cores), so that the pictures show what a class sees, not a tiny test model.

    GLUE_DIR=../shared/glue HF_HUB_OFFLINE=1 .venv/bin/python docs/screenshots.py      # writes docs/img/*.png

Needs Debian's chromium (`make chromium`) and Playwright (requirements-dev.txt), like the browser tests.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the lab's packages
OUT = REPO / "docs" / "img"
WIDTH = 1366  # a classroom projector's
SENTENCE = "an utterly charming and funny film, though the ending drags"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def save(page, name: str, height: int) -> None:
    """The page's top `height` pixels, scaled to 960 px wide and reduced to 256 colours: small enough to commit."""
    image = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    image = image.crop((0, 0, image.width, min(height, image.height)))
    image = image.resize((960, round(image.height * 960 / image.width)), Image.Resampling.LANCZOS)
    OUT.mkdir(parents=True, exist_ok=True)
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(OUT / f"{name}.png", optimize=True)
    print(f"docs/img/{name}.png", (OUT / f"{name}.png").stat().st_size // 1024, "KB")


def take(page, korean: bool) -> None:
    from playwright.sync_api import expect

    suffix = "-ko" if korean else ""
    page.get_by_role("tab", name="학습" if korean else "Train").click()
    expect(page.locator("#run-status .run-status[data-race='1']")).to_have_attribute("data-state", "complete")
    save(page, f"train{suffix}", 1250)
    page.get_by_role("tab", name="결과" if korean else "Results").click()
    page.locator("#results-refresh").click()
    expect(page.locator("#results-plot canvas").first).to_be_visible(timeout=30_000)
    expect(page.locator(".matrix")).to_have_count(4, timeout=30_000)
    page.wait_for_timeout(2000)  # the charts' drawing
    save(page, f"results{suffix}", 1100)
    page.get_by_role("tab", name="플레이그라운드" if korean else "Playground").click()
    page.locator("#text-1 textarea").fill(SENTENCE)
    page.locator("#predict-btn").click()
    expect(page.locator(".card[data-status='ok']")).to_have_count(4, timeout=60_000)
    page.locator("#why-btn").click()
    expect(page.locator(".card[data-status='ok'] .why")).to_have_count(4, timeout=120_000)
    save(page, f"playground{suffix}", 900)


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    from finetune.bench.workers import App

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    data_dir = os.environ.get("GLUE_DIR") or sys.exit("set GLUE_DIR to a local GLUE directory")
    with tempfile.TemporaryDirectory() as store, sync_playwright() as playwright:
        lab = App(data_dir, Path(store))  # `python app.py`, freshly started on a store of its own
        try:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            pages = {}
            for locale in ("en-US", "ko-KR"):
                page = browser.new_page(viewport={"width": WIDTH, "height": 768}, locale=locale)
                page.goto(lab.url)
                page.wait_for_selector("#start-btn", timeout=60_000)
                pages[locale] = page
            english = pages["en-US"]
            english.locator("#train-all-btn").click()
            race = english.locator("#run-status .run-status[data-race='1']")
            expect(race).to_have_attribute("data-state", "running", timeout=60_000)
            started = time.monotonic()
            expect(race).to_have_attribute("data-state", "complete", timeout=900_000)
            print(f"Train all (SST-2, classroom defaults) took {time.monotonic() - started:.0f} s")
            take(english, korean=False)
            take(pages["ko-KR"], korean=True)
            browser.close()
        finally:
            lab.close()


if __name__ == "__main__":
    main()
