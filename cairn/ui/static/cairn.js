// Cairn's web UI: run selection on the runs table and metric charts on the run page.
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
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.id === "select-all") {
      document
        .querySelectorAll('#runs-table input[name="run"]')
        .forEach((b) => { b.checked = target.checked; });
      updateSelection();
    } else if (target.name === "run") {
      updateSelection();
    } else if (target.id === "chart-x") {
      drawAll();
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

  window.addEventListener("resize", () => {
    document.querySelectorAll(".metric-chart").forEach((el) => {
      const chart = typeof echarts !== "undefined" && echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });

  function init(root) {
    loadCharts(root);
    updateSelection();
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:afterSwap", (event) => init(event.target || document));
})();
