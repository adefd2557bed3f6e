// The live page: polls /api/stores/<id>/live and redraws the tables without reloading.
const REFRESH_MS = 2000;
const page = JSON.parse(document.getElementById("page-data").textContent);
const status = document.getElementById("live-status");

const show = (v) => (v === null || v === undefined ? "–" : String(v));
const rate = (f) => (f === null || f === undefined ? "unknown" : `${f < 10 ? f.toFixed(1) : Math.round(f)} fps`);
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
      ["id", c.id], ["status", c.status], ["fps", rate(c.effective_fps)], ["occupancy", show(c.occupancy)], ["capture", show(c.capture_time)]]);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    status.textContent = `live state unavailable (${err.message}); retrying`;
  }
}

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const incidentsStatus = document.getElementById("incidents-status");

async function acknowledge(id, button) {
  button.disabled = true;
  const response = await fetch(`/api/stores/${encodeURIComponent(page.store)}/incidents/${encodeURIComponent(id)}/ack`, {
    method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  const body = await response.json().catch(() => ({}));
  incidentsStatus.textContent = response.ok ? `Incident acknowledged: repeats stop.` : `Not acknowledged: ${body.error || response.status}`;
  if (!response.ok) button.disabled = false;
  refreshIncidents();
}

async function refreshIncidents() {
  try {
    const response = await fetch(`/api/stores/${encodeURIComponent(page.store)}/incidents`, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    const tbody = document.querySelector("#incidents tbody");
    fill(tbody, body.incidents.map((i) => ({ ...i, id: i.incident_id })), (i) => [
      ["rule", i.rule], ["scope", i.scope], ["value", `${i.metric} ${i.value} (threshold ${i.threshold})`],
      ["since", show(i.since)], ["severity", i.severity], ["action", ""]]);
    for (const incident of body.incidents) {
      const cell = tbody.querySelector(`tr[data-id="${CSS.escape(incident.incident_id)}"] td.action`);
      if (incident.acknowledged) { cell.textContent = "acknowledged"; continue; }
      if (!body.can_ack) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Acknowledge";
      button.addEventListener("click", () => acknowledge(incident.incident_id, button));
      cell.appendChild(button);
    }
    if (!body.incidents.length) incidentsStatus.textContent = body.complete ? "No open incidents." : "Reading the alerts…";
    else if (!incidentsStatus.textContent.startsWith("Incident") && !incidentsStatus.textContent.startsWith("Not")) {
      incidentsStatus.textContent = ""; // keep an acknowledgement's answer, drop "no incidents" and errors
    }
  } catch (err) {
    incidentsStatus.textContent = `incidents unavailable (${err.message}); retrying`;
  }
}

refresh();
refreshIncidents();
setInterval(refresh, REFRESH_MS);
setInterval(refreshIncidents, REFRESH_MS);
