// One source's page: live annotated frames over a WebSocket, the object list, prompting by mouse, the
// re-identification gallery (split, merge), the event log, start / pause / stop, the detector's classes and the
// downloads.
"use strict";

const SOURCE = decodeURIComponent(location.pathname.split("/").pop());
const BASE = "/api/sources/" + encodeURIComponent(SOURCE);
const MAX_EVENTS = 300;
const DRAG_PIXELS = 6; // a press that moves less than this (on screen) is a click

const canvas = document.getElementById("frame");
const context = canvas.getContext("2d");
let meta = null;       // the latest frame message
let bitmap = null;     // and its image
let hovered = null;    // object id under the mouse (canvas or list)
let selected = null;   // {id, points: [[x, y]], labels: [1|0], box} being prompted
let press = null;      // {x, y, screenX, screenY} while the mouse button is down
let drag = null;       // [x1, y1, x2, y2] while dragging a box
const received = [];   // arrival times of recent frames, for the page's own frame rate
let lastFrameAt = 0;

// ------------------------------------------------------------------------------------------------ the stream
function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + withToken(BASE + "/stream"));
  socket.binaryType = "blob";
  let pending = null; // frame message waiting for its JPEG
  socket.onopen = () => setConnection("");
  socket.onclose = () => {
    setConnection("connection to the console lost; retrying");
    setTimeout(connect, 2000);
  };
  socket.onmessage = async (event) => {
    if (typeof event.data !== "string") {
      const message = pending;
      pending = null;
      if (message) showFrame(message, await createImageBitmap(event.data));
      return;
    }
    const message = JSON.parse(event.data);
    if (message.type === "frame") pending = message;
    else showStatus(message);
    addEvents(message.events || []);
  };
}

function setConnection(text) {
  document.getElementById("connection").textContent = text;
}

function showStatus(message) {
  document.getElementById("name").textContent = message.source;
  document.title = "autotrack: " + message.source;
  const state = document.getElementById("state");
  state.textContent = message.state;
  state.className = "state state-" + message.state;
  const error = document.getElementById("error");
  error.hidden = !message.error;
  error.textContent = message.error || "";
  document.getElementById("pause").disabled = message.state !== "running";
  document.getElementById("stop").disabled = !["starting", "running", "paused"].includes(message.state);
  document.getElementById("start").disabled = ["starting", "running"].includes(message.state);
  document.getElementById("detector-classes").hidden = !message.detector; // no detector: no classes to change
  refreshFiles();
}

function showFrame(message, image) {
  if (meta && message.frame < meta.frame) return; // decoded after a newer frame
  meta = message;
  bitmap = image;
  lastFrameAt = performance.now();
  received.push(lastFrameAt);
  while (received.length && received[0] < lastFrameAt - 3000) received.shift();
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  showObjects(message.objects);
  showStats();
  draw();
}

function showStats() {
  if (!meta) return;
  const s = meta.stats;
  const pageFps = received.length > 1 ? (received.length - 1) * 1000 / (received.at(-1) - received[0]) : 0;
  const parts = [
    `frame ${meta.frame}`,
    `tracker ${number(s.fps, 1)} fps`,
    `input ${number(s.input_fps, 1)} fps`,
    `dropped ${s.dropped}`,
    `latency ${number(s.latency_ms, 0)} ms`,
    `reconnects ${s.reconnects}`,
    `page ${pageFps.toFixed(1)} fps, skipped ${meta.skipped}`,
  ];
  const silent = (performance.now() - lastFrameAt) / 1000;
  const state = document.getElementById("state").textContent;
  if (state === "running" && silent > 2) parts.push(`no frame for ${silent.toFixed(0)} s (stream lost? reconnecting)`);
  const stats = document.getElementById("stats");
  stats.textContent = parts.join(" · ");
  stats.classList.toggle("stalled", state === "running" && silent > 2);
}

// ------------------------------------------------------------------------------------------------ drawing
function toCanvas(value) {
  return value * canvas.width / meta.width;
}

function draw() {
  if (!bitmap) return;
  context.drawImage(bitmap, 0, 0);
  for (const object of meta.objects) {
    if (object.id === hovered || (selected && object.id === selected.id)) outline(object, object.id === hovered);
  }
  if (selected) {
    selected.points.forEach(([x, y], i) => {
      context.beginPath();
      context.arc(toCanvas(x), toCanvas(y), 5, 0, 2 * Math.PI);
      context.fillStyle = selected.labels[i] ? "#2ecc71" : "#e74c3c";
      context.fill();
      context.strokeStyle = "white";
      context.stroke();
    });
  }
  if (drag) {
    context.setLineDash([6, 4]);
    context.strokeStyle = "white";
    context.lineWidth = 2;
    context.strokeRect(toCanvas(drag[0]), toCanvas(drag[1]), toCanvas(drag[2] - drag[0]), toCanvas(drag[3] - drag[1]));
    context.setLineDash([]);
  }
}

