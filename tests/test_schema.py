"""The committed SDL is the contract: the code's schema must not drift from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pol.schema import schema

COMMITTED = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_the_code_schema_matches_the_committed_sdl():
    committed = COMMITTED.read_text()

    assert schema.as_str().strip() == committed.strip(), (
        "the schema changed: review the difference, then run `pol schema > schema.graphql`"
    )


def test_pol_schema_prints_the_committed_sdl():
    printed = subprocess.run(
        [sys.executable, "-m", "pol.cli", "schema"], capture_output=True, text=True, check=True
    ).stdout

    assert printed.strip() == COMMITTED.read_text().strip()
