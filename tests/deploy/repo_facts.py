"""Facts the deployment files must agree with, read from the repository itself."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

from services.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def architecture_services() -> set[str]:
    """Service names from the first column of ARCHITECTURE.md's 'Services, what they own' table."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split("## Services, what they own", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return {line.split("|")[1].strip() for line in rows}


def settings_env_names() -> set[str]:
    """Every WHARF_* variable Settings.from_env reads."""
    return set(re.findall(r'"(WHARF_[A-Z0-9_]+)"', inspect.getsource(Settings.from_env)))
