from typing import Any

from django.core.management.base import BaseCommand

from gridgov.events.workflow import RULES


def rule_table() -> str:
    """The rule table as Markdown (docs/workflow.md embeds it; a test keeps them equal)."""
    lines = [
        "| action | by | from | to | roles | relation | inputs (* required) | clock |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for action, r in RULES.items():
        sources = ", ".join(sorted(r.sources))
        target = r.target or "(unchanged)"
        roles = ", ".join(sorted(r.roles)) or "–"
        inputs = ", ".join(f"{i.name}{'*' if i.required else ''}" for i in r.inputs)
        clock = "keeps" if r.keeps_clock else ""
        cells = [f"`{action}`", r.by, sources, target, roles, r.who, inputs, clock]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the closed loop's rule table as Markdown."

    def handle(self, *args: Any, **opts: Any) -> None:
        self.stdout.write(rule_table())
