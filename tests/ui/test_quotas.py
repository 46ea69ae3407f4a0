"""The Streamlit internals the upload quotas rely on (aeviz.ui.quotas.streamlit_uploads): an upgrade that renames
one fails here, by name, instead of silently leaving every session's uploads unbounded."""

from __future__ import annotations

import dataclasses

from streamlit.testing.v1 import AppTest

from aeviz.ui import quotas


def test_the_private_streamlit_names_the_quotas_use_still_exist():
    from streamlit import runtime
    from streamlit.runtime import Runtime
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import ScriptRunContext, get_script_run_ctx
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    assert callable(runtime.exists) and callable(runtime.get_instance) and callable(get_script_run_ctx)
    assert {"session_id", "uploaded_file_mgr"} <= {f.name for f in dataclasses.fields(ScriptRunContext)}
    assert isinstance(Runtime.uploaded_file_mgr, property) and callable(Runtime.is_active_session)
    manager = MemoryUploadedFileManager("/upload")
    manager.add_file("s", UploadedFileRec("f1", "a.png", "image/png", b"12345"))
    manager.add_file("s", UploadedFileRec("f2", "b.png", "image/png", b"123"))
    assert isinstance(manager.file_storage, dict) and list(manager.file_storage["s"]) == ["f1", "f2"]
    assert len(manager.file_storage["s"]["f1"].data) == 5
    manager.remove_file("s", "f1")
    assert list(manager.file_storage["s"]) == ["f2"]
    manager.remove_session_files("s")
    assert "s" not in manager.file_storage


def _script():
    import streamlit as st

    from aeviz.ui import quotas

    store = quotas.streamlit_uploads()
    st.session_state["found"] = None if store is None else (store.session_id is not None, type(store.files).__name__)


def test_a_running_script_finds_its_sessions_upload_store():
    at = AppTest.from_function(_script, default_timeout=30)
    at.run()
    assert not at.exception and at.session_state["found"] == (True, "defaultdict")


def test_outside_a_script_or_server_there_is_nothing_to_bound():
    assert quotas.streamlit_uploads() is None and quotas.streamlit_uploads(server=True) is None
    assert quotas.stored_ids() == set()
