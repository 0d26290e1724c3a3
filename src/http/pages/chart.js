// A small time-series line chart on <canvas>: fixed-size history, several series, auto-scaled
// y axis from 0. Hand-written so the dashboard needs no CDN and no build step.
(function () {
  "use strict";

  class LineChart {
    constructor(canvas, series, { capacity = 120, unit = "" } = {}) {
      this.canvas = canvas;
      this.series = series; // [{ key, label, color }]
      this.capacity = capacity;
      this.unit = unit;
      this.points = []; // [{ t, values: { key: number|null } }]
    }

    push(t, values) {
      this.points.push({ t, values });
      if (this.points.length > this.capacity) this.points.shift();
      this.draw();
    }

    draw() {
      const canvas = this.canvas;
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = canvas.clientHeight;
      if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
      if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
      const g = canvas.getContext("2d");
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, width, height);

      const pad = { left: 56, right: 8, top: 8, bottom: 18 };
      const plotW = width - pad.left - pad.right;
      const plotH = height - pad.top - pad.bottom;
      let max = 0;
      for (const p of this.points) for (const s of this.series) {
        const v = p.values[s.key];
        if (typeof v === "number" && v > max) max = v;
      }
      max = niceCeiling(max);

      g.font = "11px system-ui, sans-serif";
      g.fillStyle = "#6b7480";
      g.strokeStyle = "#e2e5ea";
      g.lineWidth = 1;
      for (let i = 0; i <= 4; i++) {
        const y = pad.top + plotH - (plotH * i) / 4;
        g.beginPath();
        g.moveTo(pad.left, Math.round(y) + 0.5);
        g.lineTo(pad.left + plotW, Math.round(y) + 0.5);
        g.stroke();
        g.textAlign = "right";
        g.textBaseline = "middle";
        g.fillText(format((max * i) / 4) + this.unit, pad.left - 6, y);
      }
      g.textAlign = "left";
      g.textBaseline = "top";
      g.fillText(this.capacity + "s ago", pad.left, pad.top + plotH + 4);
      g.textAlign = "right";
      g.fillText("now", pad.left + plotW, pad.top + plotH + 4);

      const step = plotW / Math.max(1, this.capacity - 1);
      const offset = this.capacity - this.points.length;
      for (const s of this.series) {
        g.strokeStyle = s.color;
        g.lineWidth = 2;
        g.beginPath();
        let isDrawing = false;
        this.points.forEach((p, i) => {
          const v = p.values[s.key];
          if (typeof v !== "number") { isDrawing = false; return; }
          const x = pad.left + (offset + i) * step;
          const y = pad.top + plotH - (max === 0 ? 0 : (v / max) * plotH);
          if (isDrawing) g.lineTo(x, y); else g.moveTo(x, y);
          isDrawing = true;
        });
        g.stroke();
      }
    }
  }

  function niceCeiling(value) {
    if (value <= 0) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= value) return m * magnitude;
    return 10 * magnitude;
  }

  function format(value) {
    if (value >= 1000) return (value / 1000).toFixed(value >= 10000 ? 0 : 1) + "k";
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }

  window.LineChart = LineChart;
})();
