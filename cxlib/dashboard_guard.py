"""The connection guard: a dashboard page notices when its kernel is gone and says so."""

from __future__ import annotations

import anywidget
import traitlets

_GUARD_ESM = """
function render({ model, el }) {
  const banner = document.createElement("div");
  banner.className = "cx-connection-lost";
  banner.setAttribute("role", "alert");
  banner.hidden = true;
  const text = document.createElement("span");
  text.textContent = model.get("message") + " ";
  const reload = document.createElement("a");
  reload.href = window.location.href;  // the same view, filters in the link kept
  reload.textContent = "Reload the page";
  banner.append(text, reload);
  document.body.appendChild(banner);
  let asked = null;  // when the oldest unanswered ping was sent
  const lost = () => { banner.hidden = false; document.body.classList.add("cx-stale"); };
  const found = () => {
    asked = null; banner.hidden = true; document.body.classList.remove("cx-stale");
  };
  const ping = () => {
    if (asked === null) asked = Date.now();
    try { model.send({ type: "ping" }); } catch (err) { lost(); }
  };
  model.on("msg:custom", (msg) => { if (msg && msg.type === "pong") found(); });
  const onChange = () => ping();  // every filter change must be answered, after its redraw
  const onVisible = () => { if (!document.hidden) ping(); };
  document.addEventListener("change", onChange, true);
  document.addEventListener("visibilitychange", onVisible);
  const timers = [
    setInterval(ping, model.get("interval_ms")),
    setInterval(() => {
      if (asked !== null && Date.now() - asked > model.get("timeout_ms")) lost();
    }, 250),
  ];
  ping();
  return () => {
    timers.forEach(clearInterval);
    document.removeEventListener("change", onChange, true);
    document.removeEventListener("visibilitychange", onVisible);
    banner.remove();
  };
}
export default { render };
"""

_GUARD_CSS = """
.cx-connection-lost { position: fixed; top: 0; left: 0; right: 0; z-index: 10000;
  background: #a00; color: #fff; padding: 10px 16px; font: 15px sans-serif; }
.cx-connection-lost a { color: #fff; font-weight: bold; text-decoration: underline; }
body.cx-stale .cx-dashboard { opacity: 0.25; filter: grayscale(1); pointer-events: none; }
"""


class ConnectionGuard(anywidget.AnyWidget):
    """Notices when the page's kernel is gone (culled, restarted, network lost) and says so.

    The page pings the kernel on every filter change and every ``interval_ms``; the kernel
    answers after it has applied any change that came before. A ping left unanswered for
    ``timeout_ms`` greys the dashboard out and shows a banner with a reload link, because
    the filters would no longer match the numbers. A late answer lifts it again.
    """

    _esm = _GUARD_ESM
    _css = _GUARD_CSS
    message = traitlets.Unicode(
        "The connection to the dashboard's server was lost, so the numbers below no longer "
        "follow the filters.").tag(sync=True)
    interval_ms = traitlets.Int(10_000).tag(sync=True)
    timeout_ms = traitlets.Int(5_000).tag(sync=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._answer)

    def _answer(self, widget: object, content: object, buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            self.send({"type": "pong"})
