// The status page's few lines of script: poll /api/runs (or /api/runs/ID) and put the new
// text in place. Every string comes from the server (watcher/ui/shown.py); nothing here
// builds HTML from data, only elements and textContent.
"use strict";

const REFRESH = Number(document.body.dataset.refresh) || 2000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function cell(label, ...children) {
  return el("td", { "data-label": label }, ...children);
}

function statusBadge(status) {
  return el("span", { class: "status s-" + status.toLowerCase() }, status);
}

function runRow(run) {
  const status = cell("Status", statusBadge(run.status));
  if (run.flags.length) status.append(" ", el("span", { class: "flag", title: run.slow_reason }, "slow"));
  const progress = cell("Progress");
  if (run.progress !== null) progress.append(el("meter", { min: "0", max: "1", value: String(run.progress) }), " ");
  progress.append(run.shown.progress);
  const link = el("a", { class: "run-id", href: "/runs/" + encodeURIComponent(run.id) }, run.id);
  return el("tr", { "data-run-id": run.id, class: run.flags.length ? "slow" : "" },
    cell("Run", link), cell("Kind", run.kind), cell("Spec", run.spec || "—"), status,
    progress, cell("Cost", run.shown.cost), cell("ETA", run.shown.eta));
}

function alertRow(a) {
  const result = cell("Result", el("span", { class: "result r-" + a.result }, a.result));
  if (a.error) result.append(" ", el("small", {}, a.error));
  return el("tr", {}, cell("When", el("time", { datetime: a.at }, a.when)), cell("Channel", a.channel), cell("Alert", a.title || a.why || ""), result);
}

function fill(id, items, row, empty, columns) {
  const body = document.getElementById(id);
  const rows = items.map(row);
  if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, empty)));
  body.replaceChildren(...rows);
}

function stamp(ok) {
  const note = document.getElementById("updated");
  note.textContent = ok ? "updated " + new Date().toLocaleTimeString() : "cannot reach the daemon";
  note.classList.toggle("bad", !ok);
}

async function poll(url, apply) {
  try {
    const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    apply(await response.json());
    stamp(true);
  } catch (err) {
    stamp(false);
  }
  setTimeout(() => poll(url, apply), REFRESH);
}

function watchOverview() {
  poll("/api/runs", (data) => {
    fill("runs", data.runs, runRow, "No run is tracked yet.", 7);
    fill("alerts", data.alerts, alertRow, "No alert yet.", 4);
    document.getElementById("run-count").textContent = String(data.runs.length);
    const api = document.getElementById("api-health");
    api.className = "pill " + (data.api.ok ? "ok" : "bad");
    api.querySelector("[data-field=api]").textContent = data.api.ok ? "ok" : "failing";
    api.querySelector("[data-field=api-reason]").textContent = data.api.reason;
    document.getElementById("channels").replaceChildren(...data.channels.map((ch) => {
      const state = ch.ok === null ? "idle" : ch.ok ? "ok" : "bad";
      const words = ch.ok === null ? "no delivery yet" : ch.ok ? "ok" : "failing";
      const item = el("li", { class: "pill " + state }, ch.name + ": " + words);
      if (ch.pending) item.append(" ", el("small", {}, ch.pending + " pending"));
      if (ch.dead) item.append(" ", el("small", {}, ch.dead + " dead"));
      return item;
    }));
  });
}

function chartSize(box) {
  return { width: Math.max(box.clientWidth, 200), height: Math.min(320, Math.max(180, box.clientWidth * 0.5)) };
}

function curveData(run) {
  const xs = run.curve.map((p) => p[0]);
  const ys = run.curve.map((p) => p[1]);
  return [xs, ys];
}

function watchRun() {
  const run = JSON.parse(document.getElementById("run-data").textContent);
  const box = document.getElementById("chart");
  const opts = {
    ...chartSize(box),
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, run.samples_requested || 0, 1)] } },
    series: [{}, { label: "samples completed", stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.12)", points: { show: true, size: 6 } }],
    axes: [{}, { label: "samples" }],
    legend: { show: false },
    hooks: { draw: [(u) => { box.dataset.drawn = String(u.data[0].length); }] },
  };
  const plot = new uPlot(opts, curveData(run), box);
  window.addEventListener("resize", () => plot.setSize(chartSize(box)));
  const facts = document.getElementById("facts");
  poll("/api/runs/" + encodeURIComponent(run.id), (data) => {
    run.samples_requested = data.samples_requested;
    plot.setData(curveData(data));
    box.dataset.points = String(data.curve.length);
    facts.querySelector("[data-field=status]").replaceChildren(statusBadge(data.status));
    for (const key of ["progress", "pace", "eta", "cost", "since"]) {
      facts.querySelector("[data-field=" + key + "]").textContent = data.shown[key];
    }
    const slow = document.getElementById("slow-reason");
    slow.hidden = !data.slow_reason;
    slow.querySelector("[data-field=slow]").textContent = data.slow_reason || "";
    fill("alerts", data.alerts, alertRow, "No alert yet.", 4);
    const changes = data.history.map((h) => el("li", {}, el("time", { datetime: h.at }, h.when), " " + h.change));
    document.getElementById("history").replaceChildren(...(changes.length ? changes : [el("li", {}, "None yet.")]));
  });
}
