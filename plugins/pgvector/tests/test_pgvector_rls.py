"""Row-level security as a second wall between tenants: the application connects as a
role that does not own the tables, the policies are forced, and every transaction
sets the scope as transaction-local settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from memplane.errors import IdOwnedByAnotherScope, ProviderError
from memplane.models import Change, MemoryRecord, Scope
from memplane_conformance import VectorStoreContract
from memplane_conformance.data import DIM
from memplane_pgvector.store import PgVectorStore
from memplane_pgvector.testing import drop_schema, fresh_schema

APP_ROLE = "memplane_app_test"
APP_PASSWORD = "memplane-app-test"  # only for servers that ask (MEMPLANE_PG_DSN)


@pytest.fixture(scope="session")
def app_role(pg_dsn: str) -> str:
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
            if not exists:
                conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS "
                             f"PASSWORD '{APP_PASSWORD}'")
    except psycopg.Error as exc:
        pytest.skip(f"cannot create a test role on this server: {exc}")
    return APP_ROLE


@pytest.fixture
def make_rls_store(pg_dsn: str, app_role: str) -> Iterator[Callable[..., PgVectorStore]]:
    """Stores in a fresh schema migrated by the owner, used by the application role."""
    made: list[PgVectorStore] = []
    schemas: list[str] = []

    def make(dimension: int = DIM) -> PgVectorStore:
        schema = fresh_schema()
        schemas.append(schema)
        owner = PgVectorStore({"dsn": pg_dsn, "db_schema": schema, "row_level_security": True,
                               "pool_min_size": 0})
        owner.migrate(dimension)
        owner.close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {app_role}")
            conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "
                         f"{schema} TO {app_role}")
        store = PgVectorStore({"dsn": pg_dsn, "user": app_role, "password": APP_PASSWORD,
                               "db_schema": schema, "row_level_security": True,
                               "create_schema": False, "pool_min_size": 0, "pool_max_size": 4})
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    for schema in schemas:
        drop_schema(pg_dsn, schema)


class TestPgVectorUnderRowLevelSecurity(VectorStoreContract):
    """The whole store contract holds with the policies forced on a non-owner role."""

    @pytest.fixture
    def store_factory(self, make_rls_store: Callable[..., PgVectorStore]) -> Callable[..., PgVectorStore]:
        """Takes ``dimension`` (the suite's declared extension point): the owner
        migrates at the size each test opens (the contract-v2 race tests open at
        RACE_DIM), because under row-level security the application role may not
        re-size a store. make_rls_store closes them at teardown."""
        return make_rls_store


def _app_conn(store: PgVectorStore) -> psycopg.Connection:
    return psycopg.connect(store.cfg.conninfo())


def test_the_policy_hides_other_scopes_from_raw_sql(make_rls_store: Callable[..., PgVectorStore]) -> None:
    store = make_rls_store()
    store.open(DIM)
    alice = MemoryRecord(text="alice's secret", scope=Scope(user_id="alice"))
    bob = MemoryRecord(text="bob's secret", scope=Scope(user_id="bob", agent_id="x"))
    store._apply([Change(record=alice, vector=[1.0] + [0.0] * (DIM - 1)),
                  Change(record=bob, vector=[1.0] + [0.0] * (DIM - 1))])
    s = store.cfg.db_schema
    with _app_conn(store) as conn:
        # no scope set: the application role sees nothing at all, even unfiltered
        assert conn.execute(f"SELECT count(*) FROM {s}.memories").fetchone() == (0,)
        assert conn.execute(f"SELECT count(*) FROM {s}.history").fetchone() == (0,)
        conn.execute("SELECT set_config('memplane.user_id', 'bob', true)")
        rows = conn.execute(f"SELECT text FROM {s}.memories").fetchall()
        assert rows == [("bob's secret",)]
        # writing into another scope than the one set is refused by WITH CHECK
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                f"UPDATE {s}.memories SET user_id = 'alice' WHERE text = %s", ["bob's secret"])
    # the store itself still answers per scope, and refuses the other tenant's id
    assert [r.text for r in store._get([alice.id, bob.id], Scope(user_id="alice"))] == ["alice's secret"]
    with pytest.raises(IdOwnedByAnotherScope):
        store._apply([Change(record=MemoryRecord(id=bob.id, text="take over", scope=Scope(user_id="alice")))])


def test_the_owner_is_bound_too_when_forced(make_rls_store: Callable[..., PgVectorStore], pg_dsn: str,
                                            app_role: str) -> None:
    """FORCE ROW LEVEL SECURITY binds the table owner; here a non-superuser owner."""
    store = make_rls_store()
    store.open(DIM)
    store._apply([Change(record=MemoryRecord(text="x", scope=Scope(user_id="alice")),
                         vector=[1.0] + [0.0] * (DIM - 1))])
    s = store.cfg.db_schema
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {s}.memories OWNER TO {app_role}")
    try:
        with _app_conn(store) as conn:
            assert conn.execute(f"SELECT count(*) FROM {s}.memories").fetchone() == (0,)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {s}.memories OWNER TO CURRENT_USER")


def test_without_scope_settings_the_app_role_cannot_write(make_rls_store: Callable[..., PgVectorStore]) -> None:
    store = make_rls_store()
    store.open(DIM)
    unset = PgVectorStore(store.cfg.model_copy(update={"row_level_security": False}))
    try:
        with pytest.raises(ProviderError):
            unset._apply([Change(record=MemoryRecord(text="x", scope=Scope(user_id="alice")),
                                 vector=[1.0] + [0.0] * (DIM - 1))])
    finally:
        unset.close()
