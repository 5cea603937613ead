"""The built wheel works outside its checkout: built, installed into a fresh virtualenv, run
from another directory.

Why a test of its own: the catalog, game-day plans, post-mortem templates and the sandbox's rule
files were once found through the source tree, so every test passed in the checkout while the
installed package could not list a drill. Here the wheel is built from exactly the sources the
Dockerfile's `wheels` stage copies (`WHEEL_SOURCES`, checked by tests/k8s/test_dockerfile.py), so
the harness image gets the same files, and the commands a user (or the game-day CronJob) runs are
run with nothing of the checkout importable: the new virtualenv sees the development .venv's
third-party packages through a `.pth` line (no download), but not its editable install of
`drills`/`auditflow`, and the commands run with another working directory and no PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests import REPO_ROOT
from tests.packaging import WHEEL_SOURCES

pytestmark = pytest.mark.packaging

PACKAGES = ("auditflow", "drills")
RUN = "20261127T062541Z-pod-kill"  # a recorded run (tests/golden/runs) and its golden draft
TIMEOUT = 120


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site: Path
    elsewhere: Path  # the working directory of every command: no checkout in sight
    seconds: dict[str, float]

    def run(
        self, *argv: str, program: str = "genesis-drill", exit_code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESIS_", "PYTHON"))}
        started = time.monotonic()
        done = subprocess.run(
            [str(self.venv / "bin" / program), *argv],
            cwd=self.elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        self.seconds[" ".join([program, *argv])[:48]] = time.monotonic() - started
        print(f"$ {program} {' '.join(argv)}  (exit {done.returncode})\n{done.stdout}{done.stderr}")
        assert done.returncode == exit_code, done.stdout + done.stderr
        return done


def _data_files() -> list[str]:
    """Every file of the two packages that is not Python source: what package-data must ship."""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*")):
            relative = path.relative_to(REPO_ROOT)
            hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
            if path.is_file() and path.suffix not in (".py", ".pyc") and not hidden:
                found.append(str(relative))
    return found


def _pip(*argv: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *argv],
        check=False,
        timeout=TIMEOUT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"pip {' '.join(argv)}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    seconds: dict[str, float] = {}
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in WHEEL_SOURCES:  # a copy: the build writes build/ and *.egg-info next to it
        origin = REPO_ROOT / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    started = time.monotonic()
    _pip("wheel", "--no-deps", "--wheel-dir", str(root / "dist"), str(source))
    seconds["pip wheel"] = time.monotonic() - started
    (wheel,) = (root / "dist").glob("genesis_drill-*.whl")

    started = time.monotonic()
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Installed before the .pth exists, so pip cannot see (and skip or touch) the editable install.
    _pip("--python", str(python), "install", "--no-deps", "--no-index", str(wheel))
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Third-party packages from the development .venv, as plain sys.path entries: the .pth files
    # inside it (the editable install's finder among them) are not processed.
    third_party = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "zz-genesis-test-third-party.pth").write_text("\n".join(third_party) + "\n")
    seconds["venv + pip install"] = time.monotonic() - started

    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    yield Installed(wheel, venv, site, elsewhere, seconds)
    print("wheel check timings (s):", {k: round(v, 2) for k, v in seconds.items()})


def test_the_wheel_holds_every_data_file_of_the_packages(installed: Installed) -> None:
    """Every non-Python file under drills/ and auditflow/ is in the wheel: catalog drills,
    game-day plans, post-mortem templates, slo.yaml, the sandbox's rule files and Alertmanager
    config, the dashboard's template; a new data file not listed in package-data fails here."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = _data_files()
    missing = sorted(set(expected) - names)
    assert not missing, f"not in {installed.wheel.name}: {missing}"
    groups = {
        "catalog": "drills/catalog/*.yaml",
        "gamedays": "drills/gamedays/*.yaml",
        "postmortem templates": "drills/postmortem/templates/*.j2",
        "gameday templates": "drills/gameday/templates/*.j2",
        "report templates": "drills/report/templates/*.j2",
        "report assets": "drills/report/assets/*",
        "slo": "drills/slo.yaml",
        "monitoring": "drills/monitoring/**/*.yml",
        "dashboard templates": "auditflow/dashboard/templates/*.html",
    }
    counts = {label: len(list(REPO_ROOT.glob(pattern))) for label, pattern in groups.items()}
    print(f"{installed.wheel.name}: {len(names)} files, data files {len(expected)}: {counts}")
    assert counts["catalog"] >= 4 and counts["gamedays"] >= 2
    assert counts["postmortem templates"] >= 6 and counts["monitoring"] >= 3
    assert counts["gameday templates"] == 2  # report.md.j2, postmortem.md.j2
    assert counts["slo"] == 1 and counts["dashboard templates"] >= 1
    assert counts["report templates"] >= 4 and counts["report assets"] == 2  # report.css, .js


def test_the_checkout_is_not_importable_from_the_new_virtualenv(installed: Installed) -> None:
    """`drills` and `auditflow` come from the new virtualenv, third-party packages still load."""
    done = installed.run(
        "-c",
        "import auditflow, drills, drills.packaged, jinja2; "
        "print(drills.__file__); print(auditflow.__file__); print(drills.packaged.catalog())",
        program="python",
    )
    for line in done.stdout.split():
        assert Path(line).is_relative_to(installed.site), line
        assert not Path(line).is_relative_to(REPO_ROOT), line


def test_list_shows_the_packaged_catalog(installed: Installed) -> None:
    done = installed.run("list")
    for name in ("pod-kill", "rabbitmq-outage", "malformed-events", "pvc-wipe-restore"):
        assert name in done.stdout
    assert "invalid" not in done.stdout


