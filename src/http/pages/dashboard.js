// The live dashboard: connects to /admin with an admin token and draws the `stats` the server pushes
// every second (src/modules/admin.ts). Counts as tiles, history as canvas charts.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const tokens = window.BunsenTokens;
  let socket = null;

  const charts = {
    sockets: chart("sockets", [
      { key: "sockets", label: "sockets", color: "#e8590c" },
      { key: "users", label: "users", color: "#1971c2" },
      { key: "rooms", label: "rooms", color: "#2b8a3e" },
    ]),
    rate: chart("rate", [
      { key: "in", label: "in", color: "#1971c2" },
      { key: "out", label: "out", color: "#e8590c" },
    ]),
    latency: chart("latency", [
      { key: "p50", label: "p50", color: "#2b8a3e" },
      { key: "p99", label: "p99", color: "#c92a2a" },
    ], " ms"),
    queue: chart("queue", [{ key: "depth", label: "depth", color: "#7048e8" }]),
  };

  function chart(name, series, unit = "") {
    // Built through the DOM: the page's CSP refuses inline style attributes.
    for (const s of series) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.append(swatch, s.label);
      $("legend-" + name).appendChild(item);
    }
    return new window.LineChart($("chart-" + name), series, { capacity: 120, unit });
  }

  function setStatus(text, kind) {
    const el = $("status");
    el.textContent = text;
    el.className = "status " + (kind || "");
  }

  function number(value, digits = 0) {
    return typeof value === "number" ? value.toFixed(digits) : "–";
  }

  function render(stats) {
    $("tile-sockets").textContent = number(stats.sockets);
    $("tile-users").textContent = number(stats.users);
    $("tile-rooms").textContent = number(stats.rooms);
    $("tile-in").textContent = number(stats.eventsPerSecond.in, 1);
    $("tile-out").textContent = number(stats.eventsPerSecond.out, 1);
    $("tile-queue").textContent = number(stats.persistence.depth);
    const latency = stats.confirmLatencyMs;
    $("tile-latency").textContent = latency.p50 === null ? "–" : `${number(latency.p50, 1)} / ${number(latency.p99, 1)} ms`;

    const t = Date.parse(stats.at) || Date.now();
    charts.sockets.push(t, { sockets: stats.sockets, users: stats.users, rooms: stats.rooms });
    charts.rate.push(t, stats.eventsPerSecond);
    charts.latency.push(t, { p50: latency.p50, p99: latency.p99 });
    charts.queue.push(t, { depth: stats.persistence.depth });

    const body = $("namespaces");
    body.textContent = "";
    for (const [name, nsp] of Object.entries(stats.namespaces)) {
      const row = document.createElement("tr");
      for (const [value, isNumber] of [[name, false], [nsp.sockets, true], [nsp.users, true], [nsp.rooms, true]]) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        if (isNumber) cell.className = "num";
        row.appendChild(cell);
      }
      body.appendChild(row);
    }
    $("updated").textContent = "updated " + new Date(t).toLocaleTimeString();
  }

  function connect(token) {
    if (socket) socket.disconnect();
    $("login-error").textContent = "";
    setStatus("connecting…");
    socket = io("/admin", { auth: { token }, transports: ["websocket", "polling"] });
    socket.on("connect", () => {
      tokens.remember("admin-token", token);
      setStatus("live", "online");
      $("login").classList.add("hidden");
      $("board").classList.remove("hidden");
    });
    socket.on("connect_error", (err) => {
      const code = err && err.data && err.data.code ? ` (${err.data.code})` : "";
      $("login-error").textContent = `refused: ${err.message}${code}`;
      setStatus("refused", "error");
      $("login").classList.remove("hidden");
      socket.disconnect();
    });
    socket.on("disconnect", (reason) => setStatus("disconnected: " + reason));
    socket.on("stats", render);
  }

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) connect(token);
  });
  if (tokens.isDevelopment) {
    $("dev-token").classList.remove("hidden");
    $("dev-token").addEventListener("click", () => {
      $("token").value = tokens.mintUnsigned({ sub: "dashboard", name: "Dashboard", roles: ["admin"] });
      connect($("token").value);
    });
  }
  const remembered = tokens.recall("admin-token");
  if (remembered) {
    $("token").value = remembered;
    connect(remembered);
  }
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.draw()));
})();
