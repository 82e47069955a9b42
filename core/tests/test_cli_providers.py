"""`memplane providers`, `memplane doctor`, plugin subcommands and error reporting.

Fake distributions are real ones: a ``*.dist-info`` folder with entry points on
PYTHONPATH, which importlib.metadata discovers like any installed package.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memplane.cli.main import build_parser, main
from memplane.plugins.registry import list_providers


def make_dist(root: Path, name: str, entry_points: str, modules: dict[str, str]) -> Path:
    info = root / f"{name.replace('-', '_')}-9.9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.9.9\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def fake_site(tmp_path: Path) -> Path:
    """A broken embedder (raises on import), a broken hook plugin, and a hook plugin
    adding a `hello` subcommand."""
    site = tmp_path / "site"
    make_dist(
        site, "memplane-brokenprov",
        """
        [memplane.embedders]
        broken_embedder = memplane_fake_broken:NeverLoaded
        [memplane.plugins]
        broken_hook = memplane_fake_broken_hook
        """,
        {
            "memplane_fake_broken": "raise RuntimeError('boom: fake provider import')\n",
            "memplane_fake_broken_hook": "raise ImportError('boom: fake hook import')\n",
        },
    )
    make_dist(
        site, "memplane-hello",
        """
        [memplane.plugins]
        hello = memplane_fake_hello
        """,
        {
            "memplane_fake_hello": """
            from memplane.plugins.hooks import hookimpl

            @hookimpl
            def memplane_cli_commands(subparsers):
                p = subparsers.add_parser("hello", help="say hello (from a plugin)")
                p.add_argument("--name", default="world")
                p.set_defaults(func=lambda args: print(f"hello, {args.name}") or 0)
                subparsers.add_parser("nohandler", help="a plugin bug: no func")
            """,
        },
    )
    return site


def run_cli(args: list[str], *, site: Path | None = None, code: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    environ.pop("MEMPLANE_CONFIG", None)
    if site is not None:
        environ["PYTHONPATH"] = os.pathsep.join([str(site), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "memplane.cli.main"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=environ,
                          timeout=300)


def test_providers_lists_everything_installed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    listed = {(r["kind"], r["name"]) for r in rows}
    expected = {(p.kind, p.name) for p in list_providers()}
    assert expected <= listed
    hashing = next(r for r in rows if (r["kind"], r["name"]) == ("embedders", "hashing"))
    assert hashing["distribution"] == "memplane"
    assert hashing["version"]


def test_providers_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "--kind", "embedders"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "DISTRIBUTION", "VERSION"]
    assert any(line.split()[:3] == ["embedders", "hashing", "memplane"] for line in lines[1:])
    assert all(line.startswith("embedders") for line in lines[1:])


def test_providers_imports_no_provider_module(fake_site: Path) -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from memplane.cli.main import main
        from memplane.plugins.registry import list_providers
        rc = main(sys.argv[1:])
        modules = sorted({p.target.split(":")[0] for p in list_providers()})
        print("@@" + json.dumps({"rc": rc, "imported": [m for m in modules if m in sys.modules]}))
        """
    )
    # hook plugins do load (they may add subcommands); providers must not
    result = run_cli(["providers", "--json"], site=fake_site, code=code)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout[: result.stdout.index("@@")])
    report = json.loads(result.stdout[result.stdout.index("@@") + 2:])
    assert report == {"rc": 0, "imported": []}
    broken = next(r for r in rows if r["name"] == "broken_embedder")
    assert broken == {
        "kind": "embedders", "name": "broken_embedder", "distribution": "memplane-brokenprov",
        "version": "9.9.9", "target": "memplane_fake_broken:NeverLoaded",
    }
    assert any(r["kind"] == "plugins" and r["name"] == "hello" for r in rows)