def test_validate_a_packaged_drill_by_name_and_a_drill_file(installed: Installed) -> None:
    mine = installed.elsewhere / "my-outage.yaml"
    shutil.copy2(REPO_ROOT / "drills" / "catalog" / "rabbitmq-outage.yaml", mine)
    done = installed.run("validate", "pod-kill", mine.name)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"ok: {installed.site / 'drills' / 'catalog' / 'pod-kill.yaml'} ")
    assert lines[1] == "ok: my-outage.yaml (rabbitmq-outage: service-stop on rabbitmq)"


def test_postmortem_render_of_a_recorded_run_uses_the_packaged_templates(
    installed: Installed,
) -> None:
    """The installed package drafts exactly the golden post-mortem of a recorded run."""
    run_dir = installed.elsewhere / RUN
    shutil.copytree(REPO_ROOT / "tests" / "golden" / "runs" / RUN, run_dir)
    done = installed.run("postmortem", "render", str(run_dir))
    assert done.stdout.strip() == str(run_dir / "postmortem.md")
    text = (run_dir / "postmortem.md").read_text().replace(str(run_dir), "RUN_DIR")
    assert text == (REPO_ROOT / "tests" / "golden" / f"{RUN}.postmortem.md").read_text()
    assert (run_dir / "chart.svg").is_file()


def test_report_of_a_recorded_run_uses_the_packaged_templates(installed: Installed) -> None:
    """The installed package writes exactly the golden report.html of a recorded run, with the
    packaged stylesheet and script inlined."""
    from tests.unit.test_report_html import content_only

    run_dir = installed.elsewhere / f"report-{RUN}"
    shutil.copytree(REPO_ROOT / "tests" / "golden" / "runs" / RUN, run_dir)
    done = installed.run("report", str(run_dir))
    assert done.stdout.strip() == str(run_dir / "report.html")
    html = (run_dir / "report.html").read_text()
    golden = REPO_ROOT / "tests" / "golden" / "reports" / f"{RUN}.report.html"
    assert content_only(html).replace(str(run_dir), "RUN_DIR") == golden.read_text()
    css = (REPO_ROOT / "drills" / "report" / "assets" / "report.css").read_text()
    assert css in html


def test_postmortem_review_judges_verbs_with_the_installed_lexicon(installed: Installed) -> None:
    """The wheel requires lemminflect, and the installed review passes a finished post-mortem
    whose action items start with "Cap" and "Route" and fails a flawed one on "Alerting"."""
    metadata = next(
        zipfile.ZipFile(installed.wheel).read(name).decode()
        for name in zipfile.ZipFile(installed.wheel).namelist()
        if name.endswith(".dist-info/METADATA")
    )
    assert "Requires-Dist: lemminflect" in metadata
    corpus = REPO_ROOT / "tests" / "golden" / "postmortems"
    good = shutil.copy(corpus / "good" / "pod-kill-2026-11-27.md", installed.elsewhere)
    flawed = shutil.copy(corpus / "flawed" / "action-inflected-verb.md", installed.elsewhere)
    done = installed.run("postmortem", "review", str(good))
    assert done.stdout.strip().endswith("0 error(s), 0 warning(s)"), done.stdout
    failed = installed.run("postmortem", "review", str(flawed), exit_code=1)
    assert "action-no-verb: error: " in failed.stdout
    assert "write the imperative 'Alert'" in failed.stdout


def test_gameday_cronjob_names_the_packaged_plan(installed: Installed) -> None:
    done = installed.run("gameday", "cronjob", "weekly")
    pod = yaml.safe_load(done.stdout)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][:3] == ["gameday", "run", "weekly"]


def test_the_gameday_report_renders_from_the_installed_templates(installed: Installed) -> None:
    """The game-day report and combined post-mortem come from the wheel's templates."""
    done = installed.run(
        "-c",
        "from pathlib import Path\n"
        "from drills import gameday, packaged\n"
        "plan = gameday.load_plan(gameday.plan_path(Path('ci-smoke')))\n"
        "day = gameday.GameDayResult(plan, Path('day'), 1.8e9, 1.8e9 + 60)\n"
        "day.outcomes.append(gameday.DrillOutcome('pod-kill', 'skipped', 'budget | low'))\n"
        "print(packaged.gameday_templates())\n"
        "print(gameday.report_markdown(day))\n"
        "print(gameday.combined_postmortem(day))\n",
        program="python",
    )
    templates, *_ = done.stdout.splitlines()
    assert Path(templates).is_relative_to(installed.site / "drills"), templates
    assert "| pod-kill | skipped: budget \\| low | | | | | | | |" in done.stdout
    assert "# Post-mortem (draft): game day ci-smoke" in done.stdout


def test_the_sandbox_loads_the_installed_rule_files(installed: Installed) -> None:
    """Prometheus's config names the installed rule files, and Alertmanager's is the installed
    one (the sandbox itself is not started here)."""
    done = installed.run(
        "-c",
        "import sys, yaml\n"
        "from pathlib import Path\n"
        "from drills.sandbox import configs\n"
        "from drills.sandbox.layout import Ports\n"
        "from drills.settings import Settings\n"
        "monitoring = Settings(state_dir=Path('state')).monitoring_dir\n"
        "prom = yaml.safe_load(configs.prometheus_yml(Ports(), monitoring))\n"
        "am = yaml.safe_load(configs.alertmanager_yml(Ports(), monitoring, Path('token')))\n"
        "assert am['receivers'], am\n"
        "print('\\n'.join(prom['rule_files']))\n",
        program="python",
    )
    rules = done.stdout.split()
    assert len(rules) >= 2
    for rule in rules:
        assert Path(rule).is_file() and Path(rule).is_relative_to(installed.site / "drills"), rule
