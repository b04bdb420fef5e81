// netmon's dashboard: plain browser JavaScript, no build step. It reads the
// API once, then follows the manager's Server-Sent Events so that monitor
// status, check state and new results appear without a reload. Checks are
// grouped by target and check with one pill per monitor, so a failure seen
// from one vantage point reads as "degraded" at once; `#check=ID` in the
// address opens a check's own page (chart, recent results, incidents).
"use strict";

const hashParams = () => new URLSearchParams(location.hash.slice(1));
// a token in the address (#token=...) is sent as a bearer token, for managers bound beyond loopback
const token = hashParams().get("token") ?? "";
const MAX_RESULTS = 30;
const BEATS = 40;
const STATE_ORDER = { down: 0, degraded: 1, unknown: 2, paused: 3, up: 4 };

const state = {
  monitors: new Map(),
  /** `${checkId}\0${monitor}` -> row of /api/v1/targets */
  rows: new Map(),
  /** checkId -> [startedAt, up, latencyMs, monitor][] oldest first */
  beats: new Map(),
  incidents: [],
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
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** A link to a view of this page, keeping the token in the address. */
function hrefTo(params) {
  const p = new URLSearchParams(params);
  if (token) p.set("token", token);
  return `#${p}`;
}

function fmtTime(ms) {
  return ms == null ? "–" : new Date(ms).toLocaleString();
}
function fmtAgo(ms) {
  if (ms == null) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
function fmtMs(v) {
  return v == null ? "–" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
}
function fmtPct(v) {
  return v == null ? "–" : `${v === 100 ? "100" : v.toFixed(2)}%`;
}
function fmtDuration(ms) {
  const m = Math.round(ms / 60000);
  if (m < 60) return `${m} min`;
  if (m < 2880) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return `${Math.round(m / 1440)} d`;
}

function rowKey(checkId, monitor) {
  return `${checkId}\0${monitor}`;
}

/**
 * One entry per check: its rows (one per monitor) and its overall state.
 * Degraded: down from some of its monitors but not all of them.
 */
function checks() {
  const byId = new Map();
  for (const r of state.rows.values()) {
    let c = byId.get(r.checkId);
    if (!c) {
      byId.set(r.checkId, c = { checkId: r.checkId, target: r.target, type: r.type, rows: [] });
    }
    c.rows.push(r);
  }
  for (const c of byId.values()) {
    const known = c.rows.filter((r) => r.state === "up" || r.state === "down");
    const down = known.filter((r) => r.state === "down").length;
    c.paused = c.rows.every((r) => r.paused);
    c.state = c.paused
      ? "paused"
      : known.length === 0
      ? "unknown"
      : down === 0
      ? "up"
      : down === known.length
      ? "down"
      : "degraded";
    c.maxLatency = Math.max(-1, ...c.rows.map((r) => r.latencyMs ?? -1));
    const h24 = c.rows.map((r) => r.uptime.h24).filter((v) => v !== null);
    c.uptime = {
      h24: avg(c.rows.map((r) => r.uptime.h24)),
      d7: avg(c.rows.map((r) => r.uptime.d7)),
      d30: avg(c.rows.map((r) => r.uptime.d30)),
    };
    c.minUptime = h24.length ? Math.min(...h24) : 101;
    const certs = c.rows.map((r) => r.certDaysLeft).filter((v) => v !== null && v !== undefined);
    c.certDaysLeft = certs.length ? Math.min(...certs) : null;
    c.labels = [...new Set(c.rows.flatMap((r) => r.monitorLabels ?? []))];
  }
  return [...byId.values()];
}

function avg(values) {
  const v = values.filter((x) => x !== null && x !== undefined);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

function renderSummary(list) {
  const n = { down: 0, degraded: 0, up: 0, unknown: 0, paused: 0 };
  for (const c of list) n[c.state]++;
  const parts = ["down", "degraded", "up", "unknown"].map((k) =>
    el("span", { class: `count count-${k}`, "data-count": k }, `${n[k]} ${k}`)
  );
  if (n.paused) parts.push(el("span", { class: "count count-paused" }, `${n.paused} paused`));
  const box = $("#counts");
  box.replaceChildren();
  // a narrow screen breaks the line before a separator, never after one
  parts.forEach((p, i) => {
    if (i) box.append(" ", el("span", { class: "sep" }, "· ", p));
    else box.append(p);
  });
  const all = [...state.monitors.values()];
  const online = all.filter((m) => m.status === "Online").length;
  $("#online").textContent = `monitors online ${online} of ${all.length}`;
  document.title = n.down || n.degraded ? `(${n.down + n.degraded}) netmon` : "netmon";
}

function pill(r) {
  const st = r.paused ? "paused" : r.state === "pending" ? "unknown" : r.state;
  const text = st === "up"
    ? `${r.monitor} ${fmtMs(r.latencyMs)}`
    : `${r.monitor} ${st === "down" ? "down" : st}`;
  return el("span", {
    class: `mon ${st}`,
    "data-monitor": r.monitor,
    "data-state": st,
    title: `${r.monitor}: ${r.summary ?? st}${
      r.lastResultAt ? ` (${fmtAgo(r.lastResultAt)})` : ""
    }`,
  }, text);
}

function beatStrip(checkId) {
  const beats = (state.beats.get(checkId) ?? []).slice(-BEATS);
  const strip = el("div", {
    class: "beats",
    "aria-label": `last ${beats.length} results`,
    "data-failures": String(beats.filter((b) => !b[1]).length),
  });
  for (let i = beats.length; i < BEATS; i++) strip.append(el("i", { class: "beat none" }));
  for (const [t, up, latency, monitor] of beats) {
    strip.append(el("i", {
      class: `beat ${up ? "up" : "down"}`,
      title: `${new Date(t).toLocaleTimeString()} ${monitor}: ${up ? fmtMs(latency) : "down"}`,
    }));
  }
  return strip;
}

function certText(days) {
  if (days === null) return null;
  return el(
    "span",
    { class: `cert ${days < 7 ? "down" : days < 21 ? "warn" : "ok"}`, "data-days": String(days) },
    `cert ${days} day${days === 1 ? "" : "s"} left`,
  );
}

function errorsOf(c) {
  return c.rows.filter((r) => r.state === "down" && (r.error || r.summary))
    .map((r) => `${r.monitor}: ${r.error ?? r.summary}`);
}

function matches(c, f) {
  if (f.state && c.state !== f.state) return false;
  if (f.type && c.type !== f.type) return false;
  if (f.monitor && !c.rows.some((r) => r.monitor === f.monitor)) return false;
  if (f.label && !c.labels.includes(f.label)) return false;
  if (f.q) {
    const hay = [c.checkId, c.type, ...c.labels, ...c.rows.map((r) => r.monitor), ...errorsOf(c)]
      .join(" ").toLowerCase();
    if (!f.q.split(/\s+/).every((w) => hay.includes(w))) return false;
  }
  return true;
}

const SORTS = {
  state: (a, b) =>
    STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.checkId.localeCompare(b.checkId),
  name: (a, b) => a.checkId.localeCompare(b.checkId),
  latency: (a, b) => b.maxLatency - a.maxLatency,
  uptime: (a, b) => a.minUptime - b.minUptime,
};

function fillSelect(sel, values) {
  const keep = sel.value;
  const first = sel.options[0];
  const want = [first.textContent, ...values].join("\n");
  if ([...sel.options].map((o) => o.textContent).join("\n") === want) return;
  sel.replaceChildren(first, ...values.map((v) => el("option", { value: v }, v)));
  sel.value = values.includes(keep) ? keep : "";
}

function renderChecks() {
  const list = checks();
  renderSummary(list);
  fillSelect($("#f-type"), [...new Set(list.map((c) => c.type))].sort());
  fillSelect($("#f-monitor"), [...new Set([...state.rows.values()].map((r) => r.monitor))].sort());
  const labels = [...new Set(list.flatMap((c) => c.labels))].sort();
  fillSelect($("#f-label"), labels);
  $("#f-label").hidden = labels.length === 0;
  const f = {
    q: $("#search").value.trim().toLowerCase(),
    state: $("#f-state").value,
    type: $("#f-type").value,
    monitor: $("#f-monitor").value,
    label: $("#f-label").value,
  };
  const shown = list.filter((c) => matches(c, f)).sort(SORTS[$("#sort").value] ?? SORTS.state);
  $("#no-match").hidden = shown.length > 0 || list.length === 0;
  $("#checks").replaceChildren(...shown.map((c) => {
    const errors = errorsOf(c);
    const stateWord = c.state === "degraded"
      ? `degraded (${c.rows.filter((r) => r.state === "down").length} of ${
        c.rows.filter((r) => r.state === "up" || r.state === "down").length
      } down)`
      : c.state;
    return el(
      "li",
      { class: `check ${c.state}`, "data-check": c.checkId, "data-state": c.state },
      el(
        "div",
        { class: "head" },
        el("a", { class: "name", href: hrefTo({ check: c.checkId }) }, c.target),
        el("span", { class: "type" }, c.type),
        el("span", { class: `overall ${c.state}` }, stateWord),
      ),
      el("div", { class: "pills" }, ...c.rows.map(pill), certText(c.certDaysLeft)),
      errors.length ? el("p", { class: "error" }, errors.join(" · ")) : null,
      el(
        "div",
        { class: "foot" },
        beatStrip(c.checkId),
        el(
          "span",
          { class: "uptime muted" },
          `24 h ${fmtPct(c.uptime.h24)} · 7 d ${fmtPct(c.uptime.d7)} · 30 d ${
            fmtPct(c.uptime.d30)
          }`,
        ),
      ),
    );
  }));
  if (currentCheck()) renderDetailHead();
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
  renderSummary(checks());
}

function incidentItem(i) {
  const open = i.closedAt === null;
  const down = i.monitors.filter((m) => m.up === false);
  return el(
    "li",
    { class: `incident ${open ? "open" : "closed"}`, "data-check": i.checkId },
    el("span", { class: `badge ${open ? "down" : "up"}` }, open ? "open" : "resolved"),
    " ",
    i.type === "monitor"
      ? el("b", {}, i.target)
      : el("a", { href: hrefTo({ check: i.checkId }) }, i.checkId),
    ` ${i.condition}`,
    i.silenced ? el("span", { class: "muted" }, " (silenced)") : null,
    el(
      "span",
      { class: "muted" },
      ` · ${fmtTime(i.openedAt)} · ${
        open
          ? `for ${fmtDuration(Date.now() - i.openedAt)}`
          : `lasted ${fmtDuration(i.closedAt - i.openedAt)}`
      }`,
    ),
    down.length
      ? el(
        "div",
        { class: "error" },
        down.map((m) => `${m.name}: ${m.error ?? "down"}`).join(" · "),
      )
      : null,
  );
}

function renderIncidents() {
  const open = state.incidents.filter((i) => i.closedAt === null);
  const recent = state.incidents.filter((i) => i.closedAt !== null).slice(0, 5);
  const items = [...open, ...recent].map(incidentItem);
  $("#incidents").replaceChildren(
    ...(items.length ? items : [el("li", { class: "muted" }, "No incidents.")]),
  );
  $("#incidents-panel").dataset.open = String(open.length);
}

// The manager decides whether a check is up, down or unknown (its freshness
// rule: monitor offline, or no result for two intervals plus the timeout);
// this page asks it again whenever that may have changed: a monitor's status
// changed, or a row's freshUntil passed without a newer result.
let refetching = null;
function refetchTargets() {
  refetching ??= api("/api/v1/targets").then((t) => {
    state.rows = new Map(t.map((x) => [rowKey(x.checkId, x.monitor), x]));
    renderChecks();
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

function resultItem(r, withCheck) {
  return el(
    "li",
    { class: r.up ? "up" : "down", "data-task-id": r.taskId },
    // the overview names the check and says up or why not; a check's page adds the summary
    `${fmtTime(r.startedAt)} · ${withCheck ? `${r.checkId} · ` : ""}${r.monitorName} · ${
      r.up ? fmtMs(r.latencyMs) : r.error ?? "down"
    }${withCheck ? "" : ` · ${r.summary}`}`,
  );
}

function addResult(r, live = true) {
  const list = $("#results");
  list.prepend(resultItem(r, true));
  while (list.children.length > MAX_RESULTS) list.lastChild.remove();
  if (live && currentCheck() === r.checkId) {
    const d = $("#d-results");
    d.prepend(resultItem(r, false));
    while (d.children.length > 50) d.lastChild.remove();
  }
}

async function loadIncidents() {
  const page = await api("/api/v1/incidents?limit=50");
  state.incidents = page.incidents;
  renderIncidents();
}

async function loadAll() {
  const [monitors, targets, results, beats] = await Promise.all([
    api("/api/v1/monitors"),
    api("/api/v1/targets"),
    api(`/api/v1/results?limit=${MAX_RESULTS}`),
    api(`/api/v1/heartbeats?limit=${BEATS}`),
  ]);
  state.monitors = new Map(monitors.map((m) => [m.name, m]));
  state.rows = new Map(targets.map((r) => [rowKey(r.checkId, r.monitor), r]));
  state.beats = new Map(Object.entries(beats));
  renderMonitors();
  renderChecks();
  $("#results").replaceChildren();
  for (const r of results.items.reverse()) addResult(r, false);
  await loadIncidents();
}

// ---- a check's own page ------------------------------------------------

function currentCheck() {
  return hashParams().get("check");
}

function renderDetailHead() {
  const id = currentCheck();
  const c = checks().find((x) => x.checkId === id);
  $("#d-title").textContent = id;
  if (!c) {
    $("#d-state").textContent = "No monitor runs this check now.";
    $("#d-monitors").replaceChildren();
    return;
  }
  $("#d-state").replaceChildren(
    el("span", { class: `overall ${c.state}` }, c.state),
    " ",
    certText(c.certDaysLeft) ?? "",
  );
  $("#d-monitors").replaceChildren(...c.rows.map((r) =>
    el(
      "li",
      { "data-monitor": r.monitor },
      pill(r),
      el(
        "span",
        { class: "muted" },
        ` ${r.lastResultAt ? fmtAgo(r.lastResultAt) : "no result yet"}${
          r.state === "down" && r.error ? "" : r.summary ? ` · ${r.summary}` : ""
        }`,
      ),
      r.state === "down" && r.error ? el("div", { class: "error" }, r.error) : null,
    )
  ));
  $("#d-uptime").textContent = `uptime 24 h ${fmtPct(c.uptime.h24)} · 7 d ${
    fmtPct(c.uptime.d7)
  } · 30 d ${fmtPct(c.uptime.d30)}`;
}

async function showView() {
  const id = currentCheck();
  $("#overview").hidden = id !== null;
  $("#detail").hidden = id === null;
  if (id === null) {
    state.chart?.destroy();
    state.chart = null;
    state.chartData = null;
    return;
  }
  renderDetailHead();
  const q = encodeURIComponent(id);
  const [results, incidents] = await Promise.all([
    api(`/api/v1/results?check=${q}&limit=50`),
    api(`/api/v1/incidents?check=${q}&limit=20`),
  ]);
  $("#d-results").replaceChildren(...results.items.map((r) => resultItem(r, false)));
  $("#d-incidents").replaceChildren(
    ...(incidents.incidents.length
      ? incidents.incidents.map(incidentItem)
      : [el("li", { class: "muted" }, "No incidents.")]),
  );
  await loadChart();
}

async function loadChart() {
  const check = currentCheck();
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
  if (!data || typeof uPlot === "undefined" || $("#detail").hidden) return;
  const { xs, ys, bands } = chartModel(data, Date.now());
  state.chartBands = bands;
  box.dataset.failures = String(bands.filter((b) => b.kind === "fail").length);
  box.dataset.gaps = String(bands.filter((b) => b.kind === "gap").length);
  const colors = ["#2f6fdf", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285"];
  const ink = getComputedStyle(document.body).getPropertyValue("--text").trim() || "#1d2330";
  const grid = getComputedStyle(document.body).getPropertyValue("--line").trim() || "#e2e5ea";
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
  const axis = { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } };
  const opts = {
    width: box.clientWidth || 320,
    height: Math.min(320, Math.max(200, globalThis.innerHeight * 0.35)),
    scales: { x: { time: true, range: [data.from / 1000, data.to / 1000] } },
    axes: [axis, { ...axis, label: "ms", size: 60 }],
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

// ---- live updates ------------------------------------------------------

/** Renders at most once per animation frame however many results arrive. */
let renderQueued = false;
function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderChecks();
  });
}

let incidentsTimer = null;
/** Asks for incidents again soon after a state may have turned (the engine needs a moment). */
function refreshIncidentsSoon() {
  incidentsTimer ??= setTimeout(() => {
    incidentsTimer = null;
    loadIncidents().catch(console.error);
  }, 1500);
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
      renderChecks();
    }
    refetchTargets();
    refreshIncidentsSoon();
  });
  es.addEventListener("result", (ev) => {
    const r = JSON.parse(ev.data);
    const row = state.rows.get(rowKey(r.checkId, r.monitorName));
    if (row && row.lastResultAt !== null && row.freshUntil !== null) {
      // a replayed spool brings older results after newer ones: keep the newest
      if (r.startedAt >= row.lastResultAt) {
        const turned = row.state !== (r.up ? "up" : "down");
        Object.assign(row, {
          state: r.up ? "up" : "down",
          latencyMs: r.latencyMs,
          // a result counts for as long after its start as the previous one did
          freshUntil: row.freshUntil + (r.startedAt - row.lastResultAt),
          lastResultAt: r.startedAt,
          summary: r.summary,
          error: r.error ?? null,
          certDaysLeft: r.metrics?.netmon_ssl_cert_days_left ?? row.certDaysLeft ?? null,
          monitorId: r.monitorId,
        });
        if (turned) refreshIncidentsSoon();
      }
    } else {
      refetchTargets();
    }
    const beats = state.beats.get(r.checkId) ?? [];
    beats.push([r.startedAt, r.up ? 1 : 0, r.latencyMs, r.monitorName]);
    if (beats.length > BEATS * 2) beats.splice(0, beats.length - BEATS);
    state.beats.set(r.checkId, beats);
    queueRender();
    addResult(r);
    appendToChart(r);
  });
}

async function start() {
  for (const id of ["#search", "#f-state", "#f-type", "#f-monitor", "#f-label", "#sort"]) {
    $(id).addEventListener("input", renderChecks);
  }
  // a state filter in the address (#state=down) selects it
  const wanted = hashParams().get("state");
  if (wanted) $("#f-state").value = wanted;
  $("#range").addEventListener("change", () => loadChart().catch(console.error));
  globalThis.addEventListener("hashchange", () => showView().catch(console.error));
  $("#home").setAttribute("href", hrefTo({}));
  $("#back").setAttribute("href", hrefTo({}));
  globalThis.addEventListener("resize", () => drawChart());
  await loadAll();
  await showView();
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
  // uptime, incidents and rollup-based charts change slowly: refresh them every 30 s
  setInterval(() => {
    refetchTargets();
    loadIncidents().catch(console.error);
    if (state.chartData && state.chartData.resolution !== "raw") loadChart().catch(console.error);
  }, 30_000);
}

start().catch((e) => {
  $("#conn").textContent = `error: ${e.message}`;
});
