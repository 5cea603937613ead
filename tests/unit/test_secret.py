"""Passwords and tokens never print: one `Secret` type wraps every one of them, from the sandbox's
generated credentials through the targets' endpoints to the GitHub token."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

from drills.export import github
from drills.faults.base import FaultContext, FaultReport, Injection
from drills.journal import Journal
from drills.runner import RunOptions, run
from drills.sandbox import secrets as sandbox_secrets
from drills.sandbox.secrets import SandboxSecrets
from drills.secret import Secret
from drills.settings import Settings
from drills.targets.fake import FAKE_PASSWORD, FAKE_TOKEN, FakeTarget
from drills.targets.k8s_settings import KubeSettings
from drills.targets.local import LocalTarget
from tests.fakes import FakeClock, FakeGenerator, FakeObserver
from tests.unit.test_runner import SPEC


def test_secret_shows_stars_and_reveals_the_value():
    """repr, str and f-strings show ***; reveal() gives the value; redact() hides it in text."""
    secret = Secret("s3cret-value")
    assert repr(secret) == "Secret('***')" and str(secret) == "***" and f"{secret}" == "***"
    assert secret.reveal() == "s3cret-value"
    assert secret.redact("token s3cret-value refused") == "token *** refused"


def test_one_secret_type_everywhere():
    """The sandbox's Secret and the GitHub Token are the same type as drills.secret.Secret."""
    assert sandbox_secrets.Secret is Secret
    assert github.Token is Secret
    assert isinstance(github.token_from_env({"GITHUB_TOKEN": "ghp_x"}), Secret)


def test_fault_context_and_endpoints_repr_hold_no_secret(tmp_path):
    """repr of the endpoints and of a fault's context shows none of the token or passwords."""
    target = FakeTarget()
    ctx = FaultContext(
        SPEC, target, target.endpoints(), Journal(tmp_path), tmp_path, lambda _k, _d: None
    )
    for text in (repr(ctx), repr(ctx.endpoints), str(ctx.endpoints)):
        assert FAKE_TOKEN not in text and FAKE_PASSWORD not in text
        assert "Secret('***')" in text


def test_local_endpoints_repr_holds_no_sandbox_secret(tmp_path):
    """The local target's endpoints (admin token, AMQP URL and DSNs) print none of the sandbox's
    generated credentials, while reveal() still gives working connection strings."""
    creds = SandboxSecrets.generate()
    sandbox = SimpleNamespace(
        settings=Settings(state_dir=tmp_path), secrets=creds, supervisor=None, layout=None
    )
    # Not a Sandbox: endpoints() reads only settings and secrets, so nothing else is started.
    endpoints = LocalTarget(sandbox).endpoints()  # type: ignore[arg-type]
    values = [getattr(creds, name).reveal() for name in creds.__dataclass_fields__]
    assert not [v for v in values if v in repr(endpoints)]
    assert creds.postgres_superuser.reveal() in endpoints.pg_admin_dsn.reveal()
    assert creds.rabbitmq.reveal() in endpoints.amqp_url.reveal()
    assert endpoints.generator_token.reveal() == creds.admin_token.reveal()
    assert not [v for v in values if v in repr(creds)]


def test_kube_settings_repr_holds_no_dsn_password():
    """AMQP URL and DSN overrides from GENESIS_K8S_* embed passwords: repr shows none."""
    settings = KubeSettings.from_env(
        {
            "GENESIS_K8S_AMQP_URL": "amqp://u:amqp-pw-77@host:5672/",
            "GENESIS_K8S_PG_DSN": "host=h password=pg-pw-78",
            "GENESIS_K8S_PG_ADMIN_DSN": "host=h password=pg-admin-pw-79",
            "GENESIS_K8S_PROMETHEUS_URL": "http://127.0.0.1:19090",
        }
    )
    text = repr(settings)
    assert "amqp-pw-77" not in text and "pg-pw-78" not in text and "pg-admin-pw-79" not in text
    assert settings.secret_urls["postgres"].reveal() == "host=h password=pg-pw-78"
    forwards = settings.port_forward_commands()  # overridden services need no port-forward
    assert not [line for line in forwards if "svc/rabbitmq " in line or "svc/postgres " in line]


class EndpointsInErrorFault:
    """A fault whose failure message formats the endpoints, as a careless error message would."""

    kind = "service-stop"

    def plan(self, ctx: FaultContext) -> list[str]:
        return []

    def preflight(self, ctx: FaultContext) -> list[str]:
        return []

    def inject(self, ctx: FaultContext) -> Injection:
        return Injection(time.time(), "test", {"endpoints": repr(ctx.endpoints)})

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        raise RuntimeError(f"cannot reach the platform at {ctx.endpoints}")

    def rollback(self, ctx: FaultContext) -> None:
        return None

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        return FaultReport()


def test_journal_and_result_of_a_run_hold_no_secret(tmp_path):
    """A run whose fault puts the endpoints into its details and its error leaves neither the
    token nor a password in journal.jsonl or result.json."""
    spec = SPEC.__class__(**{**SPEC.__dict__, "load": SPEC.load.__class__(300.0, 0.0)})
    result = run(
        spec,
        FakeTarget(),
        RunOptions(runs_dir=tmp_path),
        fault=EndpointsInErrorFault(),
        observer=FakeObserver(),
        generator=FakeGenerator(),
        clock=FakeClock(),
    )
    run_dir = Path(result.run_dir)
    assert "cannot reach the platform" in result.reason
    for name in ("journal.jsonl", "result.json"):
        text = (run_dir / name).read_text()
        assert FAKE_TOKEN not in text and FAKE_PASSWORD not in text, name
    assert json.loads((run_dir / "result.json").read_text())["outcome"] == "error"
