"""Configuration mistakes give a clear message naming the file and the fix: SLA policy, warehouse secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.settings import warehouse_url_from_secrets
from queries.errors import SourceError
from queries.sla import DUE_RULE, load_sla_policy


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[rule]\nname = 'a'\ntarget_seconds = 60\n", "`rule` is not a list"),
        ("[[rule]]\ntarget_seconds = 60\npriority = 1\n", "priority is not text"),
        ("[[rule]]\ntarget_seconds = true\n", "target_seconds is True"),
        ("[[rule]]\ntarget_seconds = -5\n", "target_seconds is -5"),
        ("[[rule]]\ntarget_seconds = 60\nqueues = ['x']\n", "unknown key 'queues'"),
        ("[[rule]]\ntarget_seconds = 60\nname = 3\n", "name is not text"),
        ("[[rule]]\ntarget_seconds = 60\n[defaults]\nx = 1\n", "unknown key 'defaults'"),
        ("[[rule]\ntarget_seconds = 60\n", "not valid TOML"),
        ("[[rule]]\nname='L'\ntarget_seconds=6\nmeasure='resolve'\n", "rule 1 ('L') is invalid (measure is 'resolve')"),
        ("[[rule]]\ntarget_seconds=6\n[[rule]]\ntarget_seconds=9\nmeasure=3\n", "rule 2 is invalid (measure is 3)"),
        ("due_measure = 'resolution'\n[[rule]]\ntarget_seconds = 60\n", "due_measure is 'resolution'"),
        (f"[[rule]]\nname = '{DUE_RULE}'\ntarget_seconds = 60\n", "is the name of tickets with a due_at"),
    ],
)
def test_an_invalid_sla_policy_names_the_file_and_the_problem(tmp_path: Path, text: str, says: str):
    path = tmp_path / "sla.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_sla_policy(path)
    assert str(path) in caught.value.problem and says in caught.value.problem
    assert caught.value.fix
    if "measure" in text:  # the fix gives the values allowed
        assert "'first_action'" in caught.value.fix and "'close'" in caught.value.fix


def test_the_sla_policy_file_can_be_set_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "sla.toml"
    path.write_text("[[rule]]\nname = 'All: 1 min'\ntarget_seconds = 60\nqueue = ['a', 'b']\n", encoding="utf-8")
    monkeypatch.setenv("BELLWETHER_SLA_POLICY", str(path))
    policy = load_sla_policy()
    assert policy.file == str(path)
    assert [(r.name, r.target_seconds, r.conditions) for r in policy.rules] == [
        ("All: 1 min", 60.0, (("queue", ("a", "b")),))
    ]


@pytest.mark.parametrize(
    ("section", "url"),
    [
        (
            {"url": "postgresql+psycopg://reader:pw@db.example:5433/ts"},
            "postgresql+psycopg://reader:pw@db.example:5433/ts",
        ),
        (
            {"dialect": "postgresql", "driver": "psycopg", "username": "reader", "host": "db", "database": "ts"},
            "postgresql+psycopg://reader@db/ts",
        ),
        ({"url": "sqlite:///warehouse.db"}, "sqlite:///warehouse.db"),
    ],
)
def test_warehouse_secrets_give_a_url(section: dict, url: str):
    assert warehouse_url_from_secrets(section) == url


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"url": "postgresql://reader:hunter2@db:abc/ts"}, "port is not a number"),
        ({"url": "not a url"}, "not a database URL"),
        ({"url": "nosuchdialect://x"}, "no dialect 'nosuchdialect'"),
        ({"url": 5}, "not a database URL"),
        ({"host": "db"}, "neither url nor dialect"),
        ({"url": "sqlite://", "pasword": "x"}, "unknown keys: pasword"),
        ("postgresql://x", "not a table"),
    ],
)
def test_unusable_warehouse_secrets_are_explained_without_the_password(section, says: str):
    with pytest.raises(SourceError) as caught:
        warehouse_url_from_secrets(section)
    assert says in str(caught.value) and "[connections.warehouse]" in str(caught.value)
    assert "hunter2" not in str(caught.value)
