"""The accessibility check the browser tests share (conftest is not importable from test modules)."""

from __future__ import annotations

from typing import Any

SERIOUS = ("serious", "critical")


def serious_violations(page: Any, script: str) -> list[str]:
    """axe-core's WCAG 2.1 A and AA rules run on the page as it is: each serious or critical violation as
    "rule: the first offending element". The page's context must bypass its CSP, which forbids injected scripts."""
    page.add_script_tag(content=script)
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", tags)
    return [
        f"{violation['id']}: {violation['nodes'][0]['target']}"
        for violation in found["violations"]
        if violation["impact"] in SERIOUS
    ]
