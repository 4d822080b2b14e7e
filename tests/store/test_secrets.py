"""The secret guard: what counts as a credential, and what each mode does in the store."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.entities import Metric, Param, RunTag
from cairn.exceptions import InvalidParameterValue
from cairn.store import secrets
from cairn.store.sql.registry import SqlRegistryStore

# Built by concatenation so that no scanner flags this file; none of these is a live secret.
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
URL_WITH_PASSWORD = "postgresql://trainer:" + "Tr0ub4dor3xyz" + "@db.internal:5432/features"

POSITIVES = [
    (AWS_ID, "aws-access-key-id"),
    ("ASIA" + "Y34FZKBOKMUTVV7A", "aws-temporary-access-key-id"),
    (GITHUB, "github-token"),
    ("gho_" + "x" * 36, "github-token"),
    ("ghs_" + "1" * 36, "github-token"),
    ("ghu_" + "Ab1" * 12, "github-token"),
    ("github_pat_" + "11ABCDEFG0" + "x" * 40, "github-fine-grained-token"),
    ("glpat-" + "xY1_zW2-vU3tS4rQ5pO6", "gitlab-token"),
    ("xoxb-" + "123456789012-abcdefABCDEF", "slack-token"),
    ("xoxp-" + "1234-5678-abcdef", "slack-token"),
    ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-secret-key"),
    ("rk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-restricted-key"),
    ("AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "google-api-key"),
    ("sk-" + "proj-" + "Ab1" * 16, "sk-api-key"),
    ("sk-" + "a1B2" * 12, "sk-api-key"),
    (JWT, "jwt"),
    ("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...", "private-key"),
    ("-----BEGIN " + "OPENSSH PRIVATE KEY-----", "private-key"),
    ("-----BEGIN " + "PRIVATE KEY-----", "private-key"),
    ("-----BEGIN " + "PGP PRIVATE KEY BLOCK-----", "private-key"),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
        + "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
        + ";EndpointSuffix=core.windows.net",
        "azure-storage-key",
    ),
    ("Endpoint=sb://x/;SharedAccessKey=" + "a" * 43 + "=", "azure-shared-access-key"),
    (URL_WITH_PASSWORD, "url-password"),
    ("https://user:" + "p4ssw0rd" + "@example.com/repo.git", "url-password"),
    ("clone from https://oauth2:" + "abcdef123456" + "@gitlab.com/x.git today", "url-password"),
    (f"export KEY={AWS_ID} # embedded in text", "aws-access-key-id"),
]

NEGATIVES = [
    "",
    "0.001",
    "adam",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256
    "1f0e2d7c9b8a6f5e4d3c2b1a0f9e8d7c6b5a4f3e",  # git SHA
    "550e8400-e29b-41d4-a716-446655440000",  # UUID
    "7d793037a0760186574b0282f2f435e7",  # md5 / run id
    "sha256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",  # base64 model hash
    "https://github.com/org/repo.git",
    "https://user@example.com/x",  # a user, no password
    "http://host:8080/path@v2",  # a port, then an @ in the path
    "git@github.com:org/repo.git",
    "ssh://git@github.com:22/org/repo",
    "https://user:${PASSWORD}@host/x",  # a template, not a password
    "postgresql://user:****@db/x",  # already masked
    "postgresql://user:<password>@db/x",
    "s3://bucket/models/AKIA-not-a-key",
    "task-0123456789abcdef0123456789abcdef",  # "sk-" inside a word
    "xAKIAIOSFODNN7EXAMPLEx",
    "sk-learn",
    "ghp_short",
    "eyJhbGciOiJIUzI1NiJ9",  # a JWT header alone
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "[REDACTED:github-token]",
]


@pytest.mark.parametrize(("value", "kind"), POSITIVES)
def test_value_patterns(value: str, kind: str) -> None:
    assert secrets.value_kind(value) == kind
    assert secrets.detect("notes", value) == kind


@pytest.mark.parametrize("value", NEGATIVES)
def test_near_misses_are_not_secrets(value: str) -> None:
    assert secrets.value_kind(value) is None
    assert secrets.detect("notes", value) is None


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("password", "hunter22", "password"),
        ("db_password", "correct horse battery staple", "password"),
        ("dbPassword", "s3cr3t-pw", "password"),
        ("DB-PASSWD", "s3cr3t-pw", "password"),
        ("smtp.passphrase", "open sesame", "password"),
        ("client_secret", "f00b4rb4z", "secret"),
        ("config/credentials", "user:pass", "credentials"),
        ("wandb_api_key", "0123abcd4567", "api-key"),
        ("apiKey", "0123abcd4567", "api-key"),
        ("private_key", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "private-key"),
        ("aws_secret_access_key", AWS_SECRET, "aws-secret-key"),
        ("storage.account_key", "abcdefgh", "account-key"),
        ("hf_token", "hf_AbCdEfGhIjKlMnOpQrStUv12", "token"),
        ("access_token", "ya29a0AfH6SMBx1234567890", "token"),
        ("api_key", GITHUB, "github-token"),  # the value's own kind wins
    ],
)
def test_credential_key_names(key: str, value: str, kind: str) -> None:
    assert secrets.detect(key, value) == kind


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("password_min_length", "12"),
        ("min_password_length", "12"),
        ("password", "12345"),  # a number: sizes and seeds, not passwords
        ("password", "none"),
        ("password", "***"),
        ("password", "<your password>"),
        ("password", "${DB_PASSWORD}"),
        ("password", "$DB_PASSWORD"),
        ("secret", "[REDACTED:password]"),
        ("use_password", "True"),
        ("credentials", "/etc/app/credentials.json"),
        ("credentials", "~/.aws/credentials"),
        ("secret", "env:MY_SECRET"),
        ("api_key", "abc"),  # too short to be worth guarding
        ("pad_token", "<pad>"),
        ("eos_token", "</s>"),
        ("cls_token", "[CLS]"),
        ("tokenizer.unk_token", "<|endoftext|>"),
        ("max_tokens", "512"),
        ("token", "a plain sentence about tokens"),
        ("token", "lowercaseonlylongtoken"),
        ("pad_token_id", "0"),
        ("primary_key", "run_id"),
        ("sort_key", "created_at"),
        ("secret_sauce_version", "v3"),
        ("learning_rate", "0.01"),
    ],
)
def test_ordinary_params_pass(key: str, value: str) -> None:
    assert secrets.detect(key, value) is None


def test_a_key_that_is_a_credential() -> None:
    assert secrets.detect(GITHUB, "x") is None  # the value is fine; the key is checked apart
    with pytest.raises(InvalidParameterValue) as err:
        secrets.check_key(GITHUB, "param key")
    assert "github-token" in err.value.message
    assert GITHUB not in err.value.message


def test_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAIRN_SECRET_GUARD", raising=False)
    assert secrets.mode() == "refuse"
    for value in ("redact", "OFF", " refuse "):
        monkeypatch.setenv("CAIRN_SECRET_GUARD", value)
        assert secrets.mode() == value.strip().lower()
    monkeypatch.setenv("CAIRN_SECRET_GUARD", "of")  # a typo must not switch the guard off
    assert secrets.mode() == "refuse"


def _refused(call: Any, *mentions: str, secret: str) -> str:
    with pytest.raises(InvalidParameterValue) as err:
        call()
    message = err.value.message
    for text in mentions:
        assert text in message
    _assert_absent(secret, message)
    return message


def _assert_absent(secret: str, text: str) -> None:
    """No part of the secret (any 8 characters of it) appears in `text`."""
    for i in range(0, max(1, len(secret) - 8)):
        assert secret[i : i + 8] not in text, f"{secret[i : i + 8]!r} leaked"


def test_refuse_params_and_tags(sqlite_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAIRN_SECRET_GUARD", raising=False)
    store = sqlite_store
    run_id = store.create_run("0").info.run_id
    _refused(
        lambda: store.log_param(run_id, Param("db_uri", URL_WITH_PASSWORD)),
        "Param 'db_uri'",
        "url-password",
        "CAIRN_SECRET_GUARD",
        secret=URL_WITH_PASSWORD,
    )
    _refused(
        lambda: store.set_tag(run_id, RunTag("note", f"key is {AWS_ID}")),
        "Tag 'note'",
        "aws-access-key-id",
        secret=AWS_ID,
    )
    _refused(
        lambda: store.set_tag(run_id, RunTag("mlflow.runName", GITHUB)),
        "github-token",
        secret=GITHUB,
    )
    _refused(
        lambda: store.create_run("0", tags=[RunTag("auth", JWT)]), "Tag 'auth'", "jwt", secret=JWT
    )
    _refused(lambda: store.create_run("0", run_name=GITHUB), "github-token", secret=GITHUB)
    _refused(lambda: store.update_run_info(run_id, run_name=GITHUB), "github-token", secret=GITHUB)
    _refused(lambda: store.log_param(run_id, Param(GITHUB, "1")), "github-token", secret=GITHUB)
    run = store.get_run(run_id)
    assert run.data.params == {}
    assert set(run.data.tags) == {"mlflow.runName"}
    assert len(store.search_runs(["0"])) == 1  # the refused create_run calls made nothing


def test_a_refused_batch_writes_nothing(store: Any) -> None:
    run_id = store.create_run("0").info.run_id
    _refused(
        lambda: store.log_batch(
            run_id,
            metrics=[Metric("loss", 0.5, 1, 0)],
            params=[Param("lr", "0.1"), Param("aws_secret_access_key", AWS_SECRET)],
            tags=[RunTag("team", "vision")],
        ),
        "aws-secret-key",
        secret=AWS_SECRET,
    )
    run = store.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {}
    assert "team" not in run.data.tags


def test_redact(sqlite_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_SECRET_GUARD", "redact")
    store = sqlite_store
    run_id = store.create_run("0", tags=[RunTag("token", GITHUB)]).info.run_id
    store.log_batch(
        run_id,
        params=[Param("lr", "0.1"), Param("db_uri", URL_WITH_PASSWORD)],
        tags=[RunTag("mlflow.source.git.repoURL", "https://ci:" + "glpat-" + "a" * 20 + "@x/y")],
    )
    store.log_param(run_id, Param("db_uri", URL_WITH_PASSWORD))  # the same value again: no-op
    run = store.get_run(run_id)
    assert run.data.params == {"lr": "0.1", "db_uri": "[REDACTED:url-password]"}
    assert run.data.tags["token"] == "[REDACTED:github-token]"
    assert run.data.tags["mlflow.source.git.repoURL"] == "[REDACTED:url-password]"
    store.update_run_info(run_id, run_name=GITHUB)
    run = store.get_run(run_id)
    assert run.info.run_name == run.data.tags["mlflow.runName"] == "[REDACTED:github-token]"
    with pytest.raises(InvalidParameterValue):  # a key cannot be redacted
        store.log_param(run_id, Param(AWS_ID, "1"))


def test_off(sqlite_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_SECRET_GUARD", "off")
    store = sqlite_store
    run_id = store.create_run("0").info.run_id
    store.log_param(run_id, Param("db_uri", URL_WITH_PASSWORD))
    assert store.get_run(run_id).data.params == {"db_uri": URL_WITH_PASSWORD}


def test_experiment_registry_and_logged_model_tags(
    sqlite_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAIRN_SECRET_GUARD", raising=False)
    store = sqlite_store
    registry = SqlRegistryStore(store)
    _refused(
        lambda: store.create_experiment("e1", tags={"slack": "xoxb-" + "1234567890-abc"}),
        "Experiment tag 'slack'",
        "slack-token",
        secret="1234567890-abc",
    )
    assert store.get_experiment_by_name("e1") is None
    eid = store.create_experiment("e2")
    _refused(
        lambda: store.set_experiment_tag(eid, "mlflow.note.content", f"db: {URL_WITH_PASSWORD}"),
        "url-password",
        secret=URL_WITH_PASSWORD,
    )
    _refused(
        lambda: registry.create_registered_model("m", tags={"password": "hunter22"}),
        "Tag 'password'",
        secret="hunter22",
    )
    registry.create_registered_model("m")
    _refused(lambda: registry.set_registered_model_tag("m", "deploy_key", AWS_ID), secret=AWS_ID)
    _refused(lambda: registry.create_model_version("m", "models:/x", tags={"t": JWT}), secret=JWT)
    _refused(
        lambda: store.create_logged_model(eid, params={"api_key": "0123abcd4567"}),
        "Param 'api_key'",
        "api-key",
        secret="0123abcd4567",
    )
    model = store.create_logged_model(eid)
    _refused(lambda: store.set_logged_model_tags(model.model_id, {"k": GITHUB}), secret=GITHUB)
    _refused(lambda: store.log_logged_model_params(model.model_id, {"k": GITHUB}), secret=GITHUB)
    monkeypatch.setenv("CAIRN_SECRET_GUARD", "redact")
    store.set_experiment_tag(eid, "url", URL_WITH_PASSWORD)
    assert store.get_experiment(eid).tags["url"] == "[REDACTED:url-password]"
    registry.set_registered_model_tag("m", "deploy_key", AWS_ID)
    assert registry.get_registered_model("m").tags == {"deploy_key": "[REDACTED:aws-access-key-id]"}
    store.set_logged_model_tags(model.model_id, {"k": GITHUB})
    assert store.get_logged_model(model.model_id).tags["k"] == "[REDACTED:github-token]"
