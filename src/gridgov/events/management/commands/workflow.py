from typing import Any

from django.core.management.base import BaseCommand

from gridgov.events.workflow import RULES


def rule_table() -> str:
    """The rule table as Markdown (docs/workflow.md embeds it; a test keeps them equal)."""
    lines = [
        "| action | from | to | roles | relation | reason |",
        "|---|---|---|---|---|---|",
    ]
    for action, r in RULES.items():
        sources = ", ".join(sorted(s.value for s in r.sources))
        target = r.target.value if r.target else "(unchanged)"
        roles = ", ".join(sorted(r.roles)) or "reporter (receipt secret)"
        reason = "required" if r.needs_reason else ""
        lines.append(f"| `{action}` | {sources} | {target} | {roles} | {r.who.value} | {reason} |")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the closed loop's rule table as Markdown."

    def handle(self, *args: Any, **opts: Any) -> None:
        self.stdout.write(rule_table())
