"""Open generated reports in headless Chromium: every image loads, no console errors."""

from __future__ import annotations

import pytest

# The browser and open_page fixtures (conftest.py) skip where selenium, chromium or
# chromedriver is missing.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(trained_model, digits_data, single_thread):
    from aekit.report import build_report

    (train_ds, test_ds) = digits_data
    model, obj, history = trained_model(code_size=2)
    with single_thread():  # t-SNE's OpenMP threads crawl on a busy shared machine
        return build_report(model, train_ds.X[:400], test_ds.X[:150], y_train=train_ds.y[:400],
                            y_test=test_ds.y[:150], history=history, objective=obj,
                            config={"note": "<script>alert('x')</script> & co"},
                            title="browser test <digits>", iw_samples=5, max_map_points=150)


@pytest.mark.parametrize("self_contained", [False, True], ids=["folder", "single-file"])
def test_report_opens_with_all_images_and_no_console_errors(browser, open_page, report, tmp_path,
                                                           self_contained):
    target = tmp_path / ("report.html" if self_contained else "report")
    html_path = report.save(target, self_contained=self_contained)
    images, errors = open_page(browser, html_path)
    assert len(images) == len(report.figures()) >= 8
    broken = [src for src, complete, w, h in images if not (complete and w > 0 and h > 0)]
    assert broken == [], f"images that did not load: {broken}"
    assert errors == [], f"console errors: {errors}"
    # escaped text shows as text: the title renders literally and no script ran
    assert browser.title == "browser test <digits>"
    assert "<script>alert('x')</script>" in browser.find_element("tag name", "body").text


def test_broken_image_is_detected(browser, open_page, report, tmp_path):
    """The check above can fail: delete one PNG from a folder report and it must notice."""
    html_path = report.save(tmp_path / "report")
    victim = sorted((html_path.parent / "figures").glob("*.png"))[0]
    victim.unlink()
    images, errors = open_page(browser, html_path)
    assert sum(1 for _, _, w, _ in images if w == 0) == 1
    assert errors, "a missing image should log a console error"
