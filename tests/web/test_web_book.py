"""The knowledge book: the command line and the web page render the same model, so neither can
drop a section (applies-when, the red flags' work-up, the prerequisites' met-when, care rules)."""

from __future__ import annotations

import html
import re
import subprocess
import sys

from fastapi.testclient import TestClient

from secondlook.knowledge import default_knowledge
from secondlook.knowledge.book import BookEntry, book_entry, record_index


def _cli_pages(ids: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "secondlook.cli", "knowledge", "show", *ids],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _header(entry: BookEntry) -> str:
    return f"{entry.title}  [{entry.kind} {entry.id}, knowledge {entry.knowledge_version}]"


def _pieces(entry: BookEntry) -> list[str]:
    """Every piece of content of an entry that a rendering must show."""
    out = [entry.title, entry.clinician, entry.patient]
    for section in entry.sections:
        out.append(section.title)
        for item in section.items:
            out.append(item.text)
            out += [p for p in (item.tag, item.when) if p]
            if item.when:
                out.append(item.when_label)
            out += item.references
    for citation in entry.references:
        out += [citation.id, citation.text]
    return out


def _text_of(page: str) -> str:
    main = page.split('<main id="main" tabindex="-1">', 1)[1].split("</main>", 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", main))


def test_every_record_shows_the_same_content_on_the_command_line_and_the_web(
    clinician: tuple[TestClient, str],
) -> None:
    client, _ = clinician
    kb = default_knowledge()
    index = record_index(kb)
    entries = [book_entry(kb, kind, record_id) for kind, record_id, _ in index]
    assert all(e is not None for e in entries)
    # One process for the whole book: `kind:id` asks for exactly one page each.
    cli = _cli_pages([f"{kind}:{record_id}" for kind, record_id, _ in index])
    starts = [cli.index(_header(e)) for e in entries if e is not None]
    assert starts == sorted(starts)
    for n, entry in enumerate(e for e in entries if e is not None):
        text_page = cli[starts[n] : starts[n + 1] if n + 1 < len(starts) else len(cli)]
        response = client.get(f"/clinic/book/{entry.kind}/{entry.id}")
        assert response.status_code == 200
        web_page = _text_of(response.text)
        for piece in _pieces(entry):
            assert piece in text_page, f"{entry.kind} {entry.id}: CLI lacks {piece!r}"
            assert piece in web_page, f"{entry.kind} {entry.id}: web page lacks {piece!r}"


def _section(entry: BookEntry | None, title: str) -> list[str]:
    assert entry is not None
    found = [s for s in entry.sections if s.title == title]
    assert found, f"no section {title!r} in {entry.kind} {entry.id}"
    return [f"{i.text}|{i.when_label} {i.when}|{i.tag}" for i in found[0].items]


def test_the_book_model_carries_what_the_web_page_used_to_drop() -> None:
    kb = default_knowledge()
    applies = _section(book_entry(kb, "etiology", "pseudarthrosis"), "Applies only when")
    assert applies and "when any_fusion" in applies[0]
    workup = _section(book_entry(kb, "red-flag", "cauda-equina"), "Work-up")
    assert any(line.startswith("MRI") and line.endswith("|emergency") for line in workup)
    met = _section(book_entry(kb, "treatment", "spinal-cord-stimulation"), "Prerequisites")
    assert any("met when conservative_care_failed" in line for line in met)
    first = _section(
        book_entry(kb, "treatment", "spinal-cord-stimulation"), "Tasks that come first"
    )
    assert any("rule scs-after-successful-trial" in line for line in first)
    done = _section(book_entry(kb, "workup", "ct"), "Counts as done")
    assert "ct-myelogram" in done[0]


def test_a_book_page_links_the_work_up_it_names(clinician: tuple[TestClient, str]) -> None:
    client, _ = clinician
    page = client.get("/clinic/book/red-flag/cauda-equina").text
    assert '<a href="/clinic/book/workup/post-void-residual">' in page