def test_doctor_reports_broken_plugins_without_crashing(fake_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "memplane.yaml"
    config.write_text("llm: scripted\nembedder: hashing\nvector_store: memory\n")
    result = run_cli(["--config", str(config), "doctor", "--json"], site=fake_site)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    checks = {c["what"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["embedders:broken_embedder"]["ok"] is False
    assert "boom: fake provider import" in checks["embedders:broken_embedder"]["detail"]
    assert checks["plugins:broken_hook"]["ok"] is False
    assert "boom: fake hook import" in checks["plugins:broken_hook"]["detail"]
    assert checks["plugins:hello"]["ok"] is True
    assert checks["embedders:hashing"]["ok"] is True
    assert checks["configured embedders"]["ok"] is True
    assert "dimensions" in checks["configured embedders"]["detail"]


def test_doctor_reports_a_configured_provider_that_is_missing(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "memplane.toml"
    config.write_text('llm = "no_such_llm"\nembedder = "hashing"\nvector_store = "memory"\n')
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "configured llms" in line)
    assert line.startswith("FAIL")
    assert "is installed or known" in line and "memplane-no-such-llm" not in line
    assert "problem(s) found" in out


def _sqlite_store_with_one_memory(tmp_path: Path) -> tuple[Path, Path]:
    """(config file, database) of a sqlite store holding one memory of the hashing embedder."""
    db = tmp_path / "m.db"
    config = tmp_path / "memplane.yaml"
    config.write_text(f"llm: scripted\nembedder: hashing\nvector_store:\n  provider: sqlite\n"
                      f"  config: {{path: '{db}'}}\n")
    assert main(["--config", str(config), "add", "--user", "a", "--no-infer", "a fact"]) == 0
    return config, db


def test_doctor_catches_an_embedder_that_does_not_fit_the_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, db = _sqlite_store_with_one_memory(tmp_path)
    capsys.readouterr()
    main(["--config", str(config), "--json", "doctor"])  # other installed plugins may fail
    checks = {c["what"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["configured vector_stores"]["detail"].startswith("sqlite (opened for 384-dimensional vectors) at ")
    config.write_text(f"llm: scripted\nembedder:\n  provider: hashing\n  config: {{dimension: 64}}\n"
                      f"vector_store:\n  provider: sqlite\n  config: {{path: '{db}'}}\n")
    assert main(["--config", str(config), "--json", "doctor"]) == 1
    checks = {c["what"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["configured vector_stores"]["ok"] is False
    assert "holds 384-dimensional vectors but the embedder produces 64" in checks[
        "configured vector_stores"]["detail"]


def test_doctor_names_an_unreadable_embedder_record_and_the_way_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, db = _sqlite_store_with_one_memory(tmp_path)
    with sqlite3.connect(db) as conn:  # the record edited into nonsense by hand
        assert conn.execute("UPDATE meta SET value = 'garbage' WHERE key LIKE 'info:%'").rowcount
    capsys.readouterr()
    assert main(["--config", str(config), "--json", "doctor"]) == 1
    checks = {c["what"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    detail = checks["store's embedder"]["detail"]
    assert checks["store's embedder"]["ok"] is False
    assert "unreadable embedder record ('garbage')" in detail and "memplane export" in detail
    assert "again, or" not in detail  # not "configure the embedder <garbage> again"


def test_doctor_reports_an_invalid_config_file(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "memplane.yaml"
    config.write_text("llm: scripted\nembeder: hashing\n")  # misspelt key
    assert main(["--config", str(config), "--json", "doctor"]) == 1
    checks = {c["what"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["config"]["ok"] is False
    assert "embeder" in checks["config"]["detail"]


def test_a_hook_plugin_adds_a_subcommand(fake_site: Path) -> None:
    result = run_cli(["hello", "--name", "memplane"], site=fake_site)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello, memplane"


def test_a_plugin_command_without_handler_is_a_clear_error(fake_site: Path) -> None:
    result = run_cli(["nohandler"], site=fake_site)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error: the command 'nohandler' has no handler" in result.stderr


def test_plugin_subcommands_are_skipped_when_autoload_is_off(fake_site: Path) -> None:
    result = run_cli(["hello"], site=fake_site, env={"MEMPLANE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert result.returncode == 2
    assert "invalid choice: 'hello'" in result.stderr


def test_memplane_errors_print_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(["--config", str(tmp_path / "missing.yaml"), "list", "--user", "a"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "does not exist" in lines[0]


def test_missing_scope_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "anything"]) == 2
    err = capsys.readouterr().err
    assert err == "error: memplane search needs a scope: pass --user, --agent or --run (at least one)\n"


def test_empty_scope_id_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--user", ""]) == 2
    assert capsys.readouterr().err == "error: --user, --agent and --run take non-empty ids\n"


def test_bad_json_option_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", "--user", "a", "--metadata", "{not json", "hi"]) == 2
    assert capsys.readouterr().err.startswith("error: --metadata must be JSON")


def test_global_options_work_before_and_after_the_subcommand() -> None:
    parser = build_parser(with_plugins=False)
    before = parser.parse_args(["--user", "u1", "--json", "list"])
    after = parser.parse_args(["list", "--user", "u1", "--json"])
    assert (before.user, before.json) == (after.user, after.json) == ("u1", True)
    # an option given before the subcommand is not reset by the subcommand's parser
    mixed = parser.parse_args(["--agent", "a1", "list", "--run", "r1"])
    assert (mixed.agent, mixed.run, mixed.user) == ("a1", "r1", None)


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("memplane ")


def test_every_subcommand_has_help() -> None:
    parser = build_parser(with_plugins=False)
    for command in ["add", "search", "list", "get", "update", "history", "delete", "restore",
                    "export", "import", "providers", "doctor", "demo"]:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0
