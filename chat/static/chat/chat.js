// Relais chat: rooms, history, live events over a websocket, plain HTTP when websockets fail.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;
  var api = root.dataset.api.replace(/rooms\/$/, "");
  var text = root.dataset;
  var csrf = root.querySelector("[name=csrfmiddlewaretoken]").value;
  var list = document.getElementById("chat-room-list");
  var pane = document.getElementById("chat-messages");
  var title = document.getElementById("chat-room-title");
  var status = document.getElementById("chat-status");
  var older = document.getElementById("chat-older");
  var composer = document.getElementById("chat-composer");
  var body = document.getElementById("chat-body");
  var rooms = {}, current = null, before = null, lastEvent = 0, socket = null, live = false, retry = 1000;

  function request(path, options) {
    options = options || {};
    options.headers = Object.assign({"X-CSRFToken": csrf, "Content-Type": "application/json"}, options.headers || {});
    options.credentials = "same-origin";
    return fetch(api + path, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
        return data;
      });
    });
  }

  function renderRooms() {
    list.innerHTML = "";
    Object.keys(rooms).forEach(function (id) {
      var room = rooms[id], item = document.createElement("li"), button = document.createElement("button");
      button.type = "button";
      button.textContent = room.name;
      button.setAttribute("aria-current", String(current === room.id));
      if (room.unread) {
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = room.unread;
        button.appendChild(badge);
      }
      button.addEventListener("click", function () { open(room.id); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function messageItem(message) {
    var item = document.getElementById("m" + message.id) || document.createElement("li");
    item.id = "m" + message.id;
    item.innerHTML = "";
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = message.author.name + " · " + new Date(message.created).toLocaleString() + (message.edited ? " · " + text.i18nEdited : "");
    var content = document.createElement("div");
    if (message.deleted) { content.className = "deleted"; content.textContent = text.i18nDeleted; }
    else { content.innerHTML = message.html; }  // rendered and sanitised by the server
    item.appendChild(meta);
    item.appendChild(content);
    if (!message.deleted && String(message.author.id) === text.me) {
      item.appendChild(action(text.i18nEdit, function () {
        var value = window.prompt(text.i18nEditPrompt, item.dataset.body || "");
        if (value && value.trim()) act("message.edit", "messages/" + message.id + "/edit/", {message: message.id, body: value.trim()});
      }));
      item.appendChild(action(text.i18nDelete, function () {
        if (window.confirm(text.i18nDeleteConfirm)) act("message.delete", "messages/" + message.id + "/delete/", {message: message.id});
      }));
    }
    item.dataset.body = content.textContent;
    return item;
  }

  function action(label, handler) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = label;
    button.addEventListener("click", handler);
    return button;
  }

  // An action over the websocket when it is up, over HTTP otherwise (the result comes back as an event).
  function act(type, path, fields) {
    if (live) { socket.send(JSON.stringify(Object.assign({type: type}, fields))); return; }
    request(path, {method: "POST", body: JSON.stringify(fields)}).then(function (data) { show(data.message, false); })
      .catch(function (error) { status.textContent = error.message; });
  }

  function show(message, atTop) {
    if (message.room !== current) return;
    var existing = document.getElementById("m" + message.id);
    var item = messageItem(message);
    if (!existing) { if (atTop) pane.insertBefore(item, pane.firstChild); else pane.appendChild(item); }
    if (!atTop) pane.scrollTop = pane.scrollHeight;
  }

  function markRead(messageId) {
    if (!current || !messageId) return;
    request("rooms/" + current + "/read/", {method: "POST", body: JSON.stringify({message: messageId})}).catch(function () {});
    rooms[current].unread = 0;
    renderRooms();
  }

  function loadHistory() {
    var query = before ? "?before=" + before : "";
    return request("rooms/" + current + "/messages/" + query).then(function (data) {
      data.messages.forEach(function (message) { show(message, true); });
      before = data.before;
      older.hidden = !before;
      if (!pane.children.length) status.textContent = text.i18nEmpty;
      if (data.messages.length && !query) { pane.scrollTop = pane.scrollHeight; markRead(data.messages[0].id); }
    });
  }

  function open(roomId) {
    current = roomId;
    before = null;
    pane.innerHTML = "";
    title.textContent = rooms[roomId].name;
    status.textContent = live ? "" : text.i18nOffline;
    composer.hidden = !rooms[roomId].can_post;
    if (!rooms[roomId].can_post) status.textContent = text.i18nReadonly;
    renderRooms();
    loadHistory();
  }

  function handle(frame) {
    if (frame.event_id) lastEvent = Math.max(lastEvent, frame.event_id);
    if (frame.message && frame.type.indexOf("message.") === 0) {
      status.textContent = "";
      if (frame.room === current) { show(frame.message, false); if (frame.type === "message.new") markRead(frame.message.id); }
      else if (frame.type === "message.new" && rooms[frame.room]) { rooms[frame.room].unread += 1; renderRooms(); }
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try { socket = new WebSocket(scheme + location.host + text.socket); } catch (e) { return poll(); }
    socket.onopen = function () {
      live = true; retry = 1000; status.textContent = "";
      if (lastEvent) socket.send(JSON.stringify({type: "resume", last_event_id: lastEvent}));
    };
    socket.onmessage = function (event) { handle(JSON.parse(event.data)); };
    socket.onclose = function () {
      live = false;
      status.textContent = text.i18nOffline;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  function poll() {
    if (live) return;
    request("events/?after=" + lastEvent).then(function (data) { data.events.forEach(handle); }).catch(function () {});
  }
  setInterval(poll, 5000);

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = body.value.trim();
    if (!value || !current) return;
    act("message.send", "rooms/" + current + "/messages/", {room: current, body: value});
    body.value = "";
  });
  body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); }
  });
  older.addEventListener("click", loadHistory);

  request("rooms/").then(function (data) {
    data.rooms.forEach(function (room) { rooms[room.id] = room; });
    renderRooms();
    if (data.rooms.length) open(data.rooms[data.rooms.length - 1].id);
    connect();
  });
})();
