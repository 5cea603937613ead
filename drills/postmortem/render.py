"""Rendering a post-mortem: Jinja2 over a typed document, Markdown-safe by default.

Every `{{ value }}` is Markdown-escaped on output (the environment's `finalize`), so a label, log
line or reason that contains `|`, `*`, `#`, backticks or newlines cannot break a table or a heading.
Only what the template marks as Markdown on purpose (the `code`, `yaml` and `link` filters) goes out
as is. `StrictUndefined` turns a misspelt field into an error instead of an empty cell.

Templates are looked up in the user's directory (`--templates DIR`), then `postmortems/templates/`
of the current project, then the built-in ones the package ships (`drills/postmortem/templates/`,
found by `drills.packaged`), so any single template can be overridden.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills import packaged
from drills.errors import InvalidInput
from drills.postmortem import actions as action_rules
from drills.postmortem import chart as chart_module
from drills.postmortem import formats, links
from drills.postmortem.actions import ActionItem
from drills.postmortem.context import RunContext, build
from drills.postmortem.tracker import TrackerState
from drills.postmortem.tracker import load as load_tracker

TEMPLATE_VERSION = "1"
MAIN_TEMPLATE = "postmortem.md.j2"
POSTMORTEM_NAME = "postmortem.md"
ISSUES_FILE = "issues.json"  # fingerprint → issue URL, written by `issues export --create`
LINK_TEMPLATE_ENV = "GENESIS_QUERY_LINK"

# Brackets are escaped, so parentheses can never form a link; `+`/`-`/`1.` only matter at the start.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")
_BULLET = re.compile(r"^([-+=])(?=\s|$)")
_ORDERED = re.compile(r"^(\d+)([.)])(?=\s|$)")


def md(value: Any) -> str:
    """Escape text for inline Markdown (tables included): one line, specials backslashed."""
    if value is None:
        return "n/a"
    text = re.sub(r"\s+", " ", str(value))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _ORDERED.sub(r"\1\\\2", _BULLET.sub(r"\\\1", text))


def md_link(url: str | None, text: Any) -> str:
    """A Markdown link with escaped text (the text alone when there is no URL)."""
    if not url:
        return md(text)
    safe = url.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
    return f"[{md(text)}]({safe})"


def tracking_cell(tracking: str, state: TrackerState | None) -> str:
    """The action-item table's tracking cell, as Markdown: the issue link and, once `issues sync`
    has run, the issue's state ("[#12](url) open, due 2026-12-10"); before that the filed URL or
    "not filed yet". Shared by the template and the in-place update after a sync."""
    if state is not None:
        return f"{md_link(state.url, f'#{state.number}')} {md(state.describe())}"
    return md_link(tracking, tracking) if tracking.startswith("http") else md(tracking)


@dataclass(frozen=True)
class Lessons:
    went_well: tuple[str, ...]
    went_wrong: tuple[str, ...]
    lucky: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    """What a post-mortem template sees: the run, its action items, the chart, the lessons."""

    run: RunContext
    actions: tuple[ActionItem, ...]
    lessons: Lessons
    chart: str | None
    template_version: str
    generated_at: datetime
    link_template: str | None
    # Fingerprint → the issue's state as `issues sync` recorded it (tracker.json); may be empty.
    tracker: Mapping[str, TrackerState] = field(default_factory=dict)
    overview_link: str | None = None  # the Grafana overview for the run's window (`links`)

    def tracking_cell(self, item: ActionItem) -> Any:
        """The item's tracking cell (Markdown, already escaped: `tracking_cell`)."""
        from markupsafe import Markup

        return Markup(tracking_cell(item.tracking, self.tracker.get(item.fingerprint)))  # noqa: S704 - escaped by tracking_cell

    def query_link(self, query: str) -> str | None:
        if not self.link_template:
            return None
        return self.link_template.replace("{query}", urllib.parse.quote(query, safe=""))


def lessons(run: RunContext) -> Lessons:
    """What went well / wrong / where we got lucky, derived from the objectives and the ledger."""
    well = [f"{o.name}: {o.measured} (objective {o.target})" for o in run.objectives if o.passed]
    wrong = [
        f"{o.name}: {o.measured} (objective {o.target})" for o in run.objectives if not o.passed
    ]
    if not run.injected:
        wrong.append(f"the fault was not injected: {run.outcome} ({run.reason})")
    lucky = [factor.text for factor in run.factors.lucky]
    spec = run.spec
    for label, figure, wanted in (
        ("detection", run.ttd.seconds, spec.max_ttd_s if spec else None),
        ("recovery", run.ttr.seconds, spec.max_ttr_s if spec else None),
    ):
        if figure is not None and wanted and 0.8 * wanted <= figure <= wanted:
            lucky.append(f"{label} took {figure:.1f} s, within 20 % of the {wanted:g} s objective")
    if run.missed_alerts and run.ledger and not run.ledger.lost and run.injected:
        lucky.append(
            "no event was lost although nobody was alerted: recovery did not depend on a human"
        )
    if run.ledger and run.ledger.dead_lettered and run.fault_kind != "malformed-events":
        lucky.append(f"{run.ledger.dead_lettered} events were dead-lettered rather than lost")
    if not lucky:
        lucky.append("nothing found by the drill's checks; add what the review finds")
    if not well:
        well.append("rollback ran and the run directory records what happened")
    return Lessons(tuple(well), tuple(wrong) or ("no objective was missed",), tuple(lucky))


