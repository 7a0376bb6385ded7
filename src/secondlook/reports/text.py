"""Readable reports of an assessment: plain text for the terminal, Markdown for documents.

Both put red flags and safety alerts first, and both say what the assessment could not judge.
They render the assessment document only, so what they show is exactly what was concluded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from secondlook.engine.words import test_names, word

DISCLAIMER = "SecondLook supports clinicians' decisions; it does not make them."


def _title(case_id: object, a: dict[str, Any]) -> str:
    return f"SecondLook assessment of case {case_id or '(no id)'}"


def render_text(a: dict[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    w(_title(a.get("case_id"), a))
    w(f"knowledge {a['knowledge_version']}, engine {a['engine_version']}. {DISCLAIMER}")
    w("")
    _alerts(a, w, text=True)
    c = a["classification"]
    w("CLASSIFICATION")
    w(f"  {_classification_line(c)}")
    w("")
    w("DIFFERENTIAL")
    for d in a["differential"]:
        if d["likelihood"] == "unlikely":
            continue
        w(f"  {d['rank']}. {d['name']}: {word('likelihood', d['likelihood'])}")
        for s in d["supporting"]:
            w(f"     + {s}")
        for s in d["against"]:
            w(f"     - {s}")
        if d.get("not_known"):
            w(f"     ? not known: {'; '.join(d['not_known'])}")
        if d["discriminating_tests"]:
            w(f"     tests: {', '.join(test_names(a, d['discriminating_tests']))}")
    unlikely = [d["name"] for d in a["differential"] if d["likelihood"] == "unlikely"]
    if unlikely:
        w(f"  Unlikely on present information: {', '.join(unlikely)}.")
    w("")
    w("WORK-UP")
    for item in a["workup"]:
        w(f"  {word('urgency', item['priority']):<9} {item['name']}: {' '.join(item['because'])}")
    w("")
    w("TREATMENT OPTIONS")
    for t in a["treatment_options"]:
        level = word("recommendation", t["recommendation"])
        w(f"  {level:<16} {t['name']}: {' '.join(t['because'])}")
        for p in t["prerequisites"]:
            w(f"{'':19}prerequisite: {p}")
        if t.get("evidence_conflict"):
            for e in t["evidence"]:
                w(f"{'':19}evidence {e['stance']}: {e['summary']}")
    w("")
    s = a["surgical_review"]
    verdict = _verdict(s)
    w(f"SURGICAL REVIEW: {verdict}. {' '.join(s['because'])}")
    w("")
    w("PERSPECTIVES")
    for p in a["perspectives"]:
        w(f"  {word('perspective', p['id'])}:")
        for f in p["findings"]:
            w(f"     {f}")
        for n in p["needs"]:
            w(f"     needs: {n}")
    if a["scores"]:
        w("")
        w("SCORES")
        for sc in a["scores"]:
            w(f"  {_score_line(sc)}")
    if a["missing_information"]:
        w("")
        w("MISSING INFORMATION (limits this assessment)")
        for m in a["missing_information"]:
            w(f"  - {m['item']}: {m['why_it_matters']}")
    return "\n".join(out) + "\n"


def render_markdown(a: dict[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    w(f"# {_title(a.get('case_id'), a)}")
    w("")
    w(f"*Knowledge {a['knowledge_version']}, engine {a['engine_version']}. {DISCLAIMER}*")
    w("")
    _alerts(a, w, text=False)
    w("## Classification")
    w("")
    w(_classification_line(a["classification"]))
    w("")
    w("## Differential")
    w("")
    shown = [d for d in a["differential"] if d["likelihood"] != "unlikely"]
    if shown:
        w("| # | cause | likelihood | for | against |")
        w("|---|---|---|---|---|")
    for d in shown:
        w(
            f"| {d['rank']} | {d['name']} | {word('likelihood', d['likelihood'])} | "
            f"{'<br>'.join(d['supporting']) or '-'} | {'<br>'.join(d['against']) or '-'} |"
        )
    # The causes judged unlikely are one line, as on the terminal: a table of eighteen rows
    # of dashes would hide the few that matter.
    unlikely = [d["name"] for d in a["differential"] if d["likelihood"] == "unlikely"]
    if unlikely:
        w("")
        w(f"Unlikely on present information: {', '.join(unlikely)}.")
    w("")
    w("## Work-up")
    w("")
    for item in a["workup"]:
        priority = word("urgency", item["priority"])
        w(f"- **{item['name']}** ({priority}): {' '.join(item['because'])}")
    w("")
    w("## Treatment options")
    w("")
    for t in a["treatment_options"]:
        level = word("recommendation", t["recommendation"])
        w(f"- **{t['name']}**: *{level}*. {' '.join(t['because'])}")
        for p in t["prerequisites"]:
            w(f"  - prerequisite: {p}")
        for e in t["evidence"]:
            w(f"  - evidence ({e['stance']}): {e['summary']} [{', '.join(e['references'])}]")
    w("")
    s = a["surgical_review"]
    verdict = _verdict(s)
    w(f"## Surgical review: {verdict}")
    w("")
    w(" ".join(s["because"]))
    w("")
    w("## Perspectives")
    w("")
    for p in a["perspectives"]:
        w(f"### {word('perspective', p['id'])}")
        w("")
        for f in p["findings"]:
            w(f"- {f}")
        for n in p["needs"]:
            w(f"- needs: {n}")
        w("")
    if a["scores"]:
        w("## Scores")
        w("")
        for sc in a["scores"]:
            w(f"- {_score_line(sc)}")
        w("")
    if a["missing_information"]:
        w("## Missing information")
        w("")
        for m in a["missing_information"]:
            w(f"- **{m['item']}**: {m['why_it_matters']}")
        w("")
    w("## References")
    w("")
    for r in a["references"]:
        w(f"- `{r['id']}` {r['citation']}")
    return "\n".join(out) + "\n"


def _alerts(a: dict[str, Any], w: Callable[[str], None], *, text: bool) -> None:
    # In Markdown each flag is a list item with its reasons nested under it: indented lines
    # alone would run into one paragraph when the document is rendered.
    def head(title: str) -> str:
        return title.upper() if text else f"## {title.removeprefix('!! ')}\n"

    item, reason = ("  ", "      because ") if text else ("- ", "  - because ")
    if a["red_flags"]:
        w(head("!! Red flags: act first"))
        for f in a["red_flags"]:
            urgency = f["urgency"].upper()
            tag = f"[{urgency}]" if text else f"**{urgency}**"
            w(f"{item}{tag} {f['name']}: {f['action']}")
            for b in f["because"]:
                w(f"{reason}{b}")
    else:
        screen = any(m["id"] == "red-flag-screen" for m in a["missing_information"])
        note = " (the red-flag screen is incomplete: see missing information)" if screen else ""
        w(f"No red flags in the facts given{note}.")
    if a["safety_alerts"]:
        if not text:
            w("")
        w(head("!! Safety alerts"))
        for s in a["safety_alerts"]:
            name = s["name"] if text else f"**{s['name']}**"
            w(f"{item}{name}: {s['action']}")
            for b in s["because"]:
                w(f"{reason}{b}")
    w("")


def _verdict(s: dict[str, Any]) -> str:
    return f"indicated ({word('urgency', s['urgency'])})" if s["indicated"] else "not indicated"


def _classification_line(c: dict[str, Any]) -> str:
    chronic = "chronic, PSPS type 2" if c["chronic"] else "not yet chronic"
    return (
        f"{word('condition', c['condition'])}; {chronic}; {word('course', c['course'])}; "
        f"{c['months_since_surgery']:g} months since the index surgery"
    )


def _score_line(sc: dict[str, Any]) -> str:
    line = f"{sc['instrument']} {sc['date']}: {sc['score']} ({sc['band']})"
    if "change_from_first" in sc:
        line += f", change from first {sc['change_from_first']:+g} ({sc['meaningful_change']})"
    if sc.get("alerts"):
        line += f" ALERT: {', '.join(sc['alerts'])}"
    return line
