from pathlib import Path

from gridgov.ops.management.commands.workflow import rule_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_workflow_doc_carries_the_current_rule_table() -> None:
    text = (DOCS / "workflow.md").read_text(encoding="utf-8")
    embedded = text.split("<!-- rules:start -->\n")[1].split("\n<!-- rules:end -->")[0]
    assert embedded.strip() == rule_table().strip()
