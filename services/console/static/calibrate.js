// The calibration editor: zones, counting lines and ignore regions over the camera's
// people-free picture, in normalised coordinates (0..1, like the config file).
// A plain ES module: no build step. The server validates every save with the config model.

const SVG = "http://www.w3.org/2000/svg";
const KIND_COLOURS = { aisle: "#4bb44b", queue: "#ff8c00", checkout: "#c83cc8", entrance: "#00a0ff", area: "#dcc828" };
const LINE_COLOUR = "#e60000";
const IGNORE_COLOUR = "#8c8f94";
const IN_OFFSET = 0.05; // how far from a new line's middle its inside point goes

const page = JSON.parse(document.getElementById("page-data").textContent);
const layout = JSON.parse(document.getElementById("layout-data").textContent);
for (const kind of ["zones", "lines", "ignore_regions"]) layout[kind] = layout[kind] || [];
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const stage = document.getElementById("stage");
const svg = document.getElementById("overlay");
const img = document.getElementById("background");
const status = document.getElementById("status");
const problemList = document.getElementById("problems");

let tool = "select";
let draft = null; // {kind, points} while drawing
let selected = null; // {kind, index}
let drag = null; // {shape, vertex|null, start:[x,y], original}
let problems = []; // [{shape, message}]

const clamp = (v) => Math.min(1, Math.max(0, v));
const round = (v) => Math.round(v * 10000) / 10000;

function toNorm(event) {
  const rect = svg.getBoundingClientRect();
  return [round(clamp((event.clientX - rect.left) / rect.width)), round(clamp((event.clientY - rect.top) / rect.height))];
}

function toPx([x, y]) {
  const rect = svg.getBoundingClientRect();
  return [x * rect.width, y * rect.height];
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  (parent || svg).appendChild(node);
  return node;
}

function pointsOf(kind, shape) {
  if (kind === "zones") return shape.polygon;
  if (kind === "lines") return [shape.a, shape.b];
  return shape;
}

// A point on the given side (+1 left of a->b on screen, -1 right) near the line's middle.
function inPointFor(a, b, side) {
  const rect = svg.getBoundingClientRect();
  const [ax, ay] = [a[0] * rect.width, a[1] * rect.height];
  const [bx, by] = [b[0] * rect.width, b[1] * rect.height];
  const len = Math.hypot(bx - ax, by - ay) || 1;
  const [nx, ny] = [(ay - by) / len, (bx - ax) / len];
  const scale = IN_OFFSET * Math.min(rect.width, rect.height);
  return [round(clamp(((ax + bx) / 2 + side * nx * scale) / rect.width)),
          round(clamp(((ay + by) / 2 + side * ny * scale) / rect.height))];
}

function sideOf(line) {
  const [a, b, p] = [line.a, line.b, line.in_point];
  return ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])) >= 0 ? 1 : -1;
}

function uniqueId(prefix, kind) {
  const used = new Set(layout[kind].map((s) => s.id));
  for (let n = 1; ; n++) if (!used.has(`${prefix}-${n}`)) return `${prefix}-${n}`;
}

function shapeKey(kind, index) { return `${kind}/${index}`; }

function render() {
  svg.replaceChildren();
  const rect = svg.getBoundingClientRect();
  svg.setAttribute("viewBox", `0 0 ${rect.width} ${rect.height}`);
  const invalid = new Set(problems.map((p) => p.shape));
  const draw = (kind, index, shape) => {
    const key = shapeKey(kind, index);
    const isSel = selected && selected.kind === kind && selected.index === index;
    const pts = pointsOf(kind, shape);
    const colour = kind === "zones" ? (KIND_COLOURS[shape.kind] || "#dcc828") : kind === "lines" ? LINE_COLOUR : IGNORE_COLOUR;
    const cls = `shape${isSel ? " selected" : ""}${invalid.has(key) ? " invalid" : ""}`;
    const px = pts.map(toPx);
    if (kind === "lines") {
      el("line", { x1: px[0][0], y1: px[0][1], x2: px[1][0], y2: px[1][1], stroke: colour, class: cls, "data-shape": key });
      const mid = [(px[0][0] + px[1][0]) / 2, (px[0][1] + px[1][1]) / 2];
      const inside = toPx(shape.in_point);
      el("line", { x1: mid[0], y1: mid[1], x2: inside[0], y2: inside[1], stroke: colour, class: "shape", "stroke-dasharray": "3 2" });
      el("circle", { cx: inside[0], cy: inside[1], r: 3, fill: colour });
    } else {
      el("polygon", { points: px.map((p) => p.join(",")).join(" "), stroke: colour, fill: colour, class: cls,
                      "data-shape": key });
    }
    const label = kind === "ignore_regions" ? `ignore ${index + 1}` : kind === "zones" ? `${shape.id} (${shape.kind})` : `${shape.id} (dot = in)`;
    const text = el("text", { x: px[0][0] + 4, y: px[0][1] - 4, class: "label" });
    text.textContent = label;
    problems.filter((p) => p.shape === key).forEach((p, i) => {
      const t = el("text", { x: px[0][0] + 4, y: px[0][1] + 14 + 14 * i, class: "shape-error", "data-shape-error": key });
      t.textContent = p.message;
    });
    if (isSel && page.canEdit) {
      px.forEach((p, vertex) => el("circle", { cx: p[0], cy: p[1], r: 6, class: "handle", "data-shape": key,
                                              "data-vertex": vertex }));
    }
  };
  drawFixed();
  layout.ignore_regions.forEach((s, i) => draw("ignore_regions", i, s));
  layout.zones.forEach((s, i) => draw("zones", i, s));
  layout.lines.forEach((s, i) => draw("lines", i, s));
  if (draft) {
    const px = draft.points.map(toPx);
    el("polyline", { points: px.map((p) => p.join(",")).join(" "), stroke: "#fff", fill: "none", class: "shape",
                     "stroke-dasharray": "5 3" });
    px.forEach((p) => el("circle", { cx: p[0], cy: p[1], r: 4, class: "handle" }));
  }
  renderProblems();
  renderProperties();
}

