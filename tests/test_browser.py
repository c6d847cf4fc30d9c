"""The draw-a-digit page in a real headless Chromium: draw strokes with the mouse, read the page's answer.

Needs Debian's chromium (`apt-get install -y chromium`) and the playwright Python package
(`pip install playwright`; no `playwright install`: it drives the system browser).
"""

import os
import shutil

import numpy as np
import pytest

from test_predict import DEPLOYED, tiny_run  # noqa: F401 (the shared trained run fixture)

CHROMIUM = os.environ.get("DIGITEDGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = [
    pytest.mark.mnist,
    pytest.mark.skipif(not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"),
]
TFLM_CARD = f'.card[data-model="{DEPLOYED} (TFLM)"]'
# Strokes in canvas pixels (280x280), drawn as a person would: "7" = top bar, then the diagonal.
SEVEN = [[(70, 60), (210, 60)], [(210, 60), (180, 130), (150, 200), (130, 245)]]
ONE = [[(140, 40), (140, 140), (140, 240)]]
ZERO = [[(140, 35), (195, 60), (215, 140), (195, 220), (140, 245), (85, 220), (65, 140), (85, 60), (140, 35)]]


@pytest.fixture(scope="module")
def page_url(tiny_run):  # noqa: F811
    from digitedge.predict import load_classifiers
    from digitedge.serve import make_server, serve_in_thread

    server = make_server(load_classifiers(tiny_run, all_variants=True), port=0)
    thread = serve_in_thread(server)
    yield server.url, len(server.classifiers)
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def draw(page, strokes, steps: int = 8) -> None:
    """Each stroke as mouse down, moves along its points, up; waits for the answer after each stroke."""
    box = page.locator("#pad").bounding_box()
    for number, stroke in enumerate(strokes, start=1):
        with page.expect_response("**/api/predict"):
            page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
            page.mouse.up()
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Prediction for')")


# Images the user sees that show no picture: the browser draws those as a broken-image icon.
BROKEN_IMAGES = """() => [...document.images]
    .filter((img) => img.checkVisibility({visibilityProperty: true}) && !(img.complete && img.naturalWidth > 0))
    .map((img) => img.id || img.alt)"""


def test_no_broken_image_before_the_first_prediction(page_url, browser, tmp_path):
    url, _ = page_url
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("document.getElementById('subtitle').textContent.includes('Models:')")
        assert page.evaluate(BROKEN_IMAGES) == []
        page.screenshot(path=str(tmp_path / "before.png"))
        draw(page, ONE)
        assert page.locator("#prepared").is_visible() and page.evaluate(BROKEN_IMAGES) == []
    finally:
        page.close()


@pytest.mark.parametrize("digit, strokes", [(7, SEVEN), (1, ONE), (0, ZERO)])
def test_drawing_a_digit_shows_every_models_prediction(page_url, browser, digit, strokes, tmp_path):
    url, models = page_url
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(url)
        page.wait_for_function("document.getElementById('subtitle').textContent.includes('Models:')")
        draw(page, strokes)
        cards = page.locator("#results .card")
        assert cards.count() == models
        assert page.locator(TFLM_CARD).get_attribute("data-digit") == str(digit)
        assert page.locator(f"{TFLM_CARD} .digit").inner_text() == str(digit)
        assert page.locator(f"{TFLM_CARD} .bars .bar").count() == 10
        assert "µs" in page.locator(f"{TFLM_CARD} .meta").inner_text()
        seen = page.evaluate("""() => { const img = document.getElementById('prepared');
            return [img.naturalWidth, img.naturalHeight]; }""")
        assert seen == [28, 28]
        page.screenshot(path=str(tmp_path / f"drawn_{digit}.png"), full_page=True)
    finally:
        page.close()


def test_uploaded_photo_and_bad_upload_are_shown(page_url, browser, tmp_path, mnist):
    from PIL import Image

    url, models = page_url
    photo = tmp_path / "photo.jpg"
    Image.fromarray(255 - np.asarray(Image.fromarray(mnist.x_test[0]).resize((200, 200)))).save(photo)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    page = browser.new_page()
    try:
        page.goto(url)
        with page.expect_response("**/api/predict"):
            page.set_input_files("#upload", str(photo))
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Prediction for')")
        assert page.locator("#results .card").count() == models
        with page.expect_response("**/api/predict") as answer:
            page.set_input_files("#upload", str(notes))
        assert answer.value.status == 400
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert "not a readable" in page.locator("#status").inner_text()
    finally:
        page.close()