function outline(object, filled) {
  context.beginPath();
  for (const polygon of object.outline) {
    polygon.forEach(([x, y], i) => (i ? context.lineTo : context.moveTo).call(context, toCanvas(x), toCanvas(y)));
    context.closePath();
  }
  if (filled) {
    context.fillStyle = "rgba(255, 255, 255, 0.35)";
    context.fill();
  }
  context.lineWidth = 3;
  context.strokeStyle = filled ? "white" : "#f1c40f";
  context.stroke();
}

// ------------------------------------------------------------------------------------------------ objects
const tbody = document.querySelector("#objects tbody");
const rowsById = new Map(); // rows are updated in place, so a click on a button is never lost to a new frame

function showObjects(objects) {
  const ids = new Set(objects.map((object) => object.id));
  for (const [id, row] of rowsById) {
    if (!ids.has(id)) { row.remove(); rowsById.delete(id); }
  }
  objects.forEach((object, index) => {
    const row = rowsById.get(object.id) || newRow(object.id);
    const cells = ["#" + object.id, object.class || "–", object.status, number(object.affinity),
                   number(object.occurrence), number(object.motion), String(object.age)];
    cells.forEach((value, i) => { if (row.cells[i].textContent !== value) row.cells[i].textContent = value; });
    row.className = "status-" + object.status;
    row.classList.toggle("hovered", object.id === hovered);
    row.classList.toggle("selected", selected !== null && object.id === selected.id);
    row.querySelectorAll("button").forEach((button) => { button.hidden = object.status === "lost"; });
    if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] || null);
  });
}

function newRow(id) {
  const row = element("tr", { "data-id": id }, ...Array.from({ length: 7 }, () => element("td")),
    element("td", {},
      element("button", { type: "button", class: "reprompt", onclick: () => select(id) }, "re-prompt"),
      element("button", { type: "button", class: "remove", onclick: () => removeObject(id) }, "remove")));
  rowsById.set(id, row);
  return row;
}

tbody.addEventListener("mouseover", (event) => {
  const row = event.target.closest("tr");
  setHovered(row ? Number(row.dataset.id) : null);
});
tbody.addEventListener("mouseleave", () => setHovered(null));

function setHovered(id) {
  if (id === hovered) return;
  hovered = id;
  for (const row of tbody.rows) row.classList.toggle("hovered", Number(row.dataset.id) === id);
  draw();
}

// Select an object for prompting (with the prompt it already has), or none.
function select(id, prompted = null) {
  selected = id === null ? null : { points: [], labels: [], box: null, ...prompted, id };
  document.getElementById("selection").textContent = id === null ? "" :
    `Object #${id} selected: click or drag to re-prompt it (shift-click: negative point), Esc when done.`;
  if (meta) showObjects(meta.objects);
  draw();
}

async function removeObject(id) {
  if (selected && selected.id === id) select(null);
  try {
    await api("DELETE", `${BASE}/objects/${id}`);
  } catch (error) {
    setConnection(error.message);
  }
}

// ------------------------------------------------------------------------------------------------ prompting
function framePoint(event) {
  return [event.offsetX * meta.width / canvas.clientWidth, event.offsetY * meta.height / canvas.clientHeight];
}

function objectAt([x, y]) {
  const under = meta.objects.filter((o) => o.status === "tracked" &&
    x >= o.box[0] && x <= o.box[2] && y >= o.box[1] && y <= o.box[3]);
  under.sort((a, b) => (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) - (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]));
  return under.length ? under[0].id : null;
}

canvas.addEventListener("mousedown", (event) => {
  if (!meta || event.button !== 0) return;
  const [x, y] = framePoint(event);
  press = { x, y, screenX: event.offsetX, screenY: event.offsetY };
});

canvas.addEventListener("mousemove", (event) => {
  if (!meta) return;
  const [x, y] = framePoint(event);
  if (press && Math.hypot(event.offsetX - press.screenX, event.offsetY - press.screenY) >= DRAG_PIXELS) {
    drag = [Math.min(press.x, x), Math.min(press.y, y), Math.max(press.x, x), Math.max(press.y, y)];
    draw();
  } else if (!press) {
    setHovered(objectAt([x, y]));
  }
});

canvas.addEventListener("mouseup", (event) => {
  if (!press) return;
  const box = drag;
  press = drag = null;
  if (box) {
    prompt({ box });
  } else {
    prompt({ point: framePoint(event), label: event.shiftKey ? 0 : 1 });
  }
});

canvas.addEventListener("mouseleave", () => {
  press = drag = null;
  setHovered(null);
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") select(null);
});