def search_path(user_dir: Path | None) -> list[Path]:
    """Template directories, most specific first."""
    dirs = []
    if user_dir is not None:
        if not user_dir.is_dir():
            raise InvalidInput(f"--templates {user_dir}: not a directory")
        dirs.append(user_dir)
    builtin = packaged.postmortem_templates()
    project = Path.cwd() / "postmortems" / "templates"
    if project.is_dir() and project.resolve() != builtin.resolve():
        dirs.append(project)
    dirs.append(builtin)
    return dirs


def environment(dirs: Sequence[Path]) -> Any:
    """The Markdown-safe Jinja2 environment over `dirs`: `finalize` escapes every value with `md`,
    `StrictUndefined`, and the `code` / `yaml` / `link` / `md` filters. Shared with the game-day
    report (`drills.gameday.report`), so there is one escaper for every Markdown the harness writes.
    """
    import jinja2
    from markupsafe import Markup

    def finalize(value: Any) -> Any:
        return value if isinstance(value, Markup) else md(value)

    def code(value: Any) -> Markup:
        text = " ".join(str(value).split())
        longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
        fence = "`" * (longest + 1)
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        return Markup(f"{fence}{pad}{text}{pad}{fence}")  # noqa: S704 - Markdown, not HTML

    def yaml_scalar(value: Any) -> Markup:
        # JSON scalars are valid YAML: quotes and escapes keep any string inside its value.
        if value is None or isinstance(value, bool | int | float):
            return Markup(json.dumps(value))  # noqa: S704 - YAML front matter, not HTML
        return Markup(json.dumps(str(value)))  # noqa: S704 - YAML front matter, not HTML

    def link(url: str | None, text: Any) -> Markup:
        return Markup(md_link(url, text))  # noqa: S704 - escaped by md_link

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        autoescape=False,  # noqa: S701 - Markdown, not HTML: escaping is `finalize`'s job
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        code=code,
        yaml=yaml_scalar,
        link=link,
        **formats.FILTERS,
        md=lambda value: Markup(md(value)),  # noqa: S704 - explicit escape, then trusted
    )
    return env


def document(
    run: RunContext,
    chart: str | None,
    link_template: str | None = None,
    tracking: dict[str, str] | None = None,
    generated_at: datetime | None = None,
    tracker: Mapping[str, TrackerState] | None = None,
    overview_link: str | None = None,
) -> Document:
    items = action_rules.derive(run)
    if tracking:
        items = [replace(i, tracking=tracking.get(i.fingerprint, i.tracking)) for i in items]
    return Document(
        run=run,
        actions=tuple(items),
        lessons=lessons(run),
        chart=chart,
        template_version=TEMPLATE_VERSION,
        generated_at=generated_at or run.finished_at or datetime.now(UTC),
        link_template=link_template,
        tracker=dict(tracker or {}),
        overview_link=overview_link,
    )


def render_document(doc: Document, templates: Path | None = None) -> str:
    import jinja2

    env = environment(search_path(templates))
    try:
        return str(env.get_template(MAIN_TEMPLATE).render(doc=doc, run=doc.run))
    except jinja2.TemplateNotFound as exc:
        raise InvalidInput(f"template not found: {exc.name}") from exc
    except jinja2.TemplateError as exc:
        where, line = _template_position(exc)
        raise InvalidInput(f"{where}:{line}: template error: {exc}") from exc


def _template_position(exc: BaseException) -> tuple[str, str]:
    """The template file and line an error came from (Jinja puts them in the traceback)."""
    name, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    frame = exc.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename.endswith(".j2"):
            name, line = frame.tb_frame.f_code.co_filename, frame.tb_lineno
        frame = frame.tb_next
    return str(name or MAIN_TEMPLATE), str(line or "?")


def load_tracking(run_dir: Path) -> dict[str, str]:
    """Fingerprint → issue URL of the action items already filed from this run directory."""
    try:
        data = json.loads((run_dir / ISSUES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def draft(
    run_dir: Path,
    templates: Path | None = None,
    link_template: str | None = None,
    tracking: dict[str, str] | None = None,
) -> Path:
    """Build the context, draw the chart and write `postmortem.md` into the run directory."""
    run = build(run_dir)
    chart_path = chart_module.render(run, run_dir)
    doc = document(
        run,
        chart_path.name if chart_path else None,
        link_template or os.environ.get(LINK_TEMPLATE_ENV) or None,
        load_tracking(run_dir) if tracking is None else tracking,
        tracker=load_tracker(run_dir),
        overview_link=links.grafana_overview_url(run.window),
    )
    text = render_document(doc, templates)
    path = run_dir / POSTMORTEM_NAME
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
