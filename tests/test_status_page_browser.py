"""The status page in a real browser: Debian's headless Chromium, driven by selenium through
chromedriver, with JavaScript switched off (the page must not need it). A screenshot is left
in bench/results/status-page.png."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_slack import FakeSlack
from feedserver import rss, static
from helpers import CHIP_RULE, ROOT, distinct_items, environment, write_feeds, write_rules
from ops_helpers import get, radar_running, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1280,1100",
)
SCREENSHOT = ROOT / "bench" / "results" / "status-page.png"
HOSTILE_FEED = '<script>document.title="pwned"</script> Wire'
HEADLINE = "Ottawa adds export controls on NAND chips, 4321 firms: 5 < 6 & \"x\" > 'y'"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver)",
    ),
]


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    # No JavaScript at all for the page: what it shows must be plain HTML.
    options.add_experimental_option(
        "prefs", {"profile.managed_default_content_settings.javascript": 2}
    )
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.timeout(180)
def test_status_page_in_headless_chromium(tmp_path, feed_server, browser):
    from selenium.webdriver.common.by import By

    slack = FakeSlack().start()
    slack.add_channel("#export-controls")
    try:
        items = [
            *distinct_items(2),
            {"title": HEADLINE, "link": "https://news.example.com/ottawa", "guid": "ottawa"},
        ]
        url = feed_server.set("/wire.xml", static(rss(items, title="Wire")))
        feeds = write_feeds(
            tmp_path / "feeds.yaml",
            [
                {"url": url, "name": HOSTILE_FEED, "baseline": False, "interval": "1h"},
                {"url": "http://127.0.0.1:9/gone.xml", "name": "Dead feed", "interval": "1h"},
            ],
        )
        rule = dict(CHIP_RULE, slack=["#export-controls", "#nowhere"])
        env = environment(
            tmp_path,
            write_rules(tmp_path / "rules", rules=[rule]),
            feeds,
            SLACK_BOT_TOKEN=slack.token,
            SLACK_API_URL=slack.api_url,
        )
        with radar_running(env, tmp_path / "radar.log") as radar:
            wait_for(
                lambda: (
                    "3 failed" in get(radar.base, "/")[2] and "3 sent" in get(radar.base, "/")[2]
                ),
                60,
                "three sent and three failed deliveries on the page",
            )
            browser.get(radar.base + "/")
            assert browser.title == "Radar status"
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            assert browser.save_screenshot(str(SCREENSHOT))

            tables = browser.find_elements(By.TAG_NAME, "table")
            assert len(tables) == 3  # feeds, stories, deliveries
            feeds_rows = tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
            names = [row.find_element(By.TAG_NAME, "td").text.splitlines()[0] for row in feeds_rows]
            assert names == [HOSTILE_FEED, "Dead feed"], "the name is shown as text, not run"
            health = [row.find_elements(By.TAG_NAME, "td")[1].text for row in feeds_rows]
            assert health[0] == "ok" and health[1].startswith("failing")
            assert browser.find_elements(By.TAG_NAME, "script") == []

            stories = tables[1].find_elements(By.CSS_SELECTOR, "tbody tr")
            headlines = [row.find_element(By.TAG_NAME, "td").text for row in stories]
            assert HEADLINE in headlines and len(headlines) == 3
            link = stories[headlines.index(HEADLINE)].find_element(By.TAG_NAME, "a")
            assert link.get_attribute("href") == "https://news.example.com/ottawa"

            failures = tables[2].find_elements(By.CSS_SELECTOR, "tbody tr")
            assert len(failures) == 3
            assert all("slack:#nowhere" in row.text for row in failures)
            assert all("channel_not_found" in row.text for row in failures)
            assert "slack: 3 sent, 3 failed" in browser.find_element(By.TAG_NAME, "ul").text
        assert radar.process.returncode == 0, radar.log()
    finally:
        slack.stop()
