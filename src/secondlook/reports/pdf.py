"""Printable documents as PDF (WeasyPrint): the clinician's care-plan summary of an assessment and
the patient's handout in plain language, each with the score charts (SVG, see `charts`).

The HTML is rendered from the assessment document and the knowledge base's patient texts only,
so what is printed is exactly what was concluded. WeasyPrint may load nothing but `data:` URLs:
no file and no network access while a document is made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from secondlook.care.warnings import PatientWarning
from secondlook.locale import ENGLISH, Translator
from secondlook.reports.text import DISCLAIMER


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str  # from charts.trajectory_svg
    caption: str = ""


@dataclass(frozen=True)
class HandoutItem:
    name: str
    text: str
    note: str = ""


@dataclass(frozen=True)
class PlanSummary:
    """The care plan's goals (text, status) and responder status on the primary instrument."""

    start_on: dt.date
    primary_instrument: str
    responder_6m: str
    responder_12m: str
    goals: list[tuple[str, str]]


@dataclass(frozen=True)
class PlanDecisions:
    """What the team decided, in words: items accepted and rejected (name, recommendation,
    reason), tasks (name, who, due, status), the conference's decisions (agenda item, text,
    dissent) and the taper's steps (from, MME/day)."""

    decided_on: dt.date
    decided_by: str
    accepted: list[tuple[str, str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)
    tasks: list[tuple[str, str, str, str]] = field(default_factory=list)
    conference_on: dt.date | None = None
    conference: list[tuple[str, str, list[str]]] = field(default_factory=list)
    taper: list[tuple[dt.date, float]] = field(default_factory=list)
    taper_citation: str = ""


_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm;
        @bottom-center { content: "page " counter(page) " of " counter(pages);
                         font-size: 9pt; color: #444; } }
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 10.5pt;
       color: #111; line-height: 1.4; }
h1 { font-size: 17pt; margin: 0 0 4pt 0; }
h2 { font-size: 13pt; margin: 14pt 0 4pt 0; border-bottom: 1pt solid #999; }
h3 { font-size: 11pt; margin: 8pt 0 2pt 0; }
.meta { color: #333; font-size: 9.5pt; }
.alert { border: 2pt solid #a00000; background: #fff0f0; padding: 6pt 8pt; margin: 8pt 0; }
.alert h2 { border: none; color: #a00000; margin-top: 0; }
.warning-emergency { border-width: 4pt; font-size: 12pt; }
ul { margin: 2pt 0 4pt 14pt; padding: 0; }
.refs { font-size: 8.5pt; color: #333; }
.chart { page-break-inside: avoid; margin: 6pt 0; }
table.tasks { border-collapse: collapse; width: 100%; font-size: 9.5pt; margin: 2pt 0 6pt 0; }
table.tasks th, table.tasks td { border: 0.5pt solid #999; padding: 2pt 4pt; text-align: left; }
.chart svg { width: 150mm; height: auto; }
.note { font-style: italic; color: #333; }
"""

_SUMMARY = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Care-plan summary</title><style>{{ css }}</style></head><body>
<h1>Care-plan summary</h1>
<p class="meta">{{ patient_label }} · assessment of {{ assessed }} · knowledge
{{ a.knowledge_version }}, engine {{ a.engine_version }} · printed {{ today }}</p>
{% if a.red_flags or a.safety_alerts or extra_alerts %}
<section class="alert"><h2>Red flags and safety alerts</h2><ul>
{% for f in a.red_flags %}<li><strong>{{ f.name or f.id }} ({{ f.urgency }})</strong>:
 {{ f.action }} <br><span class="note">{{ f.because | join(" ") }}</span></li>{% endfor %}
{% for s in a.safety_alerts %}<li><strong>{{ s.name or s.id }}</strong>: {{ s.action }}
 <br><span class="note">{{ s.because | join(" ") }}</span></li>{% endfor %}
{% for s in extra_alerts %}<li><strong>{{ s }}</strong></li>{% endfor %}
</ul></section>{% endif %}
<h2>Classification</h2>
<p>{{ a.classification.condition }}{% if a.classification.chronic %}, chronic{% endif %};
course {{ a.classification.course }}; {{ a.classification.months_since_surgery }} months since
the index surgery.</p>
<h2>Differential (likely and possible)</h2><ol>
{% for d in a.differential if d.likelihood != "unlikely" %}<li><strong>{{ d.name or d.id }}</strong>
 ({{ d.likelihood }}){% if d.supporting %}<ul>{% for s in d.supporting %}<li>for: {{ s }}</li>
 {% endfor %}{% for s in d.against %}<li>against: {{ s }}</li>{% endfor %}</ul>{% endif %}</li>
{% else %}<li>No cause is more than unlikely on present information.</li>{% endfor %}</ol>
<h2>Work-up</h2><ul>{% for w in a.workup %}<li><strong>{{ w.name or w.id }}</strong>
 ({{ w.priority }}): {{ w.because | join(" ") }}</li>{% else %}<li>none</li>{% endfor %}</ul>
<h2>Treatment options</h2><ul>{% for t in a.treatment_options %}
<li><strong>{{ t.name or t.id }}</strong> — {{ t.recommendation }}: {{ t.because | join(" ") }}
{% if t.prerequisites %}<br>Prerequisites: {{ t.prerequisites | join("; ") }}{% endif %}</li>
{% endfor %}</ul>
<h2>Surgical review</h2><p>{{ "Indicated" if a.surgical_review.indicated else "Not indicated" }}
{% if a.surgical_review.urgency %}({{ a.surgical_review.urgency }}){% endif %}:
{{ a.surgical_review.because | join(" ") }}</p>
{% if plan %}<h2>Care plan goals</h2>
<p>Plan from {{ plan.start_on }}; responder status on {{ plan.primary_instrument }}:
at 6 months <strong>{{ plan.responder_6m }}</strong>, at 12 months
<strong>{{ plan.responder_12m }}</strong>.</p>
<ul>{% for text, status in plan.goals %}<li>{{ text }} ({{ status }})</li>{% else %}<li>no goals
</li>{% endfor %}</ul>{% endif %}
{% if decisions %}<h2>The team's decisions</h2>
<p class="meta">Plan decided on {{ decisions.decided_on }} by {{ decisions.decided_by }}.</p>
<h3>In the plan</h3><ul>
{% for name, rec, reason in decisions.accepted %}<li><strong>{{ name }}</strong> ({{ rec }})
{%- if reason %}: {{ reason }}{% endif %}</li>
{% else %}<li>nothing accepted</li>{% endfor %}</ul>
<h3>Not in the plan</h3><ul>
{% for name, rec, reason in decisions.rejected %}<li><strong>{{ name }}</strong> ({{ rec }})
{%- if reason %}: {{ reason }}{% endif %}</li>
{% else %}<li>nothing rejected</li>{% endfor %}</ul>
<h3>Tasks</h3><table class="tasks">
<thead><tr><th>Task</th><th>Who</th><th>Due</th><th>Status</th></tr></thead><tbody>
{% for name, who, due, status in decisions.tasks %}<tr><td>{{ name }}</td><td>{{ who }}</td>
<td>{{ due }}</td><td>{{ status }}</td></tr>
{% else %}<tr><td colspan="4">no tasks</td></tr>{% endfor %}</tbody></table>
{% if decisions.conference_on %}<h3>Case conference of {{ decisions.conference_on }}</h3><ul>
{% for title, text, dissent in decisions.conference %}<li><strong>{{ title }}</strong>: {{ text }}
{% for d in dissent %}<br><em>Dissent: {{ d }}</em>{% endfor %}</li>{% endfor %}</ul>{% endif %}
{% if decisions.taper %}<h3>Opioid taper</h3><table class="tasks">
<thead><tr><th>From</th><th>MME/day</th></tr></thead><tbody>
{% for on, mme in decisions.taper %}<tr><td>{{ on }}</td><td>{{ "%g"|format(mme) }}</td></tr>
{% endfor %}</tbody></table>
<p class="refs">{{ decisions.taper_citation }}</p>{% endif %}
{% endif %}
{% if charts %}<h2>Outcomes</h2>{% for c in charts %}<div class="chart">{{ c.svg }}
<p class="note">{{ c.caption }}</p></div>{% endfor %}{% endif %}
{% if a.missing_information %}<h2>Missing information</h2><ul>
{% for m in a.missing_information %}<li>{{ m.item }}: {{ m.why_it_matters }}</li>{% endfor %}
</ul>{% endif %}
<h2>References</h2><ol class="refs">{% for r in a.references %}<li>[{{ r.id }}] {{ r.citation }}
</li>{% endfor %}</ol>
<p class="note">{{ disclaimer }}</p>
</body></html>"""

# The handout is in the patient's language: its template is a file (templates/handout.html), so
# the catalog extraction finds its words (secondlook.locale).
_HANDOUT_DIR = Path(__file__).parent / "templates"


def _goal_words(words: Translator) -> dict[str, str]:
    return {
        "met": words.gettext("reached"),
        "not-met": words.gettext("not reached yet"),
        "not-yet-measurable": words.gettext("too early to say"),
    }


def _responder_words(words: Translator) -> dict[str, str]:
    return {
        "responder": words.gettext("yes, a real improvement"),
        "non-responder": words.gettext("not yet a real improvement"),
        "not-measurable": words.gettext("too early to say"),
    }


_env = Environment(
    loader=ChoiceLoader(
        [DictLoader({"summary.html": _SUMMARY}), FileSystemLoader(str(_HANDOUT_DIR))]
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
    extensions=["jinja2.ext.i18n"],
)
_env.install_null_translations(newstyle=False)  # type: ignore[attr-defined]


def _safe_charts(charts: Sequence[Chart]) -> list[dict[str, Any]]:
    # The SVG is made by charts.trajectory_svg, which escapes every text it contains.
    return [{"title": c.title, "svg": Markup(c.svg), "caption": c.caption} for c in charts]  # noqa: S704


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # imported late: slow to load
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    fetcher = URLFetcher(allowed_protocols=["data"])
    result = HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert isinstance(result, bytes)
    return result


def summary_html(
    *,
    patient_label: str,
    assessment: Mapping[str, Any],
    assessed_on: str = "",
    charts: Sequence[Chart] = (),
    extra_alerts: Sequence[str] = (),
    today: dt.date | None = None,
    plan: PlanSummary | None = None,
    decisions: PlanDecisions | None = None,
) -> str:
    return _env.get_template("summary.html").render(
        plan=plan,
        decisions=decisions,
        css=Markup(_CSS),  # noqa: S704 - a constant
        patient_label=patient_label,
        a=assessment,
        assessed=assessed_on,
        charts=_safe_charts(charts),
        extra_alerts=list(extra_alerts),
        today=(today or dt.date.today()).isoformat(),
        disclaimer=DISCLAIMER,
    )


def care_plan_summary_pdf(
    *,
    patient_label: str,
    assessment: Mapping[str, Any],
    assessed_on: str = "",
    charts: Sequence[Chart] = (),
    extra_alerts: Sequence[str] = (),
    today: dt.date | None = None,
    plan: PlanSummary | None = None,
    decisions: PlanDecisions | None = None,
) -> bytes:
    """The clinician's summary of an assessment: alerts first, then the differential, work-up,
    treatment options with their reasons, the team's decisions (with reasons, tasks, the
    conference and the taper), charts and references."""
    return html_to_pdf(
        summary_html(
            patient_label=patient_label,
            assessment=assessment,
            assessed_on=assessed_on,
            charts=charts,
            extra_alerts=extra_alerts,
            today=today,
            plan=plan,
            decisions=decisions,
        )
    )


def handout_html(
    *,
    patient_label: str,
    treatments: Sequence[HandoutItem],
    tests: Sequence[HandoutItem] = (),
    charts: Sequence[Chart] = (),
    warnings: Sequence[PatientWarning] = (),
    today: dt.date | None = None,
    plan: PlanSummary | None = None,
    from_plan: bool = True,
    words: Translator = ENGLISH,
) -> str:
    """The handout's HTML in ``words``' language (the texts given are already in it); the
    date printed in that language's format, e.g. "December 2, 2026", "2 de diciembre de
    2026"."""
    return _env.get_template("handout.html").render(
        lang=words.language,
        gettext=words.gettext,
        ngettext=words.ngettext,
        pgettext=words.pgettext,
        plan=plan,
        goal_words=_goal_words(words),
        responder_words=_responder_words(words),
        css=Markup(_CSS),  # noqa: S704 - a constant
        patient_label=patient_label,
        treatments=list(treatments),
        tests=list(tests),
        charts=_safe_charts(charts),
        warnings=list(warnings),
        from_plan=from_plan,
        today=format_date(today or dt.date.today(), "long", locale=words.babel_locale),
    )


def patient_handout_pdf(
    *,
    patient_label: str,
    treatments: Sequence[HandoutItem],
    tests: Sequence[HandoutItem] = (),
    charts: Sequence[Chart] = (),
    warnings: Sequence[PatientWarning] = (),
    today: dt.date | None = None,
    plan: PlanSummary | None = None,
    from_plan: bool = True,
    words: Translator = ENGLISH,
) -> bytes:
    """The patient's handout: first what to do now if a red flag or safety alert was found
    (``care.warnings``), then the plan in plain language (the knowledge base's patient texts),
    the score charts and when to seek help at once, all in ``words``' language."""
    return html_to_pdf(
        handout_html(
            words=words,
            patient_label=patient_label,
            treatments=treatments,
            tests=tests,
            charts=charts,
            warnings=warnings,
            today=today,
            from_plan=from_plan,
            plan=plan,
        )
    )
