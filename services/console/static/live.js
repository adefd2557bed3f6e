// The live page: polls /api/stores/<id>/live and redraws the tables without reloading.
const REFRESH_MS = 2000;
const page = JSON.parse(document.getElementById("page-data").textContent);
const status = document.getElementById("live-status");

const show = (v) => (v === null || v === undefined ? "–" : String(v));
const wait = (s) => (s === null || s === undefined ? "–" : s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

function fill(tbody, rows, columns) {
  tbody.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    for (const [name, text] of columns(row)) {
      const td = document.createElement("td");
      td.className = name;
      td.textContent = text;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
}

async function refresh() {
  try {
    const response = await fetch(`/api/stores/${encodeURIComponent(page.store)}/live`, { credentials: "same-origin" });
    if (response.status === 401) { window.location = "/login"; return; }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    document.getElementById("store-occupancy").textContent = show(body.store_occupancy);
    fill(document.querySelector("#zones tbody"), body.zones, (z) => [
      ["id", z.id], ["kind", z.kind],
      ["occupancy", show(z.occupancy) + (z.capacity ? ` / ${z.capacity}` : "")],
      ["queue", z.kind === "queue" ? show(z.queue_length) : ""],
      ["wait", z.kind === "queue" ? wait(z.wait_s) : ""], ["status", z.status]]);
    fill(document.querySelector("#cameras tbody"), body.cameras, (c) => [
      ["id", c.id], ["status", c.status], ["occupancy", show(c.occupancy)], ["capture", show(c.capture_time)]]);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    status.textContent = `live state unavailable (${err.message}); retrying`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
