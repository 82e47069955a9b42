"""Scope isolation on every read and write path, including the less common ones
(``history``, ``get_vectors``, ``include_deleted``/``include_expired`` reads)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from memplane.models import MemoryRecord, Scope, utcnow
from memplane.providers.base import VectorStore
from memplane_conformance.data import add_change, basis, record, soft_delete_change
from memplane_conformance.store_common import ids_of

#: scope ids one edit apart (case, prefix, wildcard, accent, spacing, quoting,
#: escaping): a store that compares anything but exact strings joins two of them.
NEAR_MISSES: tuple[str, ...] = (
    "u", "U", "u1", "u%", "%", "u_", "_", "\u00fc", "u\u0308", "u ", " u", "u'", "'u'", "u''",
    '"u"', "u\\", "u\\'", "u*", "*", "u\u200b",
)
_FLAGS = ((False, False), (True, False), (False, True), (True, True))


def _near_miss_records() -> list[MemoryRecord]:
    """Per near-miss user id: a live, a soft-deleted and an expired record."""
    out = []
    for i, value in enumerate(NEAR_MISSES):
        scope = Scope(user_id=value)
        out.append(record(f"secret live {i}", scope, minutes=3 * i))
        out.append(record(f"secret gone {i}", scope, minutes=3 * i + 1))
        out.append(record(f"secret old {i}", scope, minutes=3 * i + 2,
                          expires_at=utcnow() - timedelta(seconds=5)))
    return out


class StoreScopeTests:
    """Mixed into :class:`~memplane_conformance.VectorStoreContract`."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_near_miss_scopes_stay_apart_on_every_read(self, store: VectorStore) -> None:
        """Scope ids one edit apart (``u`` / ``u'`` / ``'u'`` / ``U`` / ``u%`` ...) never
        see each other's records in any read, with or without ``include_deleted`` and
        ``include_expired``, nor in ``history``, ``get_vectors`` or ``keyword_search``.

        Troubleshooting: compare scope ids byte for byte, bound as parameters: no
        stripping of quotes or spaces, no case folding, no unicode normalisation, no
        LIKE. Apply the scope on every code path, including the ``include_*`` branches.
        """
        recs = _near_miss_records()
        store.apply([add_change(r, basis(i % 3)) for i, r in enumerate(recs)])
        store.apply([soft_delete_change(r) for r in recs if r.text.startswith("secret gone")])
        all_ids = [r.id for r in recs]
        for value in NEAR_MISSES:
            scope = Scope(user_id=value)
            mine = [r for r in recs if r.scope.user_id == value]
            label = repr(value)
            for deleted, expired in _FLAGS:
                want = sorted(r.id for r in mine if r.text.startswith("secret live")
                              or (deleted and "gone" in r.text) or (expired and "old" in r.text))
                flags: dict[str, Any] = {"include_deleted": deleted, "include_expired": expired}
                got = sorted(ids_of(store.list_records(scope, limit=100, **flags).records))
                assert got == want, f"list_records {label} {flags}"
                assert store.count(scope, **flags) == len(want), f"count {label} {flags}"
                hits = sorted(ids_of(store.search(basis(0), scope, limit=100, **flags)))
                assert hits == want, f"search {label} {flags}"
                if store.has("keyword_search"):
                    found = ids_of(store.keyword_search("secret", scope, limit=100, **flags))
                    assert set(found) <= set(want), f"keyword_search {label} {flags}"
            got = sorted(ids_of(store.get(all_ids, scope)))
            assert got == sorted(r.id for r in mine), f"get {label}"
            live = sorted(r.id for r in mine if "gone" not in r.text)
            assert sorted(ids_of(store.get(all_ids, scope, include_deleted=False))) == live, label
            if store.has("vector_read"):
                assert sorted(store.get_vectors(all_ids, scope)) == sorted(r.id for r in mine), (
                    f"get_vectors {label}")
            for other in recs[::3]:
                if other.scope.user_id != value:
                    assert store.history(other.id, scope) == [], (
                        f"history of {other.scope.user_id!r}'s memory read through {label}")

    def test_writes_through_a_near_miss_scope_touch_nothing(self, store: VectorStore) -> None:
        """``delete`` through a scope one edit away from the owner's removes nothing.

        Troubleshooting: put the exact scope condition in the delete statement itself.
        """
        recs = _near_miss_records()[::3]
        store.apply([add_change(r, basis(0)) for r in recs])
        for r in recs:
            others = [o.id for o in recs if o.scope != r.scope]
            assert store.delete(others, r.scope) == 0, f"delete through {r.scope.user_id!r}"
        for r in recs:
            assert ids_of(store.get([r.id], r.scope)) == [r.id]
