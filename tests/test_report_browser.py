"""Open generated reports in headless Chromium: every image loads, no console errors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from _tiny_models import digits, one_thread, trained

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install 'aekit[test]')")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="headless browser test needs the chromium and chromium-driver "
                              "packages (/usr/bin/chromium, /usr/bin/chromedriver)"),
]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def report():
    from aekit.report import build_report

    (train_ds, test_ds) = digits()
    model, obj, history = trained(code_size=2)
    with one_thread():  # t-SNE's OpenMP threads crawl on a busy shared machine
        return build_report(model, train_ds.X[:400], test_ds.X[:150], y_train=train_ds.y[:400],
                            y_test=test_ds.y[:150], history=history, objective=obj,
                            config={"note": "<script>alert('x')</script> & co"},
                            title="browser test <digits>", iw_samples=5, max_map_points=150)


def _open(driver, html_path: Path):
    driver.get_log("browser")  # drop messages from earlier pages
    driver.get(html_path.resolve().as_uri())
    deadline = time.time() + 30
    while time.time() < deadline:
        if driver.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.1)
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src').slice(0, 60), "
        "i.complete, i.naturalWidth, i.naturalHeight]);")
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return images, errors


@pytest.mark.parametrize("self_contained", [False, True], ids=["folder", "single-file"])
def test_report_opens_with_all_images_and_no_console_errors(driver, report, tmp_path,
                                                           self_contained):
    target = tmp_path / ("report.html" if self_contained else "report")
    html_path = report.save(target, self_contained=self_contained)
    images, errors = _open(driver, html_path)
    assert len(images) == len(report.figures()) >= 8
    broken = [src for src, complete, w, h in images if not (complete and w > 0 and h > 0)]
    assert broken == [], f"images that did not load: {broken}"
    assert errors == [], f"console errors: {errors}"
    # escaped text shows as text: the title renders literally and no script ran
    assert driver.title == "browser test <digits>"
    assert "<script>alert('x')</script>" in driver.find_element("tag name", "body").text


def test_broken_image_is_detected(driver, report, tmp_path):
    """The check above can fail: delete one PNG from a folder report and it must notice."""
    html_path = report.save(tmp_path / "report")
    victim = sorted((html_path.parent / "figures").glob("*.png"))[0]
    victim.unlink()
    images, errors = _open(driver, html_path)
    assert sum(1 for _, _, w, _ in images if w == 0) == 1
    assert errors, "a missing image should log a console error"
