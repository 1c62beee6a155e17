// Landing page: every source as a card with a live thumbnail, its state and counters; a form to add one.
"use strict";

const cards = new Map(); // source id -> {card, thumb, loadedFrame, loading}

function card(source) {
  let entry = cards.get(source.id);
  if (!entry) {
    const thumb = element("img", { class: "thumb", alt: source.source });
    const node = element("a", { class: "card", href: withToken("/sources/" + encodeURIComponent(source.id)),
                                "data-id": source.id },
      thumb, element("div", { class: "name" }), element("div", { class: "line" }), element("div", { class: "error" }));
    entry = { node, thumb, loadedFrame: null, loading: false };
    thumb.onload = thumb.onerror = () => { entry.loading = false; };
    cards.set(source.id, entry);
    document.getElementById("grid").append(node);
  }
  return entry;
}

function show(source) {
  const entry = card(source);
  const stats = source.stats;
  entry.node.querySelector(".name").textContent = source.source + (source.node ? ` · on ${source.node}` : "");
  entry.node.querySelector(".line").replaceChildren(
    element("span", { class: "state state-" + source.state }, source.state),
    stats ? ` ${number(stats.fps, 1)} fps · ${source.objects} objects · dropped ${stats.dropped}` +
            ` · ${number(stats.latency_ms, 0)} ms · reconnects ${stats.reconnects}` : "");
  entry.node.querySelector(".error").textContent = source.error || "";
  // a new thumbnail once the previous one has loaded and the source has a newer frame
  if (source.frame !== null && source.frame !== entry.loadedFrame && !entry.loading) {
    entry.loading = true;
    entry.loadedFrame = source.frame;
    entry.thumb.src = withToken(`/api/sources/${encodeURIComponent(source.id)}/frame.jpg?frame=${source.frame}`);
  }
}

async function refresh() {
  try {
    const sources = await api("GET", "/api/sources");
    const ids = new Set(sources.map((s) => s.id));
    for (const [id, entry] of cards) {
      if (!ids.has(id)) { entry.node.remove(); cards.delete(id); }
    }
    sources.forEach(show);
    document.getElementById("empty").hidden = sources.length > 0;
  } catch (error) {
    document.getElementById("add-message").textContent = "console unreachable: " + error.message;
  }
}

document.getElementById("add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("add-source");
  const message = document.getElementById("add-message");
  try {
    const source = await api("POST", "/api/sources", { source: input.value });
    message.textContent = `added ${source.id}`;
    input.value = "";
    refresh();
  } catch (error) {
    message.textContent = error.message;
  }
});

document.getElementById("api-docs").href = withToken("/docs");
refresh();
setInterval(refresh, 700);