// Read-only: the floor-plan calibration points and the store's multi-camera zone parts.
function drawFixed() {
  const fixed = page.fixed || { floor_points: [], store_zones: [] };
  for (const part of fixed.store_zones) {
    const px = part.polygon.map(toPx);
    el("polygon", { points: px.map((p) => p.join(",")).join(" "), class: "store-zone", fill: "none",
                    stroke: "#ffffff", "stroke-dasharray": "8 4", "pointer-events": "none" });
    const t = el("text", { x: px[0][0] + 4, y: px[0][1] + 14, class: "label", "pointer-events": "none" });
    t.textContent = `${part.id} (store zone)`;
  }
  fixed.floor_points.forEach((point, i) => {
    const [x, y] = toPx(point.image);
    const g = el("g", { class: "floor-point", "pointer-events": "none" });
    el("line", { x1: x - 7, y1: y, x2: x + 7, y2: y, stroke: "#00e5ff", "stroke-width": 2 }, g);
    el("line", { x1: x, y1: y - 7, x2: x, y2: y + 7, stroke: "#00e5ff", "stroke-width": 2 }, g);
    const t = el("text", { x: x + 8, y: y - 6, class: "label" }, g);
    t.textContent = `${i + 1}: (${point.floor[0]}, ${point.floor[1]}) m`;
  });
}

function renderProblems() {
  problemList.replaceChildren();
  for (const p of problems) {
    const li = document.createElement("li");
    li.dataset.shape = p.shape;
    li.textContent = (p.shape ? `${describe(p.shape)}: ` : "") + p.message;
    problemList.appendChild(li);
  }
}

function describe(key) {
  const [kind, index] = key.split("/");
  const shape = layout[kind] && layout[kind][Number(index)];
  if (kind === "ignore_regions") return `ignore region ${Number(index) + 1}`;
  return `${kind === "zones" ? "zone" : "line"} ${shape ? shape.id : index}`;
}

function renderProperties() {
  const box = document.getElementById("properties");
  if (!box) return;
  const shape = selected && layout[selected.kind][selected.index];
  box.hidden = !shape || selected.kind === "ignore_regions";
  if (box.hidden) return;
  const idInput = document.getElementById("prop-id");
  if (document.activeElement !== idInput) idInput.value = shape.id;
  const kindSelect = document.getElementById("prop-kind");
  document.getElementById("prop-kind-label").hidden = selected.kind !== "zones";
  document.getElementById("flip").hidden = selected.kind !== "lines";
  if (selected.kind === "zones") {
    if (kindSelect.options.length === 0) {
      for (const k of page.kinds) kindSelect.add(new Option(k, k));
    }
    kindSelect.value = shape.kind;
  }
}

function setTool(name) {
  tool = name;
  draft = null;
  document.querySelectorAll("[data-tool]").forEach((b) => b.classList.toggle("active", b.dataset.tool === name));
  render();
}

function finishDraft() {
  if (!draft) return;
  const pts = draft.points;
  if (pts.length >= 2) { // two points are kept so the server can say why they are not a polygon
    if (draft.kind === "zones") {
      layout.zones.push({ id: uniqueId("zone", "zones"), kind: "area", polygon: pts });
      selected = { kind: "zones", index: layout.zones.length - 1 };
    } else {
      layout.ignore_regions.push(pts);
      selected = { kind: "ignore_regions", index: layout.ignore_regions.length - 1 };
    }
  }
  draft = null;
  render();
}

