"""Alert coverage (`drills.coverage`, `genesis-drill coverage`) over run directories recorded in
tmp_path: a rule expected and proven, expected but never fired, proven too long ago, an alert
that fired unexpectedly; TTD per rule and its percentiles; the JSON document; --fail-under; a
broken rule file; and the same one-line summary in `history` and the game-day report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills import packaged
from drills.alert_rules import AlertRule, load_rules, platform_rule_files
from drills.cli.main import cli
from drills.coverage import (
    NEVER,
    PROVEN,
    STALE,
    CatalogDrill,
    compute,
    nearest_rank,
    read_catalog,
    read_runs,
)
from drills.outcome import Outcome
from drills.results import AlertSummary, DrillResult

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _packaged_rules(monkeypatch):
    """The platform's rules are the packaged ones, whatever the developer's environment says."""
    monkeypatch.delenv("GENESIS_MANIFESTS_DIR", raising=False)


def record(
    runs: Path,
    drill: str,
    *,
    days_ago: float = 1.0,
    expected: tuple[str, ...] = (),
    fired: tuple[str, ...] = (),
    unexpected: tuple[str, ...] = (),
    ttd_of: dict[str, float] | None = None,
    run_ttd: float | None = 99.0,
    outcome: str = "passed",
    n: int = 0,
) -> Path:
    """A run directory as the runner leaves it: `result.json` with the alerts it saw."""
    started = NOW - timedelta(days=days_ago, seconds=n)
    injected = started + timedelta(seconds=10)
    ttd_of = ttd_of or {}
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{drill}"
    run_dir = runs / run_id
    run_dir.mkdir(parents=True)
    DrillResult(
        run_id=run_id,
        drill=drill,
        target="local",
        outcome=Outcome(outcome),
        reason="",
        started_at=started,
        injected_at=injected,
        ttd_seconds=run_ttd,  # the run's earliest expected alert; never used per rule
        alerts=AlertSummary(
            expected=expected,
            fired=fired,
            missed=tuple(a for a in expected if a not in fired),
            unexpected=unexpected,
            first_pending_at={a: None for a in expected},
            first_firing_at={
                a: injected + timedelta(seconds=ttd_of.get(a, 7.0)) if a in fired else None
                for a in expected
            },
            for_seconds={a: 5.0 for a in expected},
            evaluation_interval_s=1.0,
        ),
        run_dir=str(run_dir),
    ).write(run_dir)
    return run_dir


def rule(name: str, for_s: float = 5.0) -> AlertRule:
    return AlertRule(name, Path("rules.yml"), 1, "up == 0", for_s)


RULES = [rule("RabbitMQDown"), rule("PostgresDown"), rule("RedisDown"), rule("AuditAnalysisDown")]
CATALOG = [
    CatalogDrill("rabbitmq-outage", Path("rabbitmq-outage.yaml"), ("RabbitMQDown",)),
    CatalogDrill("pvc-wipe-restore", Path("pvc-wipe-restore.yaml"), ("PostgresDown",)),
    CatalogDrill("redis-outage", Path("redis-outage.yaml"), ("RedisDown",)),
]


def cover(runs: Path, max_age: float = 30.0):
    results, problems = read_runs(runs)
    return compute(RULES, CATALOG, results, NOW, max_age, problems)


def by_name(report):
    return {r.name: r for r in report.rules}


def test_a_rule_expected_and_fired_is_proven_with_its_own_ttd(tmp_path):
    """TTD per rule is its first firing minus the injection (7.5 s), not the run's TTD (99 s)."""
    run = record(
        tmp_path,
        "rabbitmq-outage",
        expected=("RabbitMQDown",),
        fired=("RabbitMQDown",),
        ttd_of={"RabbitMQDown": 7.5},
    )
    rabbit = by_name(cover(tmp_path))["RabbitMQDown"]
    assert rabbit.status == PROVEN
    assert rabbit.expected_by == ("rabbitmq-outage",)
    proof = rabbit.last_proof
    assert proof is not None
    assert (proof.run_id, proof.drill, proof.target) == (run.name, "rabbitmq-outage", "local")
    assert proof.ttd_s == 7.5
    assert (rabbit.ttd(0.5), rabbit.ttd(0.95), rabbit.ttd(1.0)) == (7.5, 7.5, 7.5)


