// The demo chat on the `/` namespace with seed 002's events: joinRoom, roomMessage →
// roomMessageRecieved (optimistic) → roomMessageConfirmed | roomMessageFailed; typing/stopTyping;
// user:online / user:offline. Each message is keyed by its tempId so its state can change in place.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const tokens = window.BunsenTokens;
  const TYPING_IDLE_MS = 2000;
  let socket = null;
  let me = null;
  let roomId = "";
  const items = new Map(); // tempId → <li>
  const typers = new Map(); // userId → name
  const online = new Map(); // userId → name
  let typingTimer = null;
  let isTyping = false;
  let typingSentAt = 0;

  function setStatus(text, kind) {
    $("status").textContent = text;
    $("status").className = "status " + (kind || "");
  }

  function tempIdOf() {
    return "tmp-" + (crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random().toString(36).slice(2));
  }

  function renderMessage(message, state, reason) {
    const key = message.tempId || message.id;
    let li = items.get(key);
    if (!li) {
      li = document.createElement("li");
      li.dataset.tempId = key;
      li.innerHTML = '<span class="who"></span><span class="body"></span><span class="state"></span>';
      $("messages").appendChild(li);
      items.set(key, li);
      $("messages").scrollTop = $("messages").scrollHeight;
    }
    const sender = message.sender || {};
    li.querySelector(".who").textContent = (sender.id === me.id ? "you" : sender.name || sender.id || "?") + ":";
    li.querySelector(".body").textContent = message.body;
    // A confirmation never goes back to pending (the optimistic event may arrive second elsewhere).
    if (li.dataset.state === "confirmed" && state === "pending") return;
    li.className = state;
    li.dataset.state = state;
    li.querySelector(".state").textContent = state === "failed" ? "failed: " + reason : state;
  }

  function systemLine(text) {
    const li = document.createElement("li");
    li.className = "system";
    li.textContent = text;
    $("messages").appendChild(li);
  }

  function renderTyping() {
    const names = [...typers.values()];
    $("typing").textContent = names.length === 0 ? "" : names.join(", ") + (names.length === 1 ? " is typing…" : " are typing…");
  }

  function renderPresence() {
    const list = $("presence");
    list.textContent = "";
    for (const [id, name] of online) {
      const li = document.createElement("li");
      li.className = "online";
      li.textContent = id === me.id ? `${name} (you)` : name;
      list.appendChild(li);
    }
  }

  function send(targetRoom, body) {
    const tempId = tempIdOf();
    const message = { tempId, roomId: targetRoom, body, sender: { id: me.id, name: me.name } };
    renderMessage(message, "pending");
    socket.emit("roomMessage", { roomId: targetRoom, body, tempId }, (reply) => {
      if (reply && reply.ok === false) renderMessage(message, "failed", reply.error.message);
    });
    stopTyping();
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (isTyping && socket) socket.emit("stopTyping", { roomId });
    isTyping = false;
  }

  function connect(token, room) {
    if (socket) socket.disconnect();
    items.clear();
    typers.clear();
    online.clear();
    $("messages").textContent = "";
    $("connect-error").textContent = "";
    const claims = tokens.claimsOf(token);
    me = { id: String(claims.sub || claims.user_id || claims.userId || "?"), name: claims.name || claims.username || String(claims.sub || "me") };
    roomId = room;
    setStatus("connecting…");
    socket = io("/", { auth: { token } });

    socket.on("connect", () => {
      tokens.remember("demo-token", token);
      setStatus("online", "online");
      $("whoami").textContent = `signed in as ${me.name}`;
      socket.emit("joinRoom", { roomId }, (reply) => {
        if (!reply || reply.ok === false) {
          $("connect-error").textContent = "could not join: " + (reply ? reply.error.message : "no answer");
          return;
        }
        $("chat").classList.remove("hidden");
        $("room-title").textContent = `Room ${roomId} · ${reply.data.connectedUsers} connected`;
        online.set(me.id, me.name);
        renderPresence();
        systemLine(`you joined ${roomId}`);
      });
    });
    socket.on("connect_error", (err) => {
      const code = err && err.data && err.data.code ? ` (${err.data.code})` : "";
      $("connect-error").textContent = `refused: ${err.message}${code}`;
      setStatus("refused", "error");
    });
    socket.on("disconnect", (reason) => setStatus("disconnected: " + reason));
    socket.on("roomMessageRecieved", (message) => {
      if (message.roomId === roomId) renderMessage(message, "pending");
    });
    socket.on("roomMessageConfirmed", (message) => {
      if (message.roomId === roomId) renderMessage(message, "confirmed");
    });
    socket.on("roomMessageFailed", (failure) => {
      const li = items.get(failure.tempId);
      if (li) {
        li.className = "failed";
        li.dataset.state = "failed";
        li.querySelector(".state").textContent = "failed: " + (failure.error ? failure.error.message : "unknown");
      }
    });
    socket.on("typing", (event) => {
      if (event.roomId !== roomId || event.userId === me.id) return;
      typers.set(event.userId, event.name || event.userId);
      renderTyping();
    });
    socket.on("stopTyping", (event) => {
      typers.delete(event.userId);
      renderTyping();
    });
    socket.on("user:online", (event) => {
      online.set(event.userId, event.name || event.userId);
      renderPresence();
      systemLine(`${event.name || event.userId} is online`);
    });
    socket.on("user:offline", (event) => {
      online.delete(event.userId);
      typers.delete(event.userId);
      renderPresence();
      renderTyping();
      systemLine(`${event.name || event.userId} went offline`);
    });
  }

  $("connect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    const room = $("room").value.trim() || "lobby";
    if (token) connect(token, room);
  });
  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = $("message").value;
    if (!body.trim() || !socket) return;
    $("message").value = "";
    send(roomId, body);
  });
  $("send-elsewhere").addEventListener("click", () => {
    const body = $("message").value.trim() || "this one will fail";
    $("message").value = "";
    send(roomId + "-not-joined", body);
  });
  $("message").addEventListener("input", () => {
    if (!socket || !roomId) return;
    // Refresh while typing goes on: the server ends a typing state that is not refreshed (5 s).
    if (!isTyping || Date.now() - typingSentAt > TYPING_IDLE_MS) {
      socket.emit("typing", { roomId });
      typingSentAt = Date.now();
    }
    isTyping = true;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  if (tokens.isDevelopment) {
    $("dev-token").classList.remove("hidden");
    $("dev-token").addEventListener("click", () => {
      const n = Math.floor(Math.random() * 9000) + 1000;
      $("token").value = tokens.mintUnsigned({ sub: "user-" + n, name: "Guest " + n });
      $("connect-form").requestSubmit();
    });
  }
  const remembered = tokens.recall("demo-token");
  if (remembered) $("token").value = remembered;
})();
