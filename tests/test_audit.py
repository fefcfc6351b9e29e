"""The supply-chain audit (.ci/audit): it passes only when pip-audit really judged every pinned package.

A stand-in pip-audit (`PIP_AUDIT`) writes the JSON report the real one would, so every outcome is tested
without the network: pip-audit itself exits 0 ("No known vulnerabilities found") even when it had no
advisory data for any package, which the audit used to report as success.
"""

from __future__ import annotations

import json
import os
import subprocess

from conftest import REPO

AUDIT = REPO / ".ci" / "audit"


def fake_pip_audit(tmp_path, report: dict | None, stderr: str = "", code: int = 0):
    """An executable that behaves like `pip-audit -f json -o FILE`: writes `report` (if any) and exits `code`."""
    script = tmp_path / "pip-audit"
    payload = json.dumps(report) if report is not None else ""
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import sys\n"
        "out = sys.argv[sys.argv.index('-o') + 1]\n"
        f"payload = {payload!r}\n"
        "if payload:\n"
        "    open(out, 'w').write(payload)\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({code})\n"
    )
    script.chmod(0o755)
    return script


def audit(tmp_path, report: dict | None, stderr: str = "", code: int = 0, **env) -> subprocess.CompletedProcess:
    tool = fake_pip_audit(tmp_path, report, stderr, code)
    return subprocess.run(
        [str(AUDIT)], capture_output=True, text=True, cwd=REPO, timeout=120, env={**os.environ, "PIP_AUDIT": str(tool), **env}
    )


def skipped(name: str) -> dict:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} (1.0)"}


def audited(name: str, vulns=()) -> dict:
    return {"name": name, "version": "1.0", "vulns": [{"id": v} for v in vulns]}


def test_an_audit_without_advisory_data_fails_saying_it_could_not_judge(tmp_path):
    result = audit(tmp_path, {"dependencies": [skipped("torch"), skipped("faiss-cpu")]})
    assert result.returncode == 2, result.stdout  # was 0: "success" with nothing audited
    assert "COULD NOT JUDGE" in result.stdout and "2 of 2 packages were not audited" in result.stdout


def test_an_audit_that_judged_only_some_packages_fails_too(tmp_path):
    result = audit(tmp_path, {"dependencies": [audited("numpy"), skipped("torch")]})
    assert result.returncode == 2 and "1 of 2 packages were not audited" in result.stdout and "torch" in result.stdout


def test_an_unreachable_advisory_service_fails_saying_it_could_not_judge(tmp_path):
    result = audit(tmp_path, None, stderr="ConnectionError: pypi.org unreachable\n", code=1)
    assert result.returncode == 2
    assert "COULD NOT JUDGE" in result.stdout and "pypi.org unreachable" in result.stdout and "nothing was audited" in result.stdout


def test_an_empty_report_is_no_pass(tmp_path):
    result = audit(tmp_path, {"dependencies": []})
    assert result.returncode == 2 and "COULD NOT JUDGE" in result.stdout


def test_a_known_vulnerability_fails(tmp_path):
    result = audit(tmp_path, {"dependencies": [audited("numpy"), audited("pillow", ["PYSEC-2026-1"])]})
    assert result.returncode == 1 and "pillow 1.0: PYSEC-2026-1" in result.stdout


def test_a_full_audit_without_findings_passes(tmp_path):
    result = audit(tmp_path, {"dependencies": [audited("numpy"), audited("torch")]})
    assert result.returncode == 0, result.stdout
    assert "2 audited" in result.stdout and "every pinned package was audited" in result.stdout


def test_a_machine_without_advisory_data_can_pass_only_when_it_says_so(tmp_path):
    result = audit(tmp_path, {"dependencies": [skipped("torch")]}, AUDIT_ALLOW_UNJUDGED="1")
    assert result.returncode == 0 and "COULD NOT JUDGE" in result.stdout and "passing without an audit" in result.stdout
