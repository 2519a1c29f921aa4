"""The auditor's page in a real headless Chromium (tests/support/browser.py), served from a loopback
HTTP server: it renders without console or page errors, asks for nothing but itself, has its
sections in heading order, shows exactly the document's numbers, shows hostile names as text, prints
its evidence, and leaves a full-page screenshot in ``.artifacts/``."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from monitor.snapshots.report import render_report
from tests.snapshots.test_report import (
    CURRENT_ID,
    HOSTILE,
    SEVERITY_ORDER,
    current_document,
    previous_document,
)
from tests.support.browser import PageWatch, chromium, keep_artefact, serve_directory

SECTIONS = [
    "Contents",
    "Summary",
    "Open findings by severity",
    "Open findings by recommendation",
    "What was checked",
    "Findings by check",
    "Accepted risks (waivers)",
    "Resolved since the previous snapshot",
    "How to verify this snapshot",
    "How to read this report",
]

CELLS = """table => [...table.rows].map(row => [...row.cells].map(cell => cell.innerText.trim()))"""


@pytest.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    async with chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


@pytest.fixture(scope="module")
def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    previous = previous_document()
    return current_document(previous), previous


async def open_report(browser: Browser, directory: Path, page_html: str) -> tuple[Page, PageWatch, list[str]]:
    """The page as a reader's browser gets it: served over HTTP from ``directory``."""
    (directory / "report.html").write_text(page_html, encoding="utf-8")
    watch = PageWatch()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    watch.attach(page)
    with serve_directory(directory) as server:
        response = await page.goto(f"{server.base_url}/report.html", wait_until="load")
        assert response is not None
        assert response.status == 200
        paths = list(server.paths)
    return page, watch, paths


@pytest.fixture(scope="module")
async def report(
    browser: Browser,
    documents: tuple[dict[str, Any], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Page, PageWatch, list[str]]]:
    current, previous = documents
    opened = await open_report(browser, tmp_path_factory.mktemp("report"), render_report(current, previous))
    yield opened
    await opened[0].close()


async def test_the_page_renders_cleanly_and_asks_for_nothing_but_itself(
    report: tuple[Page, PageWatch, list[str]],
) -> None:
    page, watch, paths = report
    assert watch.console_errors == []
    assert watch.page_errors == []
    assert watch.failed == []
    assert watch.requests == [("document", page.url)]
    assert paths == ["/report.html"]
    assert await page.title() == f"Compliance snapshot {CURRENT_ID}"