function addDraftPoint(point) {
  const kind = tool === "zone" ? "zones" : tool === "line" ? "lines" : "ignore_regions";
  if (!draft) draft = { kind, points: [] };
  draft.points.push(point);
  if (kind === "lines" && draft.points.length === 2) {
    const [a, b] = draft.points;
    if (a[0] !== b[0] || a[1] !== b[1]) {
      layout.lines.push({ id: uniqueId("line", "lines"), a, b, in_point: inPointFor(a, b, 1) });
      selected = { kind: "lines", index: layout.lines.length - 1 };
    }
    draft = null;
  }
  render();
}

function moved(original, kind, vertex, dx, dy) {
  const shift = (p) => [round(clamp(p[0] + dx)), round(clamp(p[1] + dy))];
  const copy = JSON.parse(JSON.stringify(original));
  if (kind === "lines") {
    if (vertex === null) return { ...copy, a: shift(copy.a), b: shift(copy.b), in_point: shift(copy.in_point) };
    const side = sideOf(copy);
    if (vertex === 0) copy.a = shift(copy.a); else copy.b = shift(copy.b);
    copy.in_point = inPointFor(copy.a, copy.b, side);
    return copy;
  }
  const pts = kind === "zones" ? copy.polygon : copy;
  const next = pts.map((p, i) => (vertex === null || vertex === i ? shift(p) : p));
  return kind === "zones" ? { ...copy, polygon: next } : next;
}

if (page.canEdit) {
  svg.addEventListener("mousedown", (event) => {
    if (tool !== "select") return;
    const target = event.target.closest("[data-shape]");
    if (!target) { selected = null; render(); return; }
    const [kind, index] = target.dataset.shape.split("/");
    selected = { kind, index: Number(index) };
    const vertex = target.dataset.vertex !== undefined ? Number(target.dataset.vertex) : null;
    drag = { vertex, start: toNorm(event), original: JSON.parse(JSON.stringify(layout[kind][Number(index)])) };
    event.preventDefault();
    render();
  });
  window.addEventListener("mousemove", (event) => {
    if (!drag || !selected) return;
    const [x, y] = toNorm(event);
    layout[selected.kind][selected.index] = moved(drag.original, selected.kind, drag.vertex, x - drag.start[0], y - drag.start[1]);
    render();
  });
  window.addEventListener("mouseup", () => { drag = null; });
  svg.addEventListener("click", (event) => {
    if (tool !== "select") addDraftPoint(toNorm(event));
  });
  document.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
  document.getElementById("finish").addEventListener("click", finishDraft);
  document.getElementById("delete").addEventListener("click", deleteSelected);
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input, select")) return;
    if (event.key === "Enter") finishDraft();
    if (event.key === "Escape") { draft = null; render(); }
    if (event.key === "Delete" || event.key === "Backspace") deleteSelected();
  });
  document.getElementById("prop-id").addEventListener("input", (event) => {
    if (selected) { layout[selected.kind][selected.index].id = event.target.value; render(); }
  });
  document.getElementById("prop-kind").addEventListener("change", (event) => {
    if (selected && selected.kind === "zones") { layout.zones[selected.index].kind = event.target.value; render(); }
  });
  document.getElementById("flip").addEventListener("click", () => {
    if (!selected || selected.kind !== "lines") return;
    const line = layout.lines[selected.index];
    line.in_point = inPointFor(line.a, line.b, -sideOf(line));
    render();
  });
  const saveButton = document.getElementById("save");
  if (saveButton) saveButton.addEventListener("click", () => submit("save"));
  document.getElementById("download").addEventListener("click", () => submit("download"));
}

function deleteSelected() {
  if (!selected) return;
  layout[selected.kind].splice(selected.index, 1);
  selected = null;
  problems = [];
  render();
}

async function submit(mode) {
  status.textContent = "Checking…";
  let response;
  try {
    response = await fetch(`/api/cameras/${encodeURIComponent(page.camera)}/layout`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ mode, layout }),
    });
  } catch (err) {
    status.textContent = "The console cannot be reached.";
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 422) {
    problems = body.problems || [];
    status.textContent = "Not saved: fix the shapes marked in red.";
  } else if (!response.ok) {
    problems = [];
    status.textContent = `Not saved: ${body.error || response.statusText} (${response.status})`;
  } else {
    problems = [];
    status.textContent = body.saved ? "Saved to the config file." : "Valid: YAML downloaded.";
    if (!body.saved) {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([body.yaml], { type: "application/yaml" }));
      link.download = "config.yaml";
      link.click();
      URL.revokeObjectURL(link.href);
    }
  }
  render();
}

img.addEventListener("load", render);
img.addEventListener("error", () => {
  img.classList.add("missing"); // a 16:9 blank area: the shapes stay editable, if not on the scene
  status.textContent = "The camera's picture cannot be made now (its source cannot be read).";
  render();
});
window.addEventListener("resize", render);
if (img.complete) render();
