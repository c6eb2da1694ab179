"""The workflow engine runs a second flow defined only here — its own model, states, rules and
relations — with timeline, audit, compare-and-set and idempotency, without touching engine code
(issue 7)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.models import User
from gridgov.core import flow
from gridgov.core.errors import Conflict, Forbidden, Invalid, NotFound
from gridgov.core.models import AuditLog, TimelineBase

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


class Repair(models.Model):
    """A repair request: open → doing → done (→ reopened to doing)."""

    title = models.CharField(max_length=50)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, default="open")
    version = models.PositiveIntegerField(default=1)
    fixed_by = models.CharField(max_length=50, blank=True)

    class Meta:
        app_label = "core"
        db_table = "test_flow_repair"

    def __str__(self) -> str:
        return self.title


class RepairLog(TimelineBase):
    repair = models.ForeignKey(Repair, on_delete=models.CASCADE, related_name="log")

    class Meta:
        app_label = "core"
        db_table = "test_flow_repairlog"

    def __str__(self) -> str:
        return f"{self.repair_id}#{self.seq}"


def owner(obj: Repair, user: Any, rule: flow.Rule, inputs: Mapping[str, Any]) -> flow.Acting | None:
    return flow.Acting() if getattr(user, "pk", None) == obj.owner_id else None


def anyone(
    obj: Repair, user: Any, rule: flow.Rule, inputs: Mapping[str, Any]
) -> flow.Acting | None:
    return flow.Acting()


def on_finish(ctx: flow.Ctx[Repair]) -> None:
    ctx.obj.fixed_by = str(ctx.actor)
    ctx.data["fixed_by"] = ctx.obj.fixed_by


NOTE = flow.Input("note", "text", _("what was done"), required=True)
RULES = {
    r.action: r
    for r in [
        flow.Rule("start", frozenset({"open"}), "doing", frozenset(), "owner", "开始"),
        flow.Rule("finish", frozenset({"doing"}), "done", frozenset(), "owner", "完成", (NOTE,)),
        flow.Rule("reopen", frozenset({"done"}), "doing", frozenset(), "anyone", "重开"),
    ]
}
REPAIRS: flow.Flow[Repair] = flow.Flow(
    name="repair",
    model=Repair,
    timeline=RepairLog,
    subject="repair",
    rules=RULES,
    relations={"owner": owner, "anyone": anyone},
    handlers={"finish": on_finish},
    load=lambda key, user, action: Repair.objects.filter(pk=key).first(),
    load_any=lambda key: Repair.objects.filter(pk=key).first(),
)


TEST_MODELS = (Repair, RepairLog)


def _unregister() -> None:
    """Only this module's tests know these models: elsewhere (deleting a user, say) Django
    must not look for their tables."""
    for model in TEST_MODELS:
        apps.all_models["core"].pop(model._meta.model_name, None)
    apps.clear_cache()


_unregister()


@pytest.fixture(autouse=True)
def tables(db: None) -> Iterator[None]:
    """Register the models and create their tables inside the test's transaction (rolled back
    after it). The SQL is collected, not run by the schema editor, which SQLite refuses inside
    a transaction."""
    for model in TEST_MODELS:
        apps.all_models["core"][model._meta.model_name] = model
    apps.clear_cache()
    editor = connection.schema_editor(collect_sql=True)
    editor.deferred_sql = []
    for model in (Repair, RepairLog):
        editor.create_model(model)
    with connection.cursor() as cur:
        for sql in [*editor.collected_sql, *map(str, editor.deferred_sql)]:
            cur.execute(sql.rstrip(";"))
    yield
    _unregister()


def test_an_action_writes_state_timeline_and_audit_in_one_go() -> None:
    me = UserFactory()
    repair = Repair.objects.create(title="路灯不亮", owner=me)
    done = flow.run(REPAIRS, repair.pk, "start", me).obj
    assert (done.state, done.version) == ("doing", 2)
    row = RepairLog.objects.get(repair=repair)
    assert (row.seq, row.action, row.from_state, row.to_state) == (2, "start", "open", "doing")
    audit = AuditLog.objects.filter(action="repair.start").latest("seq")
    assert audit.object_id == str(repair.pk) and audit.actor_id == me.pk
    finished = flow.run(REPAIRS, repair.pk, "finish", me, {"note": "换了灯泡"}).obj
    assert finished.fixed_by == str(me) and finished.log.latest("seq").note == "换了灯泡"


def test_the_table_and_relations_decide() -> None:
    me, other = UserFactory(), UserFactory()
    repair = Repair.objects.create(title="井盖", owner=me)
    with pytest.raises(Forbidden):
        flow.run(REPAIRS, repair.pk, "start", other)
    with pytest.raises(Conflict):
        flow.run(REPAIRS, repair.pk, "finish", me, {"note": "x"})  # not started yet
    flow.run(REPAIRS, repair.pk, "start", me)
    with pytest.raises(Invalid) as err:
        flow.run(REPAIRS, repair.pk, "finish", me, {"note": "  "})
    assert "note" in err.value.errors
    with pytest.raises(Invalid):
        flow.run(REPAIRS, repair.pk, "start", me, {"colour": "red"})  # not an input it takes
    with pytest.raises(NotFound):
        flow.run(REPAIRS, 999999, "start", me)
    assert Repair.objects.get(pk=repair.pk).version == 2  # nothing half-written


def test_compare_and_set_gives_one_winner() -> None:
    me = UserFactory()
    repair = Repair.objects.create(title="积水", owner=me)
    stale = Repair.objects.get(pk=repair.pk)
    flow.run(REPAIRS, repair, "start", me)
    with pytest.raises(Conflict):
        flow.run(REPAIRS, stale, "start", me)  # loaded before the other write
    with pytest.raises(Conflict):
        flow.run(REPAIRS, repair.pk, "finish", me, {"note": "x", "expected_version": 1})
    assert RepairLog.objects.filter(repair=repair).count() == 1


def test_idempotent_actions_apply_once_and_replay_the_first_answer() -> None:
    me = UserFactory()
    repair = Repair.objects.create(title="路灯", owner=me)
    flow.run(REPAIRS, repair.pk, "start", me)

    def answer(r: Repair) -> dict[str, Any]:
        return {"state": r.state, "version": r.version}

    def finish(note: str) -> flow.Result[Repair]:
        return flow.run(
            REPAIRS,
            repair.pk,
            "finish",
            me,
            {"note": note},
            idempotency_key="k-12345678",
            answer=answer,
        )

    first = finish("修好了")
    replays = [finish("修好了") for _ in range(3)]
    assert not first.replayed and all(r.replayed for r in replays)
    assert all(r.answer == first.answer == {"state": "done", "version": 3} for r in replays)
    assert RepairLog.objects.filter(repair=repair, action="finish").count() == 1
    with pytest.raises(Conflict):
        finish("另一件事")


def test_what_may_i_do_comes_from_the_same_checks() -> None:
    me, other = UserFactory(), UserFactory()
    repair = Repair.objects.create(title="树倒了", owner=me)
    assert [a["action"] for a in flow.allowed(REPAIRS, repair, me)] == ["start"]
    assert flow.allowed(REPAIRS, repair, other) == []
    repair = flow.run(REPAIRS, repair.pk, "start", me).obj
    (finish,) = flow.allowed(REPAIRS, repair, me)
    assert finish["label"] == "完成" and finish["inputs"][0]["required"] is True


def test_system_actions_are_not_for_people() -> None:
    rules = {
        **RULES,
        "sweep": flow.Rule(
            "sweep", frozenset({"open"}), "done", frozenset(), "anyone", "清理", by=flow.SYSTEM
        ),
    }
    system_flow = flow.Flow(**{**REPAIRS.__dict__, "rules": rules})
    me = UserFactory()
    repair = Repair.objects.create(title="x", owner=me)
    with pytest.raises(Forbidden):
        flow.run(system_flow, repair.pk, "sweep", me)
    assert flow.run(system_flow, repair.pk, "sweep", system=True).obj.state == "done"
    assert RepairLog.objects.get(repair=repair).actor_label == "system"
    assert [
        a["action"]
        for a in flow.allowed(system_flow, Repair.objects.create(title="y", owner=me), me)
    ] == ["start"]
