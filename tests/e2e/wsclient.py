"""A browser session without a browser: Streamlit's websocket protocol, as benchmarks/wsload.py and the cold-start
test speak it (rerun requests out; deltas, exceptions and the run's end back)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

CHART_PAGES = (
    "reconstructions",
    "latent_map",
    "denoising",
    "vae",
    "anomalies",
    "reproduce",
)  # every page a class opens


class Student:
    """One browser session's worth of protocol: rerun requests out, deltas and run ends back."""

    def __init__(self, ws, query: str) -> None:
        self.ws, self.query = ws, query
        self.pages: dict[str, str] = {}  # url path -> page script hash, from the navigation message
        self.sliders: dict[str, object] = {}  # widget id -> its Slider proto, from this page's deltas

    async def run(self, *, page_name: str = "", widgets=None, timeout_s: float = 60) -> tuple[float, list[str]]:
        """Ask for a rerun and read until it ends: (milliseconds, exception messages it showed)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = page_name
        state.page_script_hash = self.pages.get(page_name, "")
        if widgets is not None:
            state.widget_states.widgets.append(widgets)
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        errors = await asyncio.wait_for(self._until_finished(), timeout_s)
        return 1000 * (time.perf_counter() - start), errors

    async def _until_finished(self) -> list[str]:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        errors: list[str] = []
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                # plain sliders only: a select_slider's state is its options' indices, not values
                slider = element.slider if element.WhichOneof("type") == "slider" else None
                if slider is not None and not slider.disabled and not slider.options:
                    self.sliders[slider.id] = slider
                elif element.WhichOneof("type") == "exception":
                    errors.append(element.exception.message[:200])
            elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return errors

    def slider_move(self, rng):
        """A WidgetState that moves one slider of the page by one step (None: the page has none)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        if not self.sliders:
            return None
        slider = self.sliders[rng.choice(sorted(self.sliders))]
        value = list(slider.value or slider.default)[:1] or [slider.min]
        step = slider.step or (slider.max - slider.min) / 100
        moved = min(max(value[0] + rng.choice([-1, 1]) * step, slider.min), slider.max)
        state = WidgetState(id=slider.id)
        state.double_array_value.data.append(moved)
        slider.value[:] = [moved]
        return state


@dataclass(frozen=True)
class Visit:
    """One session's first page: which, how long its run took, and the error pages it got."""

    page: str
    ms: float
    errors: tuple[str, ...]


async def cold_class(url: str, sessions: int = 12, dataset: str = "mnist", timeout_s: float = 300) -> list[Visit]:
    """`sessions` students connect to a server nobody has visited yet, then all open a chart page in the same
    instant (each page of CHART_PAGES in turn): what a lecture's first row does when told the address."""
    import websockets

    connected, go = [0], asyncio.Event()

    async def one(index: int) -> Visit:
        page = CHART_PAGES[index % len(CHART_PAGES)]
        uri = url.replace("http://", "ws://") + "/_stcore/stream"
        async with websockets.connect(uri, subprotocols=["streamlit"], max_size=2**26) as ws:
            me = Student(ws, f"dataset={dataset}")
            connected[0] += 1
            if connected[0] == sessions:
                go.set()
            await go.wait()  # the whole row presses Enter together
            try:
                ms, errors = await me.run(page_name=page, timeout_s=timeout_s)
            except (asyncio.TimeoutError, TimeoutError):
                return Visit(page, 1000 * timeout_s, (f"no end of the run after {timeout_s:.0f} s",))
            return Visit(page, ms, tuple(errors))

    return list(await asyncio.gather(*(one(i) for i in range(sessions))))