async def test_sections_come_in_heading_order(
    report: tuple[Page, PageWatch, list[str]], documents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    page, _watch, _paths = report
    current, _previous = documents
    headings: list[list[Any]] = await page.eval_on_selector_all(
        "h1, h2, h3, h4, h5, h6", "all => all.map(h => [Number(h.tagName[1]), h.innerText.trim()])"
    )
    levels = [level for level, _text in headings]
    assert levels[0] == 1
    assert all(later - earlier <= 1 for earlier, later in itertools.pairwise(levels))
    assert [text for level, text in headings if level == 2] == SECTIONS
    check_ids = await page.eval_on_selector_all("h3 code.check-id", "all => all.map(c => c.innerText)")
    assert check_ids == [entry["id"] for entry in current["checks"]]
    assert [text for level, text in headings if level == 3][
        3
    ] == "Application credentials credential-expiry Completed"
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.locator("th[scope=col]").count() > 0


async def test_the_numbers_shown_are_the_documents(
    report: tuple[Page, PageWatch, list[str]], documents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    page, _watch, _paths = report
    current, previous = documents
    summary = current["summary"]
    rows = await page.eval_on_selector("#by-severity table", CELLS)
    assert rows[0] == ["Severity", "What it means", "Previous snapshot", "This snapshot", "Change"]
    shown = {row[0].lower(): (int(row[2]), int(row[3])) for row in rows[1:-1]}
    assert shown == {
        severity: (previous["summary"]["open_by_severity"][severity], summary["open_by_severity"][severity])
        for severity in SEVERITY_ORDER
    }
    assert rows[-1][0] == "Total"
    assert rows[-1][2:] == ["4", str(summary["since_previous"]["open"]), "+1"]

    figures = {
        name: (await page.inner_text(f"#figure-{name} dd")).strip()
        for name in ("open", "urgent", "new", "resolved", "waived", "checks")
    }
    assert figures == {
        "open": "5",
        "urgent": "2",
        "new": "3",
        "resolved": "1",
        "waived": "1",
        "checks": "4 of 7",
    }

    references = await page.eval_on_selector("#by-reference table", CELLS)
    assert {f"seed: {section}": int(now) for source, section, _before, now in references[1:]} == summary[
        "open_by_reference"
    ]
    assert all(source == "Entra integration guide" for source, *_rest in references[1:])

    coverage = await page.eval_on_selector("#coverage-table", CELLS)
    assert [row[0].splitlines()[-1] for row in coverage[1:]] == [entry["id"] for entry in current["checks"]]
    assert [row[1] for row in coverage[1:]] == [
        "Completed",
        "Failed",
        "Completed (partly)",
        "Completed",
        "Did not run",
        "Timed out",
        "Completed",
    ]
    assert [int(row[3]) for row in coverage[1:]] == [0, 0, 0, 3, 0, 0, 2]
    assert coverage[1][2].splitlines() == ["1 group", "6 access review definitions", "4 role definitions"]
    assert coverage[6][2] == "1200 sign-in log entries"
    assert coverage[4][2].splitlines() == [
        "24 applications",
        "31 service principals (applications' identities in the tenant)",
    ]


async def test_waivers_and_resolved_findings_are_listed(
    report: tuple[Page, PageWatch, list[str]], documents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    page, _watch, _paths = report
    current, _previous = documents
    waivers = await page.eval_on_selector("#waivers-table", CELLS)
    assert len(waivers) == 2
    number, applies_to, justification, approver, expires, covered = waivers[1]
    waiver = current["waivers"][0]
    assert number == "1"
    assert justification == waiver["justification"]
    assert approver == waiver["approver"]
    assert expires.splitlines() == ["31 December 2026", "34 days after this snapshot"]
    assert "Payroll Export" in covered
    assert applies_to.splitlines() == [
        "Check credential-expiry",
        "Rule two-year-secret",
        f"Resource id {waiver['resource_id']}",
    ]
    resolved = await page.eval_on_selector("#resolved-table", CELLS)
    assert len(resolved) == 2
    assert resolved[1][:3] == ["High", "credential-expiry", "expiring-soon"]
    assert resolved[1][3].startswith("invoice⟨U+202E⟩gpj.exe application")
    assert resolved[1][4] == "A certificate expires in 5 days."


async def test_hostile_names_are_text_not_markup(report: tuple[Page, PageWatch, list[str]]) -> None:
    page, _watch, _paths = report
    assert await page.locator("script, img, iframe, object, embed, form").count() == 0
    assert await page.locator("style").count() == 1
    text = await page.inner_text("body")
    for hostile in HOSTILE:
        assert hostile in text
    assert await page.locator("main a[href^='http']").count() == 0


async def test_evidence_is_folded_on_screen_and_printed_on_paper(
    report: tuple[Page, PageWatch, list[str]],
) -> None:
    page, _watch, _paths = report
    evidence = page.locator("dl.evidence").first
    assert not await evidence.is_visible()
    assert await page.locator("nav").is_visible()
    await page.emulate_media(media="print")
    try:
        assert await evidence.is_visible()
        assert not await page.locator("nav").is_visible()
    finally:
        await page.emulate_media(media="screen")


async def test_a_screenshot_is_kept_for_people_to_look_at(
    report: tuple[Page, PageWatch, list[str]], tmp_path: Path
) -> None:
    page, _watch, _paths = report
    screen = tmp_path / "report.png"
    await page.screenshot(path=str(screen), full_page=True)
    await page.emulate_media(media="print")
    try:
        printed = tmp_path / "report-print.png"
        await page.screenshot(path=str(printed), full_page=True)
    finally:
        await page.emulate_media(media="screen")
    for shot in (screen, printed):
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert keep_artefact(shot, shot.name).read_bytes() == shot.read_bytes()