def test_a_rule_expected_but_never_fired_is_not_proven(tmp_path):
    record(tmp_path, "pvc-wipe-restore", expected=("PostgresDown",), fired=())
    report = cover(tmp_path)
    assert by_name(report)["PostgresDown"].status == NEVER
    assert by_name(report)["PostgresDown"].expected_by == ("pvc-wipe-restore",)
    drill = {d.drill.name: d for d in report.drills}["pvc-wipe-restore"]
    assert (drill.status, drill.last_proof) == (NEVER, None)
    assert report.fraction == 0.0


def test_a_proof_older_than_max_age_is_stale_and_does_not_count(tmp_path):
    """Proven 40 days ago: stale with --max-age 30, proven with --max-age 60."""
    record(tmp_path, "redis-outage", days_ago=40, expected=("RedisDown",), fired=("RedisDown",))
    record(tmp_path, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    report = cover(tmp_path, max_age=30)
    assert by_name(report)["RedisDown"].status == STALE
    drills = {d.drill.name: d for d in report.drills}
    assert drills["redis-outage"].status == STALE
    assert drills["redis-outage"].age_days == pytest.approx(40, abs=0.01)
    assert drills["rabbitmq-outage"].status == PROVEN
    assert report.fraction == 1 / 4
    assert report.summary_line() == (
        "alert coverage: 1 / 4 rules proven by a drill in the last 30 days (3 expected by a "
        "catalog drill); never proven: PostgresDown, AuditAnalysisDown; proof older than 30 "
        "days: RedisDown"
    )
    assert by_name(cover(tmp_path, max_age=60))["RedisDown"].status == PROVEN


def test_an_unexpected_alert_proves_nothing_and_is_counted_per_drill(tmp_path):
    """AuditAnalysisDown fired in two pod-kill runs that expected something else: listed with
    its count and last run, and the rule stays unproven."""
    for n in (1, 0):  # n seconds earlier: the second is the newest
        last = record(tmp_path, "pod-kill", unexpected=("AuditAnalysisDown", "Foreign"), n=n)
    record(tmp_path, "rabbitmq-outage", unexpected=("AuditAnalysisDown",), n=5)
    report = cover(tmp_path)
    assert by_name(report)["AuditAnalysisDown"].status == NEVER
    rows = {(u.drill, u.alert): u for u in report.unexpected}
    assert rows[("pod-kill", "AuditAnalysisDown")].runs == 2
    assert rows[("pod-kill", "AuditAnalysisDown")].last_run_id == last.name
    assert rows[("rabbitmq-outage", "AuditAnalysisDown")].runs == 1
    assert rows[("pod-kill", "Foreign")].defined is False  # no loaded rule of that name


def test_ttd_percentiles_are_nearest_rank_over_every_proving_run(tmp_path):
    """Ten proofs, TTD 1..10 s: p50 5 s, p95 10 s, max 10 s; a run without its first firing
    counts as a proof but not in the TTD figures."""
    for n in range(10):
        record(
            tmp_path,
            "rabbitmq-outage",
            days_ago=1 + n,
            expected=("RabbitMQDown",),
            fired=("RabbitMQDown",),
            ttd_of={"RabbitMQDown": float(n + 1)},
        )
    rabbit = by_name(cover(tmp_path))["RabbitMQDown"]
    assert len(rabbit.proofs) == 10
    assert (rabbit.ttd(0.5), rabbit.ttd(0.95), rabbit.ttd(1.0)) == (5.0, 10.0, 10.0)
    assert rabbit.last_proof is not None and rabbit.last_proof.ttd_s == 1.0  # the newest run
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0


def test_a_drill_is_proven_only_by_a_run_that_fired_everything_it_expects(tmp_path):
    catalog = [CatalogDrill("both", Path("both.yaml"), ("RabbitMQDown", "RedisDown"))]
    record(tmp_path, "both", expected=("RabbitMQDown", "RedisDown"), fired=("RabbitMQDown",))
    results, _ = read_runs(tmp_path)
    report = compute(RULES, catalog, results, NOW)
    assert report.drills[0].status == NEVER
    assert by_name(report)["RabbitMQDown"].status == PROVEN  # the rule itself was proven


def test_an_expected_alert_that_no_rule_defines_is_reported(tmp_path):
    catalog = [*CATALOG, CatalogDrill("typo", Path("typo.yaml"), ("RabbitMQDwon",))]
    report = compute(RULES, catalog, [], NOW)
    assert report.undefined == (("typo", "RabbitMQDwon"),)


def test_a_broken_run_is_reported_and_the_others_still_count(tmp_path):
    record(tmp_path, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "result.json").write_text("{not json")
    report = cover(tmp_path)
    assert by_name(report)["RabbitMQDown"].status == PROVEN
    assert len(report.problems) == 1 and "broken/result.json" in report.problems[0]


# The packaged catalog's drills expect this many distinct rules (one alert or heartbeat each).
PACKAGED_EXPECTED = 18


def test_the_packaged_catalog_expects_every_one_of_the_18_rules():
    """Today's catalog: every alerting rule the platform loads is expected by some drill (the
    Watchdog through the monitoring-blind heartbeat), and every expected alert is defined."""
    catalog, problems = read_catalog([packaged.catalog()])
    rules = load_rules(platform_rule_files(packaged.monitoring()))
    report = compute(rules, catalog, [], NOW)
    assert problems == []
    assert (len(report.rules), report.expected, report.undefined) == (18, PACKAGED_EXPECTED, ())


# --- the command ---------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, ["coverage", *args])


JSON_KEYS = {
    "version",
    "generated_at",
    "max_age_days",
    "rules_loaded",
    "rules_expected",
    "rules_proven",
    "coverage",
    "summary",
    "never_proven",
    "stale",
    "rules",
    "drills",
    "unexpected",
    "undefined_expected",
    "problems",
}


def test_json_document_has_stable_keys(tmp_path):
    record(tmp_path, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    record(tmp_path, "pod-kill", unexpected=("AnalysisNoConsumers",), n=1)
    result = invoke("--runs-dir", str(tmp_path), "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == JSON_KEYS
    assert (doc["version"], doc["rules_loaded"], doc["rules_expected"]) == (
        1,
        18,
        PACKAGED_EXPECTED,
    )
    assert (doc["rules_proven"], doc["coverage"]) == (1, round(1 / 18, 4))
    rabbit = next(r for r in doc["rules"] if r["name"] == "RabbitMQDown")
    assert set(rabbit) == {
        "name",
        "defined_at",
        "for_s",
        "expected_by",
        "status",
        "proofs",
        "last_proof",
        "ttd_s",
    }
    assert rabbit["defined_at"][0].endswith("auditflow-alerts.yml:50")
    assert set(rabbit["last_proof"]) == {
        "run_id",
        "drill",
        "target",
        "started_at",
        "fired_at",
        "ttd_s",
    }
    assert rabbit["ttd_s"] == {"p50": 7.0, "p95": 7.0, "max": 7.0}
    drill = next(d for d in doc["drills"] if d["drill"] == "rabbitmq-outage")
    assert set(drill) == {"drill", "file", "expects", "status", "last_proof"}
    assert set(drill["last_proof"]) == {"run_id", "started_at", "age_days"}
    assert doc["unexpected"] == [
        {
            "drill": "pod-kill",
            "alert": "AnalysisNoConsumers",
            "runs": 1,
            "last_run_id": doc["unexpected"][0]["last_run_id"],
            "defined": True,
        }
    ]
    assert "RabbitMQDown" not in doc["never_proven"] and len(doc["never_proven"]) == 17


def test_an_empty_runs_dir_shows_the_baseline(tmp_path):
    """No runs (the directory need not exist): 0 of 18 proven, all 18 expected by the catalog."""
    result = invoke("--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert (
        "alert coverage: 0 / 18 rules proven by a drill in the last 30 days "
        f"({PACKAGED_EXPECTED} expected by a catalog drill); never proven: AuditAnalysisDown,"
        in result.stdout
    )
    assert "RabbitMQDown" in result.stdout and "rabbitmq-outage" in result.stdout
    assert not (tmp_path / "runs").exists()  # coverage only reads


def test_the_table_shows_proofs_and_unexpected_alerts(tmp_path):
    run = record(tmp_path, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    record(tmp_path, "pod-kill", unexpected=("AnalysisNoConsumers",), n=1)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["coverage", "--runs-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "proven " in result.stdout and run.name in result.stdout
    assert "7s / 7s / 7s (n=1)" in result.stdout
    assert "alerts that fired unexpectedly" in result.stdout
    assert "alert coverage: 1 / 18 rules proven" in result.stdout


@pytest.mark.parametrize(("fail_under", "code"), [("0", 0), ("0.0555", 0), ("0.06", 1), ("1", 1)])
def test_fail_under_exits_1_below_the_fraction(tmp_path, fail_under, code):
    """1 of 18 proven = 0.0555...: at or under it passes, above it fails."""
    record(tmp_path, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    result = invoke("--runs-dir", str(tmp_path), "--fail-under", fail_under, "--output", "json")
    assert result.exit_code == code, result.output
    if code:
        assert "below --fail-under" in result.stderr


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "nan", "half"])
def test_fail_under_outside_0_to_1_is_exit_2(tmp_path, bad):
    result = invoke("--runs-dir", str(tmp_path), "--fail-under", bad)
    assert result.exit_code == 2
    assert "--fail-under" in result.stderr
    assert "Traceback" not in result.output


def test_max_age_must_be_a_positive_number_of_days(tmp_path):
    assert invoke("--runs-dir", str(tmp_path), "--max-age", "0").exit_code == 2
    assert invoke("--runs-dir", str(tmp_path), "--max-age", "7").exit_code == 0


def test_a_users_rule_file_is_added_to_the_platforms(tmp_path):
    rules = tmp_path / "team.yml"
    rules.write_text(
        "groups:\n  - name: team\n    rules:\n      - alert: TeamDown\n        expr: up == 0\n"
    )
    result = invoke("--runs-dir", str(tmp_path / "runs"), "--rules", str(rules), "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rules_loaded"] == 19  # the platform's 18 and the team's own
    assert doc["rules"][-1]["defined_at"] == [f"{rules}:4"]


def test_a_rule_file_with_a_syntax_error_is_exit_2_naming_the_file(tmp_path):
    rules = tmp_path / "broken.yml"
    rules.write_text("groups:\n  - name: team\n    rules: [\n")
    result = invoke("--runs-dir", str(tmp_path / "runs"), "--rules", str(rules))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {rules}:")
    assert "not valid YAML" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_rule_file_is_exit_2_naming_it(tmp_path):
    result = invoke("--runs-dir", str(tmp_path), "--rules", str(tmp_path / "nope.yml"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yml'}: no such rule file" in result.stderr


def test_a_user_catalog_adds_expectations(tmp_path):
    """A drill of a user's catalog directory counts like a packaged one — here one expecting
    the team's own rule, since the packaged catalog already expects every packaged rule."""
    rules = tmp_path / "team.yml"
    rules.write_text(
        "groups:\n  - name: team\n    rules:\n      - alert: TeamDown\n        expr: up == 0\n"
    )
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    source = (packaged.catalog() / "rabbitmq-outage.yaml").read_text()
    (catalog / "team-drill.yaml").write_text(
        source.replace("name: rabbitmq-outage", "name: team-drill").replace(
            "[RabbitMQDown]", "[TeamDown]"
        )
    )
    result = invoke(
        "--runs-dir",
        str(tmp_path / "runs"),
        "--catalog",
        str(catalog),
        "--rules",
        str(rules),
        "--output",
        "json",
    )
    doc = json.loads(result.stdout)
    assert doc["rules_expected"] == PACKAGED_EXPECTED + 1
    team = next(r for r in doc["rules"] if r["name"] == "TeamDown")
    assert team["expected_by"] == ["team-drill"]


def test_help_teaches_with_examples():
    result = CliRunner().invoke(cli, ["coverage", "--help"])
    assert result.exit_code == 0
    for text in ("Examples:", "--fail-under 0.8", "--max-age", "--rules", "--output json"):
        assert text in result.stdout


# --- the same line in history and the game-day report ---------------------------------------


def test_history_shows_the_coverage_line(tmp_path):
    record(tmp_path, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    result = CliRunner().invoke(cli, ["history", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.rstrip()
        .splitlines()[-1]
        .startswith("alert coverage: 1 / 18 rules proven by a drill in the last 30 days")
    )
    doc = json.loads(
        CliRunner().invoke(cli, ["history", "--runs-dir", str(tmp_path), "--output", "json"]).stdout
    )
    assert doc["alert_coverage"].startswith("alert coverage: 1 / 18")


def test_the_gameday_report_shows_the_coverage_line(tmp_path):
    from drills.gameday import GameDayResult, load_plan, report_markdown
    from tests.unit.test_gameday import plan_file

    runs = tmp_path / "runs"
    record(runs, "rabbitmq-outage", expected=("RabbitMQDown",), fired=("RabbitMQDown",))
    plan = load_plan(plan_file(tmp_path))
    day = GameDayResult(plan, runs / "gamedays" / "x", NOW.timestamp(), runs_dir=runs)
    day.finished_at = NOW.timestamp()
    text = report_markdown(day)
    assert "## Alert coverage\n\nalert coverage: 1 / 18 rules proven by a drill" in text


def test_a_heartbeat_rule_is_proven_by_the_switch_telling_not_by_alerts(tmp_path):
    """Watchdog always fires, so no ALERTS sample proves it: a monitoring-blind run proves it
    when the dead man's switch told (its "TTD" is how long the platform was blind), and only
    when that check passed. The packaged drill expects the heartbeat."""
    from dataclasses import replace

    from drills.results import Check, FaultSummary

    run = record(tmp_path, "monitoring-blind")
    result = DrillResult.read(run)
    told = Check("MonitoringBlind told within 25 s (Watchdog heartbeat stopped)", True, "told")
    fault = FaultSummary(
        "service-stop",
        {"heartbeat": "Watchdog"},
        {"heartbeat_alert": "Watchdog", "blind_until_told_s": 17.25},
        (told,),
    )
    replace(result, fault=fault).write(run)
    late = record(tmp_path, "monitoring-blind", n=5)
    replace(
        DrillResult.read(late),
        fault=replace(fault, checks=(replace(told, passed=False),)),
    ).write(late)
    rules = [*RULES, rule("Watchdog", 0.0)]
    catalog = [*CATALOG, CatalogDrill("monitoring-blind", Path("m.yaml"), ("Watchdog",))]
    results, problems = read_runs(tmp_path)
    report = compute(rules, catalog, results, NOW, 30.0, problems)
    watchdog = by_name(report)["Watchdog"]
    assert watchdog.status == PROVEN
    assert [p.run_id for p in watchdog.proofs] == [run.name]  # the failed check proves nothing
    assert watchdog.proofs[0].ttd_s == 17.25
    drill = {d.drill.name: d for d in report.drills}["monitoring-blind"]
    assert drill.status == PROVEN and drill.last_proof is not None
    assert drill.last_proof.run_id == run.name
    packaged_catalog, _ = read_catalog([packaged.catalog()])
    blind = {d.name: d for d in packaged_catalog}["monitoring-blind"]
    assert blind.expected_alerts == ("Watchdog",)
