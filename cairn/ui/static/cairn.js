// Cairn's web UI: run selection on the runs table, metric charts on the run page and the
// comparison's charts.
// Plain JavaScript, no build step; htmx and ECharts are loaded by the page before this file.
(function () {
  "use strict";

  // -- run selection --------------------------------------------------------------------------
  function updateSelection() {
    const boxes = document.querySelectorAll('#runs-table input[name="run"]');
    const checked = Array.from(boxes).filter((b) => b.checked);
    const counter = document.getElementById("selected-count");
    if (counter) counter.textContent = String(checked.length);
    const all = document.getElementById("select-all");
    if (all) {
      all.checked = boxes.length > 0 && checked.length === boxes.length;
      all.indeterminate = checked.length > 0 && checked.length < boxes.length;
    }
    const compare = document.getElementById("compare-button");
    if (compare) compare.disabled = checked.length < 2;
    // Delete goes to a confirmation page, which returns to this view when done.
    const remove = document.getElementById("delete-button");
    if (remove) remove.disabled = checked.length < 1;
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLSelectElement) {
      if (target.id === "chart-x") drawAll();
      else if (target.id === "scatter-x" || target.id === "scatter-y") target.form.requestSubmit();
      return;
    }
    if (!(target instanceof HTMLInputElement)) return;
    if (target.id === "select-all") {
      document
        .querySelectorAll('#runs-table input[name="run"]')
        .forEach((b) => { b.checked = target.checked; });
      updateSelection();
    } else if (target.name === "run") {
      updateSelection();
    } else if (target.id === "only-diff") {
      target.form.requestSubmit();
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target && event.target.id === "chart-smoothing") {
      const out = document.getElementById("chart-smoothing-value");
      if (out) out.textContent = event.target.value;
      drawAll();
    }
  });

  // -- metric charts ----------------------------------------------------------------------------
  // Exponential moving average, debiased as TensorBoard does, so the start is not pulled to 0.
  function smooth(values, weight) {
    let last = 0;
    let count = 0;
    return values.map((v) => {
      if (v === null || !Number.isFinite(v)) return v;
      last = last * weight + (1 - weight) * v;
      count += 1;
      return last / (1 - Math.pow(weight, count));
    });
  }

  function xOf(point, mode, start) {
    if (mode === "time") return point[1];
    if (mode === "relative") return (point[1] - start) / 1000;
    return point[0];
  }

  function draw(el) {
    const data = el.cairnData;
    if (!data || typeof echarts === "undefined") return;
    const mode = (document.getElementById("chart-x") || {}).value || "step";
    const weight = Number((document.getElementById("chart-smoothing") || {}).value || 0);
    const start = Number(el.dataset.start || 0);
    const xs = data.points.map((p) => xOf(p, mode, start));
    const ys = data.points.map((p) => p[2]);
    const pairs = (values) => xs.map((x, i) => [x, values[i]]);
    const series = [];
    if (weight > 0) {
      series.push({
        name: data.key + " (raw)", type: "line", showSymbol: false, data: pairs(ys),
        lineStyle: { opacity: 0.25 }, itemStyle: { opacity: 0.25 }, silent: true,
      });
      series.push({
        name: data.key, type: "line", showSymbol: data.points.length < 50,
        data: pairs(smooth(ys, weight)),
      });
    } else {
      series.push({ name: data.key, type: "line", showSymbol: data.points.length < 50, data: pairs(ys) });
    }
    const chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 60, right: 20, top: 20, bottom: 40 },
      tooltip: { trigger: "axis" },
      xAxis: {
        type: mode === "time" ? "time" : "value",
        name: mode === "step" ? "step" : mode === "relative" ? "seconds" : "",
        scale: true,
      },
      yAxis: { type: "value", scale: true },
      dataZoom: [{ type: "inside" }],
      series: series,
    }, { notMerge: true });
    el.dataset.points = String(data.points.length);
    el.dataset.total = String(data.total);
  }

  function drawAll() {
    document.querySelectorAll(".metric-chart").forEach(draw);
  }

  function loadCharts(root) {
    root.querySelectorAll(".metric-chart[data-url]").forEach((el) => {
      if (el.dataset.state) return;
      el.dataset.state = "loading";
      fetch(el.dataset.url, { headers: { Accept: "application/json" } })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
        .then((data) => {
          el.cairnData = data;
          draw(el);
          el.dataset.state = "ready";
        })
        .catch((err) => {
          el.dataset.state = "error";
          el.textContent = "Could not load this metric: " + err.message;
        });
    });
  }


  // -- comparison -------------------------------------------------------------------------------
  // The page carries the runs' params and metrics as JSON (#compare-data); each history chart
  // fetches every run's downsampled history in one request (/compare/metric-history, points
  // as [step, value]). #compare-charts gets data-state="ready" (and
  // window.cairnCompareRendered the time since navigation) once every chart is drawn.
  function refKey(ref) { return ref.slice(ref.indexOf(".") + 1); }

  function valueOf(run, ref) {
    const key = refKey(ref);
    const found = ref.startsWith("params.") ? run.params[key] : run.metrics[key];
    return found === undefined ? null : found;
  }

  // An axis is numeric when every value present reads as a finite number.
  function axisOf(runs, ref) {
    const values = runs.map((r) => valueOf(r, ref)).filter((v) => v !== null);
    const numeric = values.length > 0 && values.every((v) => v !== "" && Number.isFinite(Number(v)));
    const categories = numeric ? null : Array.from(new Set(values.map(String))).sort();
    return {
      numeric: numeric,
      categories: categories,
      read: (run) => {
        const v = valueOf(run, ref);
        if (v === null) return null;
        return numeric ? Number(v) : String(v);
      },
    };
  }

  const LEGEND_RUNS = 12;

  function runLabel(run) { return run.name + " (" + run.id.slice(0, 6) + ")"; }

  function chartOn(el) {
    return echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
  }

  // Sets the chart's option; the promise resolves once ECharts has painted it ("finished").
  function drawn(el, option) {
    const chart = chartOn(el);
    return new Promise((resolve) => {
      const done = () => {
        chart.off("finished", done);
        el.dataset.state = "ready";
        resolve();
      };
      chart.on("finished", done);
      chart.setOption(option, { notMerge: true });
    });
  }

  // One parallel series holding a line per run (a series per run costs ECharts ~3 ms each),
  // coloured by the last axis when it is numeric (the metric, by default).
  function drawParallel(data) {
    const el = document.getElementById("compare-parallel");
    if (!el) return Promise.resolve();
    if (!data.parallel.length) {
      el.textContent = "No axes chosen: tick some under “Parallel coordinates axes”.";
      return Promise.resolve();
    }
    const axes = data.parallel.map((ref) => axisOf(data.runs, ref));
    const last = axes.length - 1;
    const values = last >= 0 && axes[last].numeric
      ? data.runs.map((run) => axes[last].read(run)).filter((v) => v !== null) : [];
    return drawn(el, {
      animation: false,
      tooltip: { trigger: "item" },
      parallel: { left: 60, right: 80, top: 40, bottom: 30 },
      visualMap: values.length ? {
        type: "continuous", dimension: last, min: Math.min(...values), max: Math.max(...values),
        show: false, inRange: { color: ["#3b6fb6", "#e0b32d", "#c23b22"] },
      } : undefined,
      parallelAxis: data.parallel.map((ref, i) => ({
        dim: i, name: refKey(ref), type: axes[i].numeric ? "value" : "category",
        data: axes[i].categories || undefined, scale: true,
        nameTextStyle: { overflow: "truncate", width: 100 },
      })),
      series: [{
        type: "parallel", name: "runs", lineStyle: { width: 2, opacity: 0.7 },
        data: data.runs.map((run) => ({ name: runLabel(run), value: axes.map((a) => a.read(run)) })),
      }],
    });
  }

  function drawScatter(data) {
    const el = document.getElementById("compare-scatter");
    if (!el) return Promise.resolve();
    if (!data.x || !data.y) {
      el.textContent = "These runs have no params or metrics to plot.";
      return Promise.resolve();
    }
    const x = axisOf(data.runs, data.x);
    const y = axisOf(data.runs, data.y);
    const axis = (a, ref) => ({
      type: a.numeric ? "value" : "category", data: a.categories || undefined, scale: true,
      name: refKey(ref), nameLocation: "middle", nameGap: 30,
    });
    const points = data.runs
      .map((run) => ({ name: runLabel(run), value: [x.read(run), y.read(run)] }))
      .filter((p) => p.value[0] !== null && p.value[1] !== null);
    return drawn(el, {
      animation: false,
      grid: { left: 70, right: 20, top: 20, bottom: 50 },
      tooltip: { trigger: "item" },
      xAxis: axis(x, data.x),
      yAxis: axis(y, data.y),
      series: [{ type: "scatter", name: refKey(data.y), symbolSize: 10, data: points }],
    });
  }

  function drawHistory(el, data, histories) {
    return drawn(el, {
      animation: false,
      grid: { left: 60, right: 20, top: 30, bottom: 40 },
      tooltip: { trigger: "axis" },
      // A legend of many runs costs more to lay out than the lines; the tooltip names them.
      legend: { show: data.runs.length <= LEGEND_RUNS, type: "scroll", top: 0 },
      xAxis: { type: "value", name: "step", scale: true },
      yAxis: { type: "value", scale: true },
      dataZoom: [{ type: "inside" }],
      series: data.runs.map((run, i) => ({
        type: "line", name: runLabel(run), showSymbol: histories[i].points.length < 50,
        data: histories[i].points, emphasis: { disabled: true },
      })),
    });
  }

  // One request per history chart, started as soon as this script runs (before ECharts is
  // parsed: base.html loads this file first), so the server reads while the browser works.
  function requestHistories() {
    const source = document.getElementById("compare-data");
    if (!source) return null;
    const data = JSON.parse(source.textContent);
    const requests = Array.from(document.querySelectorAll(".compare-history")).map((el) => {
      // The page preloads data-url (<link rel="preload" as="fetch">): a plain same-origin
      // fetch of the same URL is answered from that request.
      const body = fetch(el.dataset.url)
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))));
      return { el: el, body: body };
    });
    return { data: data, requests: requests };
  }
  const compareRequests = requestHistories();

  function initCompare() {
    const section = document.getElementById("compare-charts");
    if (!compareRequests || !section || typeof echarts === "undefined") return;
    const data = compareRequests.data;
    const histories = compareRequests.requests.map((request) => request.body
      .then((body) => drawHistory(request.el, data, body.runs))
      .catch((err) => {
        request.el.dataset.state = "error";
        request.el.textContent = "Could not load this metric: " + err.message;
      }));
    Promise.all([drawParallel(data), drawScatter(data), ...histories]).then(() => {
      window.cairnCompareRendered = performance.now();
      section.dataset.state = "ready";
    });
  }

  window.addEventListener("resize", () => {
    document.querySelectorAll(".metric-chart, .compare-chart").forEach((el) => {
      const chart = typeof echarts !== "undefined" && echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });

  function init(root) {
    loadCharts(root);
    updateSelection();
  }

  document.addEventListener("DOMContentLoaded", () => { init(document); initCompare(); });
  document.addEventListener("htmx:afterSwap", (event) => init(event.target || document));
})();
