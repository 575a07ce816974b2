"""Shell specifics: what the pre-scan sees, argument checks, positions."""

from __future__ import annotations

import pytest

from companion_kernel.validation import validate


def rules_of(code: str, policy: str = "strict") -> list[str]:
    return [v.rule for v in validate(code, "shell", policy).violations]


class TestPositions:
    def test_line_and_column(self) -> None:
        (v,) = validate("ls\necho ok | curl x", "shell").violations
        assert (v.rule, v.line, v.column, v.snippet) == ("shell.command", 2, 11, "curl")

    def test_rewrites_keep_positions(self) -> None:
        (v,) = validate("[[ -f a ]] && echo $((1 + 2)) && wget x", "shell").violations
        assert (v.line, v.column, v.snippet) == (1, 34, "wget")


class TestPreScan:
    def test_heredoc_bodies_are_skipped_for_quoting(self) -> None:
        assert rules_of("cat <<'EOF'\ndon't \"stop\n$(id)\nEOF\nls") == []
        assert rules_of("cat <<-EOF\n\thello\n\tEOF\ncurl x") == ["shell.command"]

    def test_single_quotes_protect(self) -> None:
        assert rules_of("echo '!! $((x)) ${x@P} [[ $a -eq 1 ]]'") == []

    def test_history_expansion_forms(self) -> None:
        for code in ("echo !-1", 'echo "!!"', "ls !$", "echo !curl"):
            assert rules_of(code) == ["shell.history"], code
        assert rules_of("[ ! -f x ] && echo a != b") == []

    @pytest.mark.parametrize(
        ("code", "initialised"),
        [
            ("echo ${arr[$i]}", "i=0; echo ${arr[$i]}"),
            ("echo ${s:$n:2}", "n=1; echo ${s:$n:2}"),
            ("echo ${!ref}", "ref=HOME; echo ${!ref}"),
            ("(( n++ ))", "n=0\n(( n++ ))"),
            ("[[ -v $name ]]", "name=x; [[ -v $name ]]"),
            ("[[ $n -gt 2 ]]", "n=3; [[ $n -gt 2 ]]"),
            ("echo ${y:-${!x}}", "x=HOME; echo ${y:-${!x}}"),
            ("echo ${y:-$[x]}", None),
        ],
    )
    def test_arithmetic_needs_a_value_set_in_the_cell(
        self, code: str, initialised: str | None
    ) -> None:
        # Bash evaluates the value: x='a[$(id)]' from an earlier cell runs id.
        assert not validate(code, "shell", "strict").ok
        assert not validate(code, "shell", "standard").ok
        if initialised is not None:
            assert not validate(initialised, "shell", "strict").ok
            assert validate(initialised, "shell", "standard").ok, initialised

    @pytest.mark.parametrize(
        "code",
        [
            "declare -i n=1",
            "let n=n+1",
            "n=0; read -r n < f; echo $((n))",
            "n=0; printf -v n '%s' x; echo $((n))",
            "if true; then n=0; fi; echo $((n))",
            "n=0 | cat; echo $((n))",
            "n=$1; echo $((n))",
            "f() { n=0; }; echo $((n))",
            "( n=0 ); echo $((n))",
            "echo $((n)); n=0",
            "for n in a b; do echo $((n)); done",
            "n=0\nfor i in 1; do n=$x; done\necho $((n))",
            "n=x; echo $((n))",
            "echo $(( $1 + 1 ))",
            "n=0; echo ${n:=$x} $((n))",
        ],
    )
    def test_unproven_values_stay_rejected(self, code: str) -> None:
        assert not validate(code, "shell", "standard").ok, code

    def test_literal_parameter_forms(self) -> None:
        assert rules_of("echo ${x} ${#x} ${x:-d} ${x%.txt} ${arr[0]} ${@} ${x: -2} ${!pre*}") == []


class TestArguments:
    @pytest.mark.parametrize(
        "code",
        [
            "sed -ni 's/a/b/p' f",
            "sed --in-place=.bak 's/a/b/' f",
            "sed -f prog.sed f",
            "sed 's/a/b/w /etc/x' f",
            "sed '1e id' f",
            "awk -f prog.awk f",
            "awk '{ print $1 > \"/etc/x\" }' f",
            "awk '{ print | \"sh\" }' f",
            "find . -fprint /etc/x",
            "uniq in.txt /etc/out",
            "mv a ../b",
            "mkdir /opt/x",
            "touch $HOME/x",
            "cp -t /tmp a",
            "date --set=2020-01-01",
            "sort --compress-program=gzip f",
            "cd",
            "cd ~",
        ],
    )
    def test_rejected(self, code: str) -> None:
        assert not validate(code, "shell").ok, code

    @pytest.mark.parametrize(
        "code",
        [
            "sed -n '/error/p' f",
            "sed -e 's/a/b/' -e 's/c/d/g' f",
            "awk -F, '$2 > 3 { print $1 }' f",
            "find . -type f -newer x",
            "uniq -c in.txt",
            "mv a b/",
            "cp a.txt b.txt",
            "sort -o sorted.txt f",
            "date +%s",
            "cd sub",
            "tee -a log.txt < in",
            "rm -- -x",
            "printf -v out '%s' x",
            "read -r a b < f",
            "unset name",
        ],
    )
    def test_accepted(self, code: str) -> None:
        assert validate(code, "shell").ok, validate(code, "shell").summary()

    def test_functions_are_callable_and_checked(self) -> None:
        assert rules_of("f() { ls; }\nf\ng") == ["shell.command"]
        assert rules_of("f() { curl x; }") == ["shell.command"]

    def test_messages_name_the_category(self) -> None:
        (v,) = validate("wget x", "shell").violations
        assert "network tool" in v.message
        (v,) = validate("frobnicate", "shell").violations
        assert "allow-list" in v.message

    def test_unsupported_syntax_is_a_clear_violation(self) -> None:
        (v,) = validate("case $x in a) ls;; esac", "shell").violations
        assert v.rule == "shell.syntax" and "cannot check" in v.message

    def test_long_scripts_are_rejected(self) -> None:
        assert rules_of("ls\n" * 150_000) == ["shell.input"]
