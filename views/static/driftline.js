// driftline's page: the feature table, a feature's plots, prediction drift, performance, the alert timeline
// and the retrain triggers. One script for the live dashboard (data from /api, refreshed in place) and
// for a report (data embedded in the file; no network at all). Plots are Bokeh JSON items made in Python.
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("dl-config").textContent);
  const live = cfg.mode === "live";
  const S = {model: cfg.model, view: null, selected: null, sort: null, docs: {}, shown: {}, failures: 0};
  const PREDICTION = "__prediction__", PERFORMANCE = "__performance__";
  const COLUMNS = [
    ["key", "feature"], ["kind", "kind"], ["test", "test"], ["statistic", "statistic"],
    ["threshold", "threshold"], ["p_value", "p"], ["verdict", "verdict"], ["alert", "alert"],
    ["n_current", "n"], ["trend", "trend"], ["window_end", "last window end"],
  ];
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k === "onclick") node.addEventListener("click", v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }
  const fmt = (v) => Number(Number(v).toPrecision(3)).toString();  // three significant digits, as status prints
  const num = (v, digits = 3) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(digits));
  const pval = (v) => (v === null || v === undefined ? "–" : Number(v).toExponential(1));
  const when = (s) => (s ? new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "–");
  const label = (key) => (key === PREDICTION ? "prediction" : key === PERFORMANCE ? "performance (error rate)" : key);

  async function getJSON(url) {
    const response = await fetch(url, {cache: "no-store"});
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  // ---- plots ----------------------------------------------------------------------------------------------
  async function embed(slot, item) {
    const old = S.docs[slot];
    if (old) {
      old.clear();
      const i = Bokeh.documents.indexOf(old);
      if (i >= 0) Bokeh.documents.splice(i, 1);
    }
    const target = $(slot);
    target.replaceChildren();
    const before = Bokeh.documents.length;
    await Bokeh.embed.embed_item(item, slot);
    S.docs[slot] = Bokeh.documents[before] || Bokeh.documents[Bokeh.documents.length - 1];
  }

  function update(columns) {
    // New data into the plots already on the page: no flicker, no new documents.
    for (const [name, data] of Object.entries(columns)) {
      for (const doc of Object.values(S.docs)) {
        const source = doc && doc.get_model_by_name(name);
        if (!source) continue;
        const fixed = {};
        for (const [c, values] of Object.entries(data)) fixed[c] = values.map((v) => (v === null ? NaN : v));
        source.data = fixed;
      }
    }
  }

  // ---- tables ---------------------------------------------------------------------------------------------
  function badge(text, cls) { return el("span", {class: `badge ${cls}`, text}); }
  const verdictClass = {DRIFT: "drift", warning: "warn", ok: "ok", "no data": "none"};
  const alertClass = {firing: "drift", resolved: "ok", ok: "none"};

  function sortedFeatures(view) {
    const rows = view.features.slice();
    if (!S.sort) return rows; // the server's order: worst first
    const {col, dir} = S.sort;
    const value = (f) => (col === "trend" ? f.statistic : f[col]);
    rows.sort((a, b) => {
      const x = value(a), y = value(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    return rows;
  }

  function renderTable(view, sparklines) {
    const head = el("tr");
    for (const [col, title] of COLUMNS) {
      const arrow = S.sort && S.sort.col === col ? (S.sort.dir > 0 ? " ▲" : " ▼") : "";
      head.append(el("th", {text: title + arrow, "data-col": col, title: "sort", onclick: () => {
        S.sort = S.sort && S.sort.col === col ? {col, dir: -S.sort.dir} : {col, dir: col === "key" ? 1 : -1};
        renderTable(S.view, S.sparklines);
      }}));
    }
    const body = el("tbody");
    for (const f of sortedFeatures(view)) {
      const spark = el("td", {class: "spark-cell"});
      spark.innerHTML = sparklines[f.key] || ""; // SVG made by driftline from numbers only
      const row = el("tr", {"data-feature": f.key, "data-verdict": f.verdict, "data-alert": f.alert,
                            class: f.key === S.selected ? "selected" : "", onclick: () => select(f.key)},
        el("td", {class: "name", text: label(f.key)}), el("td", {text: f.kind}), el("td", {text: f.test || "–"}),
        el("td", {class: "num", text: num(f.statistic)}), el("td", {class: "num", text: num(f.threshold)}),
        el("td", {class: "num", text: pval(f.p_value)}),
        el("td", {}, badge(f.verdict, verdictClass[f.verdict] || "none")),
        el("td", {}, badge(f.alert, alertClass[f.alert])),
        el("td", {class: "num", text: (f.n_current || 0).toLocaleString("en")}), spark,
        el("td", {text: when(f.window_end)}));
      body.append(row);
    }
    $("features").replaceChildren(el("thead", {}, head), body);
  }

  function renderSummary(view) {
    const drifting = view.features.filter((f) => f.verdict === "DRIFT").length;
    const firing = view.features.filter((f) => f.alert === "firing").length;
    const ends = view.features.map((f) => f.window_end || 0);
    const labels = view.labels || {};
    const cards = [
      ["features drifting", `${drifting} of ${view.features.length}`, drifting ? "drift" : "ok"],
      ["alerts firing", String(firing), firing ? "drift" : "ok"],
      ["retrain triggers", String(view.triggers.length), view.triggers.length ? "warn" : "none"],
      ["last window end", when(Math.max(0, ...ends)), "none"],
      ["windows shown", String(view.windows), "none"],
      ["labels joined", labels.joined ? `${labels.joined.toLocaleString("en")} (${labels.unmatched || 0} unmatched)` : "none yet", "none"],
    ];
    const b = view.budget || {};
    if (b.expected_per_day != null) {
      const budget = b.budget_per_day ? `budget ${fmt(b.budget_per_day)}/day` : "no budget set";
      cards.push(["false alarms expected", `${fmt(b.expected_per_day)}/day: ${Math.round(100 * b.share)}% of the fleet's ${fmt(b.fleet_expected_per_day)} (${budget})`, "none"]);
    }
    $("summary").replaceChildren(...cards.map(([k, v, cls]) => el("div", {class: `card ${cls}`},
      el("div", {class: "card-label", text: k}), el("div", {class: "card-value", text: v}))));
    $("reference").textContent = view.reference_version ? `reference ${view.reference_version}` : "no reference";
  }

  function renderEvents(view) {
    const alerts = view.alerts.slice().reverse();
    const arows = alerts.map((a) => el("tr", {},
      el("td", {text: when(a.end)}), el("td", {class: "name", text: label(a.feature)}), el("td", {text: a.detector}),
      el("td", {}, badge(a.state, a.state === "firing" ? (a.severity === "critical" ? "drift" : "warn") : "ok")),
      el("td", {text: a.severity}), el("td", {class: "num", text: num(a.statistic)}),
      el("td", {class: "num", text: num(a.threshold)}), el("td", {class: "id", text: a.alert_id.slice(0, 12)})));
    $("alerts").replaceChildren(el("thead", {}, el("tr", {}, ...["window end", "feature", "detector", "state",
      "severity", "statistic", "threshold", "alert id"].map((t) => el("th", {text: t})))),
      el("tbody", {}, ...(arows.length ? arows : [el("tr", {}, el("td", {colspan: 8, text: "no alerts in this range"}))])));
    const trows = view.triggers.slice().reverse().map((t) => el("tr", {},
      el("td", {text: when(t.end)}), el("td", {text: t.policy}), el("td", {text: t.reason}),
      el("td", {text: Object.entries(t.evidence).map(([k, v]) => `${label(k)} ${num(v)}`).join(", ")}),
      el("td", {text: `${when(t.start)} → ${when(t.end)}`}), el("td", {text: String(t.alert_ids.length)}),
      el("td", {class: "id", text: t.trigger_id.slice(0, 12)})));
    $("triggers").replaceChildren(el("thead", {}, el("tr", {}, ...["at", "policy", "reason", "evidence",
      "suggested training window", "alerts", "trigger id"].map((t) => el("th", {text: t})))),
      el("tbody", {}, ...(trows.length ? trows : [el("tr", {}, el("td", {colspan: 7, text: "no retrain triggers in this range"}))])));
  }

  function renderFeatureHeader(slot, f) {
    const head = $(`${slot}-head`);
    if (!f) { head.replaceChildren(el("span", {class: "muted", text: "no data yet"})); return; }
    head.replaceChildren(el("strong", {text: label(f.key)}), " ", badge(f.verdict, verdictClass[f.verdict] || "none"),
      " ", badge(f.alert, alertClass[f.alert]),
      el("span", {class: "muted", text: ` ${f.test || ""} ${num(f.statistic)} (threshold ${num(f.threshold)}), ` +
        `n = ${(f.n_current || 0).toLocaleString("en")} in the last window, ${(f.n_reference || 0).toLocaleString("en")} in the reference`}));
  }

  // ---- what is shown where ---------------------------------------------------------------------------------
  function slots(view) {
    const keys = new Set(view.features.map((f) => f.key));
    if (!S.selected || !keys.has(S.selected)) {
      const first = view.features.find((f) => f.key !== PERFORMANCE && f.key !== PREDICTION) || view.features[0];
      S.selected = first ? first.key : null;
    }
    return {feature: S.selected, prediction: keys.has(PREDICTION) ? PREDICTION : null,
            performance: keys.has(PERFORMANCE) ? PERFORMANCE : null};
  }

  async function showPlots(plots, columns) {
    const wanted = slots(S.view);
    for (const [slot, key] of Object.entries(wanted)) {
      $(`${slot}-section`).hidden = key === null;
      const f = key && S.view.features.find((x) => x.key === key);
      renderFeatureHeader(slot, f);
      if (!key) continue;
      const signature = `${key}|${S.view.reference_version}|${f.bins.join(",")}`;
      if (S.shown[slot] === signature && columns) continue;
      const items = plots[key] || (await getJSON(`api/models/${encodeURIComponent(S.model)}/plots?feature=${encodeURIComponent(key)}`));
      for (const part of ["histogram", "over_time"]) await embed(`${slot}-${part}`, items[part]);
      S.shown[slot] = signature;
    }
    const rows = [...new Set(S.view.alerts.map((a) => a.feature))].sort().join(",");
    if (S.shown.timeline !== rows || !columns) {
      const item = plots.__timeline__ || (await getJSON(`api/models/${encodeURIComponent(S.model)}/plots?feature=__timeline__`)).timeline;
      await embed("timeline-plot", item);
      S.shown.timeline = rows;
    }
    if (columns) update(columns);
  }

  async function select(key) {
    S.selected = key;
    renderTable(S.view, S.sparklines);
    S.shown.feature = null;
    await showPlots(live ? {} : cfg.data.plots, {});
    $("feature-section").scrollIntoView({behavior: "smooth", block: "start"});
  }

  async function render(payload, columns) {
    S.view = payload.view;
    S.sparklines = payload.sparklines;
    slots(S.view); // settles the selected feature before the table marks it
    renderSummary(S.view);
    renderTable(S.view, S.sparklines);
    renderEvents(S.view);
    await showPlots(payload.plots || {}, columns);
    document.body.dataset.ready = "true";
  }

  // ---- live -------------------------------------------------------------------------------------------------
  async function renderModels() {
    const models = await getJSON("api/models");
    if (!S.model && models.length) S.model = models[0].model_id;
    $("models").replaceChildren(...models.map((m) => el("a", {
      href: `#${encodeURIComponent(m.model_id)}`, class: m.model_id === S.model ? "tab active" : "tab",
      onclick: (e) => { e.preventDefault(); S.model = m.model_id; S.selected = null; S.shown = {}; S.sort = null; refresh(); },
    }, el("span", {text: m.model_id}), m.drifting ? badge(`${m.drifting} drifting`, "drift") : badge("ok", "ok"))));
    return models;
  }

  async function refresh() {
    try {
      const models = await renderModels();
      if (!S.model) {
        $("status").textContent = "no models yet: build a reference with `driftline reference build`";
        return;
      }
      const shown = Object.values(slots(S.view || {features: []})).filter(Boolean);
      const payload = await getJSON(`api/models/${encodeURIComponent(S.model)}?features=${encodeURIComponent(shown.join(","))}`);
      await render(payload, payload.columns);
      S.failures = 0;
      $("status").textContent = `live · ${models.length} model(s) · updated ${new Date().toLocaleTimeString()} · every ${cfg.refresh_seconds}s`;
      $("status").className = "status ok";
    } catch (error) {
      S.failures += 1;
      $("status").textContent = `cannot refresh (${error.message}); retrying`;
      $("status").className = "status drift";
    }
  }

  async function start() {
    if (live) {
      const hash = decodeURIComponent(location.hash.slice(1));
      if (hash) S.model = hash;
      await refresh();
      setInterval(refresh, cfg.refresh_seconds * 1000);
    } else {
      await render(cfg.data, null);
    }
  }
  start();
})();
