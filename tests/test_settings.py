"""Settings: every AEVIZ_* variable declared once, checked once, and README's table made from the declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aeviz import settings
from aeviz.cli.main import main

REPO = Path(__file__).resolve().parent.parent


def test_readme_table_is_the_declarations():
    text = (REPO / "README.md").read_text()
    shown = text.split("<!-- settings -->\n", 1)[1].split("\n<!-- /settings -->", 1)[0]
    assert shown == settings.table()


def test_every_variable_the_code_names_is_declared_and_only_settings_reads_them():
    declared = {settings.Settings.variable(f) for f in settings.Settings.__dataclass_fields__}
    named, readers = set(), []
    for path in (REPO / "aeviz").rglob("*.py"):
        source = path.read_text()
        named |= set(re.findall(r"\bAEVIZ_[A-Z_]+[A-Z]\b", source))
        if path.name != "settings.py" and re.search(
            r"environ\.get\([\"']AEVIZ_|environ\[[\"']AEVIZ_\w+[\"']\](?!\s*=)", source
        ):
            readers.append(path.name)
    assert named - {"AEVIZ_"} <= declared, sorted(named - declared)
    assert readers == []
    assert len(declared) >= 20  # the walk saw the declarations


def test_values_are_parsed_and_unset_means_the_default(monkeypatch):
    monkeypatch.setenv("AEVIZ_MAX_JOBS", "3")
    monkeypatch.setenv("AEVIZ_WARM_UP", "0")
    monkeypatch.setenv("AEVIZ_TRAIN_FOLDERS", "/a:/b")
    monkeypatch.delenv("AEVIZ_JOB_MAX_S", raising=False)
    now = settings.current()
    assert (now.max_jobs, now.warm_up, now.train_folders) == (3, False, (Path("/a"), Path("/b")))
    assert now.job_max_s == 3600.0


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AEVIZ_MAX_JOBS", "two", "AEVIZ_MAX_JOBS must be a whole number, not 'two'"),
        ("AEVIZ_JOB_MAX_S", "nan", "AEVIZ_JOB_MAX_S must be at least 1"),
        ("AEVIZ_SESSION_MAX_MODELS", "0", "AEVIZ_SESSION_MAX_MODELS must be at least 1"),
        ("AEVIZ_WARM_UP", "maybe", "AEVIZ_WARM_UP must be 1 or 0"),
    ],
)
def test_a_bad_value_is_one_clear_line(monkeypatch, capsys, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(settings.SettingsError, match=re.escape(says)):
        settings.current()
    assert main(["zoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
