"""Policy files: a derivation from a preset or a complete dump, read by `load_policy`."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion_kernel.errors import InvalidRequest
from companion_kernel.validation import (
    PRESETS,
    load_policy,
    policy_option,
    policy_to_toml,
    validate,
)


def _write(tmp_path: Path, text: str, name: str = "team.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestDerivation:
    def test_verbs_add_to_the_preset(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            """
            base = "strict"
            [python]
            allow_modules = ["os", "numpy"]
            allow_builtins = ["open"]
            allow_magics = ["time"]
            [javascript]
            allow_modules = ["fs"]
            [shell]
            allow_commands = ["curl"]
            block_commands = ["rm"]
            """,
        )
        policy = load_policy(path)
        strict = PRESETS["strict"]
        assert policy.name == "team"
        assert policy.python.allowed_modules == strict.python.allowed_modules | {"os", "numpy"}
        assert "os" not in policy.python.blocked_modules
        assert "open" not in policy.python.blocked_builtins
        assert validate("import os\nopen('x')\n%time 1", "python", policy).ok
        assert not validate("import subprocess", "python", policy).ok
        assert validate("require('fs')", "javascript", policy).ok
        assert validate("curl -s example.com", "shell", policy).ok
        assert not validate("rm x", "shell", policy).ok

    def test_fields_replace_and_top_level_settings(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            """
            base = "standard"
            name = "no-arith"
            disabled_rules = ["python.dunder-definition"]
            [shell]
            arithmetic = false
            cd_anywhere = false
            [python]
            block_modules = ["sqlite3"]
            """,
        )
        policy = load_policy(path)
        assert policy.name == "no-arith"
        assert policy.disabled_rules == {"python.dunder-definition"}
        assert not policy.shell.arithmetic and not policy.shell.cd_anywhere
        assert not validate("cd /tmp", "shell", policy).ok
        assert not validate("import sqlite3", "python", policy).ok
        assert validate("import pandas", "python", policy).ok  # the rest of standard holds

    def test_full_dump_round_trips(self, tmp_path: Path) -> None:
        for preset in PRESETS.values():
            path = _write(tmp_path, policy_to_toml(preset), f"{preset.name}.toml")
            assert load_policy(path) == preset


class TestBadFiles:
    @pytest.mark.parametrize(
        ("text", "needle"),
        [
            ('base = "standard"\n[python\n', "not valid TOML"),
            ('base = "paranoid"', "is not a preset"),
            ('base = "standard"\ncolour = "red"', "unknown key 'colour'"),
            ('base = "standard"\n[python]\nallow_module = ["x"]', "[python] unknown key"),
            ('base = "standard"\n[python]\nallow_modules = "numpy"', "must be a list of strings"),
            ('base = "standard"\n[shell]\narithmetic = "maybe"', "[shell] arithmetic"),
            ('base = "standard"\npython = 3', "[python] must be a table"),
            ("enabled = true", "name: Field required"),
            ('name = "x"\n[python]\nallowed_modules = 5', "python.allowed_modules"),
        ],
    )
    def test_errors_name_the_file_and_the_problem(
        self, tmp_path: Path, text: str, needle: str
    ) -> None:
        path = _write(tmp_path, text)
        with pytest.raises(InvalidRequest) as info:
            load_policy(path)
        assert str(info.value).startswith(f"policy file {path}: ")
        assert needle in str(info.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidRequest, match="No such file"):
            load_policy(tmp_path / "absent.toml")


class TestPolicyOption:
    def test_presets_and_files(self, tmp_path: Path) -> None:
        assert policy_option("strict") == "strict"
        path = _write(tmp_path, 'base = "off"')
        assert policy_option(str(path)).enabled is False

    def test_unknown_name_says_what_is_accepted(self) -> None:
        with pytest.raises(InvalidRequest, match=r"preset \(strict, standard, off\) or the path"):
            policy_option("bogus")
