// netmon's dashboard: plain browser JavaScript, no build step. It reads the
// API once, then follows the manager's Server-Sent Events so that monitor
// status, check state and new results appear without a reload.
"use strict";

// a token in the address (#token=...) is sent as a bearer token, for managers bound beyond loopback
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
const MAX_RESULTS = 30;

const state = {
  monitors: new Map(),
  /** `${checkId}\0${monitor}` -> row of /api/v1/targets */
  rows: new Map(),
  chart: null,
  chartData: null,
  /** What the chart drew besides lines: failed (red) and missing (grey) stretches. */
  chartBands: [],
};

const $ = (sel) => document.querySelector(sel);

async function api(path) {
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function fmtTime(ms) {
  return ms == null ? "–" : new Date(ms).toLocaleString();
}
function fmtMs(v) {
  return v == null ? "–" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
}
function fmtPct(v) {
  return v == null ? "–" : `${v === 100 ? "100" : v.toFixed(2)}%`;
}

function renderMonitors() {
  const box = $("#monitors");
  box.replaceChildren(
    ...[...state.monitors.values()].map((m) =>
      el(
        "div",
        { class: `card ${m.status}`, "data-monitor": m.name },
        el("div", { class: "name" }, m.name),
        el("div", { class: "status" }, m.status),
        el(
          "div",
          { class: "meta" },
          m.status === "Online"
            ? `${
              m.reportedName && m.reportedName !== m.name ? `calls itself ${m.reportedName} · ` : ""
            }${m.received} results`
            : m.lastError ?? m.address,
        ),
        el("div", { class: "meta" }, `since ${fmtTime(m.since)}`),
      )
    ),
  );
}

function rowKey(checkId, monitor) {
  return `${checkId}\0${monitor}`;
}

// The manager decides whether a check is up, down or unknown (its freshness
// rule: monitor offline, or no result for two intervals plus the timeout);
// this page asks it again whenever that may have changed: a monitor's status
// changed, or a row's freshUntil passed without a newer result.
let refetching = null;
function refetchTargets() {
  refetching ??= api("/api/v1/targets").then((t) => {
    state.rows = new Map(t.map((x) => [rowKey(x.checkId, x.monitor), x]));
    renderTargets();
  }).catch(console.error).finally(() => {
    refetching = null;
  });
  return refetching;
}

function lapsed(now) {
  return [...state.rows.values()].some((r) =>
    (r.state === "up" || r.state === "down") && r.freshUntil !== null && now > r.freshUntil
  );
}

// when this browser's clock runs ahead of the manager's, rows look lapsed that are not: ask less often
let askAgainAt = 0;
function checkFreshness() {
  const now = Date.now();
  if (now < askAgainAt || !lapsed(now)) return;
  refetchTargets().then(() => {
    if (lapsed(Date.now())) askAgainAt = Date.now() + 10_000;
  });
}

function renderTargets() {
  const body = $("#targets tbody");
  body.replaceChildren(
    ...[...state.rows.values()].map((r) => {
      const st = r.paused ? `${r.state} (paused)` : r.state;
      return el(
        "tr",
        { "data-check": r.checkId, "data-monitor": r.monitor },
        el("td", {}, r.target),
        el("td", {}, r.type),
        el("td", {}, r.monitor),
        el("td", { class: `state-${r.paused ? "paused" : r.state}`, title: r.summary ?? "" }, st),
        el("td", { class: "num" }, fmtMs(r.latencyMs)),
        el("td", { class: "num" }, fmtPct(r.uptime.h24)),
        el("td", { class: "num" }, fmtPct(r.uptime.d7)),
        el("td", { class: "num" }, fmtPct(r.uptime.d30)),
        el("td", {}, fmtTime(r.lastResultAt)),
      );
    }),
  );
  const select = $("#check");
  const checks = [...new Set([...state.rows.values()].map((r) => r.checkId))];
  if (select.options.length !== checks.length) {
    const keep = select.value;
    select.replaceChildren(...checks.map((c) => el("option", { value: c }, c)));
    if (checks.includes(keep)) select.value = keep;
  }
}

function addResult(r) {
  const list = $("#results");
  const li = el(
    "li",
    { class: r.up ? "up" : "down", "data-task-id": r.taskId },
    `${fmtTime(r.startedAt)} · ${r.monitorName} · ${r.summary}`,
  );
  list.prepend(li);
  while (list.children.length > MAX_RESULTS) list.lastChild.remove();
}

async function loadAll() {
  const [monitors, targets, results] = await Promise.all([
    api("/api/v1/monitors"),
    api("/api/v1/targets"),
    api(`/api/v1/results?limit=${MAX_RESULTS}`),
  ]);
  state.monitors = new Map(monitors.map((m) => [m.name, m]));
  state.rows = new Map(targets.map((r) => [rowKey(r.checkId, r.monitor), r]));
  renderMonitors();
  renderTargets();
  $("#results").replaceChildren();
  for (const r of results.items.reverse()) addResult(r);
}

async function loadChart() {
  const check = $("#check").value;
  if (!check) return;
  const span = Number($("#range").value);
  const to = Date.now();
  const data = await api(
    `/api/v1/chart?check=${encodeURIComponent(check)}&from=${to - span}&to=${to}`,
  );
  state.chartData = data;
  $("#resolution").textContent = data.resolution === "raw"
    ? "every result"
    : `${data.resolution} averages`;
  drawChart();
}

const BUCKET_MS = { minute: 60_000, hour: 3_600_000 };

/**
 * The chart's data for uPlot and the stretches to shade: uPlot wants one x
 * axis, the union of every monitor's times. A failed result has no latency
 * (null), and a null is inserted wherever a monitor has no point for more
 * than two steps, so that no line is ever drawn across a failure or a hole;
 * failures are shaded red, holes (and the time since the last point) grey.
 */
function chartModel(data, now) {
  const step = data.resolution === "raw" ? data.intervalMs ?? 60_000 : BUCKET_MS[data.resolution];
  const maxGap = 2 * step;
  const bands = [];
  // consecutive stretches of one kind on one series make one band
  const band = (series, kind, from, to) => {
    const last = bands.at(-1);
    if (last && last.series === series && last.kind === kind && last.to >= from) {
      last.to = Math.max(last.to, to);
    } else bands.push({ kind, series, from, to });
  };
  const lines = data.series.map((s, si) => {
    const pts = [];
    const pointsOf = s.points;
    for (let i = 0; i < pointsOf.length; i++) {
      const [t, latency, failed] = pointsOf[i];
      const next = pointsOf[i + 1]?.[0] ?? null;
      pts.push([t, failed >= 1 ? null : latency]);
      const end = next ?? Math.min(now, data.to);
      if (failed > 0) {
        // a failure holds until the next result, or for one step when none follows soon
        band(si, "fail", t, end - t > maxGap ? t + step : end);
      }
      if (end - t > maxGap) {
        band(si, "gap", failed > 0 ? t + step : t, end);
        // a null in the hole breaks the line there
        if (next !== null) pts.push([t + step, null]);
      }
    }
    return pts;
  });
  const xs = [...new Set(lines.flatMap((pts) => pts.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((pts) => {
    // undefined (no point at this x) lets the line pass to the next point; null breaks it
    const y = new Array(xs.length).fill(undefined);
    for (const [t, v] of pts) y[index.get(t)] = v;
    return y;
  });
  return { xs, ys, bands, step };
}

function drawChart() {
  const box = $("#chart");
  const data = state.chartData;
  if (!data || typeof uPlot === "undefined") return;
  const { xs, ys, bands } = chartModel(data, Date.now());
  state.chartBands = bands;
  box.dataset.failures = String(bands.filter((b) => b.kind === "fail").length);
  box.dataset.gaps = String(bands.filter((b) => b.kind === "gap").length);
  const colors = ["#2f6fdf", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285"];
  const shade = (u) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    const lanes = Math.max(1, data.series.length);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const b of bands) {
      const x0 = u.valToPos(b.from / 1000, "x", true);
      const x1 = u.valToPos(b.to / 1000, "x", true);
      const w = Math.max(2, x1 - x0);
      // a faint wash over the whole height (shared by the monitors), and a solid mark in the
      // monitor's own lane at the foot
      ctx.fillStyle = b.kind === "fail"
        ? `rgba(198, 40, 40, ${0.15 / lanes})`
        : `rgba(120, 126, 140, ${0.12 / lanes})`;
      ctx.fillRect(x0, top, w, height);
      const lane = Math.min(8 * devicePixelRatio, height / (3 * lanes));
      ctx.fillStyle = b.kind === "fail" ? "rgba(198, 40, 40, 0.9)" : "rgba(120, 126, 140, 0.6)";
      ctx.fillRect(x0, top + height - lane * (b.series + 1), w, lane * 0.8);
    }
    ctx.restore();
  };
  const opts = {
    width: box.clientWidth || 320,
    height: Math.min(320, Math.max(200, globalThis.innerHeight * 0.35)),
    scales: { x: { time: true, range: [data.from / 1000, data.to / 1000] } },
    axes: [{}, { label: "ms", size: 60 }],
    hooks: { drawClear: [shade] },
    series: [
      {},
      ...data.series.map((s, i) => ({
        label: s.monitorName,
        stroke: colors[i % colors.length],
        width: 1.5,
        // a lone point has no line to draw: show points
        points: { show: true, size: 4 },
        // never bridge a failure or a hole with a line
        spanGaps: false,
        value: (_u, v) => fmtMs(v),
      })),
    ],
  };
  state.chart?.destroy();
  state.chart = new uPlot(opts, [xs.map((x) => x / 1000), ...ys], box);
}

function appendToChart(r) {
  const data = state.chartData;
  if (!data || data.resolution !== "raw" || data.checkId !== r.checkId) return;
  let s = data.series.find((x) => x.monitorId === r.monitorId);
  if (!s) data.series.push(s = { monitorId: r.monitorId, monitorName: r.monitorName, points: [] });
  s.points.push([r.startedAt, r.latencyMs, r.up ? 0 : 1]);
  data.to = Math.max(data.to, r.startedAt + 1);
  data.from = data.to - Number($("#range").value);
  for (const x of data.series) x.points = x.points.filter((p) => p[0] >= data.from);
  drawChart();
}

function follow() {
  const es = new EventSource(
    `/api/v1/events${token ? `?access_token=${encodeURIComponent(token)}` : ""}`,
  );
  const conn = $("#conn");
  es.addEventListener("hello", () => {
    conn.textContent = "live";
    conn.classList.add("live");
    // catch up on whatever happened while the stream was down
    loadAll().catch(console.error);
  });
  es.onerror = () => {
    conn.textContent = "reconnecting…";
    conn.classList.remove("live");
  };
  es.addEventListener("status", (ev) => {
    const m = JSON.parse(ev.data);
    state.monitors.set(m.name, m);
    renderMonitors();
    if (m.status !== "Online") {
      // a monitor that is gone says nothing about its checks any more
      for (const r of state.rows.values()) {
        if (r.monitor === m.name && r.state !== "pending") r.state = "unknown";
      }
      renderTargets();
    }
    refetchTargets();
  });
  es.addEventListener("result", (ev) => {
    const r = JSON.parse(ev.data);
    const row = state.rows.get(rowKey(r.checkId, r.monitorName));
    if (row && row.lastResultAt !== null && row.freshUntil !== null) {
      // a replayed spool brings older results after newer ones: keep the newest
      if (r.startedAt >= row.lastResultAt) {
        Object.assign(row, {
          state: r.up ? "up" : "down",
          latencyMs: r.latencyMs,
          // a result counts for as long after its start as the previous one did
          freshUntil: row.freshUntil + (r.startedAt - row.lastResultAt),
          lastResultAt: r.startedAt,
          summary: r.summary,
          monitorId: r.monitorId,
        });
      }
    } else {
      refetchTargets();
    }
    renderTargets();
    addResult(r);
    appendToChart(r);
  });
}

async function start() {
  await loadAll();
  await loadChart();
  $("#check").addEventListener("change", () => loadChart().catch(console.error));
  $("#range").addEventListener("change", () => loadChart().catch(console.error));
  globalThis.addEventListener("resize", () => drawChart());
  follow();
  setInterval(checkFreshness, 1000);
  // a live chart moves on with the clock, so that a monitor gone silent shows a growing grey end
  setInterval(() => {
    const data = state.chartData;
    if (data?.resolution !== "raw") return;
    data.to = Math.max(data.to, Date.now());
    data.from = data.to - Number($("#range").value);
    for (const x of data.series) x.points = x.points.filter((p) => p[0] >= data.from);
    drawChart();
  }, 5000);
  // uptime and rollup-based charts change slowly: refresh them every minute
  setInterval(() => {
    refetchTargets();
    if (state.chartData?.resolution !== "raw") loadChart().catch(console.error);
  }, 60_000);
}

start().catch((e) => {
  $("#conn").textContent = `error: ${e.message}`;
});