// A click or a box: a new object, or more prompting of the selected one (all its clicks are sent together).
async function prompt({ box = null, point = null, label = 1 }) {
  if (!selected && label === 0) {
    setConnection("shift-click adds a negative point to the selected object: select one first");
    return;
  }
  const target = selected ? { ...selected, points: [...selected.points], labels: [...selected.labels] }
                          : { id: null, points: [], labels: [], box: null };
  if (box) target.box = box;
  if (point) {
    target.points.push(point);
    target.labels.push(label);
  }
  const body = { id: target.id, box: target.box };
  if (target.points.length) {
    body.points = target.points;
    body.labels = target.labels;
  }
  try {
    const answer = await api("POST", BASE + "/objects", body);
    select(answer.id, target);
    setConnection("");
  } catch (error) {
    setConnection(error.message);
    draw();
  }
}

// ------------------------------------------------------------------------------------------------ gallery
const cards = new Map(); // gallery cards are updated in place, so an ID being typed into a merge field stays

async function refreshGallery() {
  let entries;
  try {
    entries = await api("GET", BASE + "/gallery");
  } catch (error) {
    return; // the source is gone or the console restarts: the next refresh tells
  }
  document.getElementById("reid").hidden = entries.length === 0;
  const ids = new Set(entries.map((entry) => entry.id));
  for (const [id, card] of cards) {
    if (!ids.has(id)) { card.remove(); cards.delete(id); }
  }
  const list = document.getElementById("gallery");
  entries.forEach((entry, index) => {
    const card = cards.get(entry.id) || newCard(entry.id);
    const image = card.querySelector("img");
    if (entry.thumbnail && image.dataset.seen !== String(entry.last_seen)) {
      image.dataset.seen = String(entry.last_seen);
      image.src = withToken(`${BASE}/gallery/${entry.id}.jpg?seen=${entry.last_seen}`);
    }
    card.querySelector(".label").textContent = `#${entry.id} ${entry.class}`;
    card.querySelector(".line").textContent = `${entry.status}, seen ${entry.seconds_ago.toFixed(0)} s ago`;
    card.className = "card-" + entry.status;
    card.querySelector(".split").hidden = !entry.revived || entry.status === "retired";
    card.querySelector(".merge").hidden = entry.status === "tracked";
    if (list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
  });
}

function newCard(id) {
  const other = element("input", { type: "number", min: 1, placeholder: "live #", title: "the live object's ID" });
  const card = element("div", { "data-id": id },
    element("img", { alt: "#" + id }), element("div", { class: "label" }), element("div", { class: "line" }),
    element("button", { type: "button", class: "split", onclick: () => relabel("POST", `${BASE}/objects/${id}/split`),
                        title: "a wrong revival: the object takes a new ID" }, "split"),
    element("form", { class: "merge", onsubmit: (event) => {
      event.preventDefault();
      relabel("POST", BASE + "/merge", { keep: id, merge: Number(other.value) });
    } }, other, element("button", { title: `the live object is #${id}` }, "merge")));
  cards.set(id, card);
  return card;
}

async function relabel(method, path, body) {
  const message = document.getElementById("gallery-message");
  try {
    const answer = await api(method, path, body);
    message.textContent = `from the next frame on: #${answer.id}`;
  } catch (error) {
    message.textContent = error.message;
  }
}

// ------------------------------------------------------------------------------------------------ the rest
function addEvents(events) {
  const list = document.getElementById("events");
  for (const event of events) {
    const frame = event.frame === null ? "" : `frame ${event.frame}`;
    const object = event.id === null ? "" : ` #${event.id}`;
    list.prepend(element("li", { class: "event-" + event.kind },
      element("span", { class: "frame" }, frame), " ", element("b", {}, event.kind + object),
      event.reason ? " – " + event.reason : ""));
  }
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

async function refreshFiles() {
  try {
    const files = await api("GET", BASE + "/files");
    document.getElementById("files").replaceChildren(...files.map((file) => element("li", {},
      element("a", { href: withToken(`${BASE}/files/${file.path}`), download: "" }, file.path),
      ` (${(file.size / 1024).toFixed(1)} KiB)`)));
  } catch (error) {
    setConnection(error.message);
  }
}

for (const action of ["start", "pause", "stop"]) {
  document.getElementById(action).addEventListener("click", async () => {
    try {
      showStatus(await api("POST", `${BASE}/${action}`));
    } catch (error) {
      setConnection(error.message);
    }
  });
}

document.getElementById("classes").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("classes-input").value;
  const classes = text.split(",").map((c) => c.trim()).filter(Boolean);
  const message = document.getElementById("classes-message");
  try {
    await api("PUT", BASE + "/classes", { classes: classes.length ? classes : null });
    message.textContent = classes.length ? "following " + classes.join(", ") : "following every class";
  } catch (error) {
    message.textContent = error.message;
  }
});

document.getElementById("home").href = withToken("/");
connect();
setInterval(showStats, 1000);
setInterval(refreshFiles, 5000);
refreshGallery();
setInterval(refreshGallery, 2000);
