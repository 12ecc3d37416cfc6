// Relais chat: rooms, history, presence, mentions and moderation, live over a websocket, plain
// HTTP when websockets fail. Every text shown comes from the template's data-i18n-* attributes.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;
  var api = root.dataset.api.replace(/rooms\/$/, "");
  var text = root.dataset;
  var me = Number(text.me);
  var lang = document.documentElement.lang || undefined;
  var csrf = root.querySelector("[name=csrfmiddlewaretoken]").value;
  var byId = document.getElementById.bind(document);
  var pane = byId("chat-messages");
  var title = byId("chat-room-title");
  var noRoomTitle = title.textContent;
  var status = byId("chat-status");
  var notice = byId("chat-notice");
  var older = byId("chat-older");
  var composer = byId("chat-composer");
  var body = byId("chat-body");
  var send = composer.querySelector("button[type=submit]");
  var mutedNote = byId("chat-muted");
  var typingLine = byId("chat-typing");
  var online = byId("chat-online");
  var onlineList = byId("chat-online-list");
  var leave = byId("chat-leave");
  var invite = byId("chat-invite");
  var newTopic = byId("chat-new-topic");
  var newDirect = byId("chat-new-direct");
  var moderation = byId("chat-moderation");
  var KINDS = ["announcements", "chapter", "topic", "direct"];
  var TYPING_EVERY = 3000, TYPING_SHOWN = 5000, PING_EVERY = 60000;
  var rooms = {}, order = [], current = null, before = null, lastEvent = 0, socket = null, live = false, retry = 1000;
  var present = {}, typists = {}, typedAt = 0, unmuteTimer = null, unsent = null, countedUpTo = 0;
  var listsAsked = 0, listShown = 0;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
  }

  function when(iso) {
    return new Date(iso).toLocaleString(lang, {dateStyle: "medium", timeStyle: "short"});
  }

  function request(path, options, onResponse) {
    options = options || {};
    options.headers = Object.assign({"X-CSRFToken": csrf, "Content-Type": "application/json"}, options.headers || {});
    options.credentials = "same-origin";
    return fetch(api + path, options).then(function (response) {
      if (onResponse) onResponse(response);
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
        return data;
      });
    });
  }

  function post(path, fields) {
    return request(path, {method: "POST", body: JSON.stringify(fields || {})});
  }

  function frame(fields) {
    if (live) socket.send(JSON.stringify(fields));
  }

  function hiddenText(value) {
    var span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = value;
    return span;
  }

  function badge(className, visible, spoken) {
    var span = document.createElement("span"), shown = document.createElement("span");
    span.className = className;
    shown.setAttribute("aria-hidden", "true");
    shown.textContent = visible;
    span.appendChild(shown);
    span.appendChild(hiddenText(spoken));
    return span;
  }

  // The room list ------------------------------------------------------------------------------

  function renderRooms() {
    var lists = {}, focused = document.activeElement && document.activeElement.dataset.room;
    KINDS.forEach(function (kind) {
      lists[kind] = root.querySelector(".chat-rooms ul[data-kind=" + kind + "]");
      lists[kind].innerHTML = "";
      var group = root.querySelector("[data-group=" + kind + "]");
      if (group) group.hidden = true;
    });
    order.forEach(function (id) {
      var room = rooms[id], item = document.createElement("li"), button = document.createElement("button");
      var name = document.createElement("span"), badges = document.createElement("span");
      button.type = "button";
      button.dataset.room = room.id;
      button.setAttribute("aria-current", String(current === room.id));
      name.className = "name";
      name.textContent = room.name;
      badges.className = "badges";
      if (room.mentions) {
        badges.appendChild(badge("badge mention", "@", room.mentions === 1 ? text.i18nMentionOne : fill(text.i18nMentionMany, {count: room.mentions})));
      }
      if (room.unread) badges.appendChild(badge("badge", room.unread, fill(text.i18nUnread, {count: room.unread})));
      button.appendChild(name);
      button.appendChild(badges);
      button.addEventListener("click", function () { open(room.id); });
      item.appendChild(button);
      lists[room.kind].appendChild(item);
      var group = root.querySelector("[data-group=" + room.kind + "]");
      if (group) group.hidden = false;
      if (String(room.id) === focused) button.focus();  // a keyboard user keeps their place in the list
    });
    if (order.some(function (id) { return rooms[id].can_moderate; })) moderation.hidden = false;
  }

  function fillChapters(chapters) {
    var select = byId("chat-topic-chapter"), chosen = select.value;
    select.innerHTML = "";
    chapters.forEach(function (chapter) {
      var option = document.createElement("option");
      option.value = chapter.id;
      option.textContent = chapter.name;
      select.appendChild(option);
    });
    if (chosen) select.value = chosen;
    newTopic.hidden = !chapters.length;
  }

  // The unread counts are the server's as of this list, which names the last event it had seen: a
  // message.new counts only when it comes after that one. (A clock would not do: the list's Date
  // header, when there is one, is to the second, and the time it arrived is later than the time it
  // was read, so a message written in between was in neither.) Two lists asked at once may come
  // back in either order: one older than the list shown is dropped.
  function loadRooms() {
    var asked = ++listsAsked;
    return request("rooms/").then(function (data) {
      if (asked < listShown) return;
      listShown = asked;
      countedUpTo = data.last_event_id;
      if (!lastEvent) lastEvent = data.last_event_id;  // follow from now: older events are history
      rooms = {};
      order = [];
      data.rooms.forEach(function (room) { rooms[room.id] = room; order.push(room.id); });
      fillChapters(data.topic_chapters);
      newDirect.hidden = !data.can_start_conversations;
      if (current !== null && !rooms[current]) clearPane();
      else if (current !== null) { rooms[current].unread = 0; rooms[current].mentions = 0; roomControls(); }
      renderRooms();
    });
  }

  // Messages -----------------------------------------------------------------------------------

  function messageItem(message) {
    var item = document.getElementById("m" + message.id) || document.createElement("li");
    var room = rooms[message.room] || {};
    var mine = message.author.id === me;
    var mentionsMe = !message.deleted && (message.mentions || []).indexOf(me) >= 0;
    item.id = "m" + message.id;
    item.className = mentionsMe ? "mentions-me" : "";
    item.innerHTML = "";
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = (message.author.name || text.i18nFormerMember) + " · " + when(message.created) + (message.edited ? " · " + text.i18nEdited : "");
    if (mentionsMe) {
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = text.i18nMentionsYou;
      meta.appendChild(tag);
    }
    var content = document.createElement("div");
    if (message.deleted) { content.className = "deleted"; content.textContent = text.i18nDeleted; }
    else { content.innerHTML = message.html; }  // rendered and sanitised by the server
    item.appendChild(meta);
    item.appendChild(content);
    item.dataset.body = content.textContent;
    if (message.deleted) return item;
    var actions = document.createElement("div");
    actions.className = "actions";
    if (mine) {
      actions.appendChild(action(text.i18nEdit, function () {
        var value = window.prompt(text.i18nEditPrompt, item.dataset.body || "");
        if (value && value.trim()) act("message.edit", "messages/" + message.id + "/edit/", {message: message.id, body: value.trim()});
      }));
    }
    if (mine || room.can_moderate) {
      actions.appendChild(action(text.i18nDelete, function () {
        if (window.confirm(text.i18nDeleteConfirm)) act("message.delete", "messages/" + message.id + "/delete/", {message: message.id});
      }));
    }
    if (!mine && room.can_moderate && message.author.id) {
      actions.appendChild(action(text.i18nMute, function (event) { openMute(message, event.currentTarget); }));
    }
    if (!mine) {
      actions.appendChild(action(text.i18nReport, function (event) { openReport(message, item, event.currentTarget); }));
    }
    item.appendChild(actions);
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
    if (live) { frame(Object.assign({type: type}, fields)); return; }
    post(path, fields).then(function (data) { unsent = null; show(data.message, false); })
      .catch(function (error) { refused(error.message); });
  }

  // A refused message goes back into an empty composer, so that it is not lost.
  function refused(message) {
    status.textContent = message;
    if (unsent !== null && !body.value) body.value = unsent;
    unsent = null;
  }

  // Shows a message, or updates it in place; true when it was added at the bottom as a new one.
  function show(message, atTop) {
    if (message.room !== current) return false;
    var existing = document.getElementById("m" + message.id), last = pane.lastElementChild;
    // An older message replayed by the HTTP catch-up belongs to "Load older messages", not at the bottom.
    if (!existing && !atTop && last && message.id < Number(last.id.slice(1))) return false;
    var item = messageItem(message);
    if (existing) return false;
    if (atTop) { pane.insertBefore(item, pane.firstChild); return false; }
    pane.appendChild(item);
    pane.scrollTop = pane.scrollHeight;
    return true;
  }

  function markRead(messageId) {
    if (!current || !messageId) return;
    post("rooms/" + current + "/read/", {message: messageId}).catch(function () {});
    rooms[current].unread = 0;
    rooms[current].mentions = 0;
    renderRooms();
  }

  function loadHistory() {
    var query = before ? "?before=" + before : "", room = current;
    return request("rooms/" + room + "/messages/" + query).then(function (data) {
      if (room !== current) return;
      data.messages.forEach(function (message) { show(message, true); });
      before = data.before;
      older.hidden = !before;
      if (!pane.children.length && rooms[room].can_post) status.textContent = text.i18nEmpty;
      if (data.messages.length && !query) { pane.scrollTop = pane.scrollHeight; markRead(data.messages[0].id); }
    });
  }

  // The open room --------------------------------------------------------------------------------

  function roomControls() {
    var room = rooms[current];
    composer.hidden = !room.can_post;
    leave.hidden = !room.can_leave;
    invite.hidden = !room.can_invite;
    applyMute();
  }

  function applyMute() {
    var room = current !== null && rooms[current];
    var until = room && room.muted_until ? new Date(room.muted_until) : null;
    var muted = until !== null && until > new Date();
    clearTimeout(unmuteTimer);
    mutedNote.hidden = !muted;
    mutedNote.textContent = muted ? fill(text.i18nMuted, {until: when(until)}) : "";
    body.disabled = muted;
    send.disabled = muted;
    if (muted) unmuteTimer = setTimeout(applyMute, Math.min(until - new Date() + 1000, 0x7fffffff));
  }

  // What the status line says when nothing happened: how the page is connected, whether one may write.
  function baseStatus() {
    if (!live) return text.i18nOffline;
    return current !== null && !rooms[current].can_post ? text.i18nReadonly : "";
  }

  function open(roomId) {
    var room = rooms[roomId];
    current = roomId;
    before = null;
    pane.innerHTML = "";
    title.textContent = room.name;
    notice.textContent = "";
    status.textContent = baseStatus();
    invite.open = false;
    mentions.close();
    roomControls();
    present = {};
    clearTypists();
    renderOnline();
    renderRooms();
    watch();
    loadHistory();
    var url = new URL(location.href);
    url.searchParams.set("room", roomId);
    history.replaceState(null, "", url);
  }

  function clearPane() {
    current = null;
    before = null;
    pane.innerHTML = "";
    title.textContent = noRoomTitle;
    status.textContent = "";
    older.hidden = true;
    composer.hidden = true;
    leave.hidden = true;
    invite.hidden = true;
    mentions.close();
    present = {};
    clearTypists();
    renderOnline();
  }

  // Presence and typing ----------------------------------------------------------------------------

  function watch() {
    if (current === null) return;
    if (live) frame({type: "watch", room: current});
    else fetchPresence();
  }

  function fetchPresence() {
    var room = current;
    if (room === null) return;
    request("rooms/" + room + "/presence/").then(function (data) {
      if (room === current) setOnline(data.online);
    }).catch(function () {});
  }

  function setOnline(people) {
    present = {};
    people.forEach(function (person) { if (person.id !== me) present[person.id] = person.name; });
    renderOnline();
  }

  function renderOnline() {
    online.hidden = current === null;
    onlineList.innerHTML = "";
    var names = Object.keys(present).map(function (id) { return present[id]; }).sort(function (a, b) { return a.localeCompare(b, lang); });
    if (!names.length) names = [null];
    names.forEach(function (name) {
      var item = document.createElement("li");
      if (name === null) { item.className = "muted"; item.textContent = text.i18nNobodyOnline; }
      else item.textContent = name;
      onlineList.appendChild(item);
    });
  }

  function typing(user) {
    if (typists[user.id]) clearTimeout(typists[user.id].timer);
    typists[user.id] = {name: user.name, timer: setTimeout(function () { stopTyping(user.id); }, TYPING_SHOWN)};
    renderTyping();
  }

  function stopTyping(userId) {
    if (!typists[userId]) return;
    clearTimeout(typists[userId].timer);
    delete typists[userId];
    renderTyping();
  }

  function clearTypists() {
    Object.keys(typists).forEach(function (id) { clearTimeout(typists[id].timer); });
    typists = {};
    renderTyping();
  }

  function renderTyping() {
    var names = Object.keys(typists).map(function (id) { return typists[id].name; }), line = "";
    if (names.length === 1) line = fill(text.i18nTypingOne, {name: names[0]});
    else if (names.length > 1) line = fill(text.i18nTypingMany, {names: names.slice(0, -1).join(", "), name: names[names.length - 1]});
    if (typingLine.textContent !== line) typingLine.textContent = line;  // unchanged text is not announced again
  }

  // Events ---------------------------------------------------------------------------------------

  function handle(event) {
    if (event.event_id) lastEvent = Math.max(lastEvent, event.event_id);
    var room = rooms[event.room];
    if (event.message && event.type.indexOf("message.") === 0) {
      if (event.room === current) {
        status.textContent = baseStatus();
        if (show(event.message, false) && event.type === "message.new") {
          stopTyping(event.message.author.id);
          markRead(event.message.id);
        }
      } else if (event.type === "message.new" && room && event.message.author.id !== me && event.event_id > countedUpTo) {
        room.unread += 1;
        renderRooms();
      } else if (event.type === "message.new" && !room) {
        // A room this page does not list yet (a conversation that just opened, its list still on
        // the way): the list read again counts the message, which is stored before it is sent.
        loadRooms().catch(function (error) { status.textContent = error.message; });
      }
    } else if (event.type === "presence.list" && event.room === current) {
      // The server now relays this room's presence and typing to this socket.
      root.dataset.watching = event.room;
      setOnline(event.online);
    } else if (event.type === "presence" && event.room === current) {
      if (event.online) present[event.user.id] = event.user.name;
      else { delete present[event.user.id]; stopTyping(event.user.id); }
      renderOnline();
    } else if (event.type === "typing" && event.room === current) {
      typing(event.user);
    } else if (event.type === "rooms") {
      loadRooms().catch(function (error) { status.textContent = error.message; });
    } else if (event.type === "mention") {
      if (room && event.room !== current) { room.mentions += 1; renderRooms(); }
      notice.textContent = fill(text.i18nMentioned, {by: event.by, room: event.room_name});
    } else if (event.type === "muted") {
      if (room) room.muted_until = event.until;
      if (event.room === current) applyMute();
    } else if (event.type === "hello") {
      if (!lastEvent) lastEvent = event.last_event_id;
    } else if (event.type === "sent") {
      unsent = null;
    } else if (event.type === "error" && event.code === "unavailable") {
      // The server closes the socket: it reconnects by itself and resumes from lastEvent. A
      // message sent just before may not have been taken: it goes back into the composer.
      if (unsent !== null && !body.value) body.value = unsent;
      unsent = null;
      status.textContent = text.i18nOffline;
    } else if (event.type === "error") {
      refused(event.message);
      if (event.code === "muted") loadRooms().catch(function () {});  // learns until when
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try { socket = new WebSocket(scheme + location.host + text.socket); } catch (e) { return poll(); }
    socket.onopen = function () {
      live = true; retry = 1000;
      if (status.textContent === text.i18nOffline) status.textContent = baseStatus();
      if (lastEvent) frame({type: "resume", last_event_id: lastEvent});
      watch();
    };
    socket.onmessage = function (event) { handle(JSON.parse(event.data)); };
    socket.onclose = function () {
      live = false;
      delete root.dataset.watching;
      status.textContent = text.i18nOffline;
      fetchPresence();
      // Spread out, so that the sockets a restart closed together do not all come back together.
      setTimeout(connect, retry * (0.5 + Math.random()));
      retry = Math.min(retry * 2, 30000);
    };
  }

  function poll() {
    if (live) return;
    request("events/?after=" + lastEvent).then(function (data) { data.events.forEach(handle); }).catch(function () {});
  }
  setInterval(poll, 5000);
  setInterval(function () { if (!live) fetchPresence(); }, 30000);
  setInterval(function () { frame({type: "ping"}); }, PING_EVERY);  // keeps this person's presence fresh

  // Suggestions of people: a listbox under a field, arrow keys to move, Enter or Tab to choose,
  // Escape to close. `word` says what to look up (nothing: no list), `pick` receives the person.
  function suggest(input, listbox, word, path, pick, keep) {
    var note = listbox.parentNode.querySelector("[data-note]");
    var combobox = input.getAttribute("role") === "combobox";
    var found = [], active = 0, timer = null;
    function close() {
      clearTimeout(timer);
      found = [];
      listbox.hidden = true;
      listbox.innerHTML = "";
      input.removeAttribute("aria-activedescendant");
      if (combobox) input.setAttribute("aria-expanded", "false");
    }
    function highlight(index) {
      active = (index + found.length) % found.length;
      Array.prototype.forEach.call(listbox.children, function (option, position) {
        option.setAttribute("aria-selected", String(position === active));
      });
      input.setAttribute("aria-activedescendant", listbox.children[active].id);
      listbox.children[active].scrollIntoView({block: "nearest"});
    }
    function choose(index) {
      var person = found[index];
      close();
      pick(person);
    }
    function render(people) {
      close();
      note.textContent = people.length ? fill(text.i18nFound, {count: people.length}) : text.i18nNobodyFound;
      if (!people.length) return;
      found = people;
      people.forEach(function (person, index) {
        var option = document.createElement("li");
        option.id = listbox.id + "-" + index;
        option.setAttribute("role", "option");
        option.textContent = person.name;
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keeps the focus in the field
        option.addEventListener("click", function () { choose(index); });
        listbox.appendChild(option);
      });
      listbox.hidden = false;
      if (combobox) input.setAttribute("aria-expanded", "true");
      highlight(0);
    }
    function lookup() {
      var query = word();
      clearTimeout(timer);
      if (!query) { close(); return; }
      timer = setTimeout(function () {
        request(path(query)).then(function (data) {
          if (word() === query) render(data.people.filter(function (person) { return person.name && (!keep || keep(person)); }));
        }).catch(function () { close(); });
      }, 200);
    }
    input.addEventListener("input", lookup);
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (event) {
      if (listbox.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") { event.preventDefault(); highlight(active + (event.key === "ArrowDown" ? 1 : -1)); }
      else if (event.key === "Enter" || (event.key === "Tab" && !event.shiftKey)) { event.preventDefault(); choose(active); }
      else if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    return {close: close};
  }

  // A field to choose people from the directory, shown as a list of names that can be removed.
  function picker(box) {
    var input = box.querySelector("input"), list = box.querySelector(".chat-chosen"), chosen = {};
    function render() {
      list.innerHTML = "";
      Object.keys(chosen).forEach(function (id) {
        var item = document.createElement("li"), remove = document.createElement("button");
        item.textContent = chosen[id] + " ";
        remove.type = "button";
        remove.className = "link";
        remove.textContent = "✕";
        remove.setAttribute("aria-label", fill(text.i18nRemove, {name: chosen[id]}));
        remove.addEventListener("click", function () { delete chosen[id]; render(); input.focus(); });
        item.appendChild(remove);
        list.appendChild(item);
      });
    }
    suggest(
      input, box.querySelector("[role=listbox]"),
      function () { return input.value.trim(); },
      function (query) { return "people/?q=" + encodeURIComponent(query); },
      function (person) { chosen[person.id] = person.name; input.value = ""; render(); },
      function (person) { return !chosen[person.id]; }
    );
    return {
      ids: function () { return Object.keys(chosen).map(Number); },
      reset: function () { chosen = {}; input.value = ""; render(); }
    };
  }

  // A form sent as JSON, its errors shown in it.
  function submitted(form, handler) {
    var errors = form.querySelector(".form-errors"), button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errors.hidden = true;
      button.disabled = true;
      handler().catch(function (error) { errors.textContent = error.message; errors.hidden = false; })
        .then(function () { button.disabled = false; });
    });
  }

  function openCreated(data) {
    return loadRooms().then(function () { if (rooms[data.room.id]) open(data.room.id); });
  }

  // The composer and its mentions --------------------------------------------------------------------

  function mentionWord() {
    var match = /(?:^|[^\w@])@([^\s@]+)$/.exec(body.value.slice(0, body.selectionStart));
    return match && current !== null ? match[1] : "";
  }

  var mentions = suggest(
    body, byId("chat-mention-list"), mentionWord,
    function (query) { return "people/?q=" + encodeURIComponent(query) + "&room=" + current; },
    function (person) {
      var caret = body.selectionStart, start = body.value.lastIndexOf("@", caret - 1), inserted = "@" + person.name + " ";
      body.value = body.value.slice(0, start) + inserted + body.value.slice(caret);
      body.selectionStart = body.selectionEnd = start + inserted.length;
    }
  );

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = body.value.trim();
    if (!value || !current) return;
    unsent = value;
    act("message.send", "rooms/" + current + "/messages/", {room: current, body: value});
    body.value = "";
    mentions.close();
  });
  body.addEventListener("keydown", function (event) {
    // The suggestions' own handler runs first and marks the keys it used.
    if (event.defaultPrevented) return;
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); }
  });
  body.addEventListener("input", function () {
    if (!live || current === null || !body.value || Date.now() - typedAt < TYPING_EVERY) return;
    typedAt = Date.now();
    frame({type: "typing", room: current});
  });
  older.addEventListener("click", loadHistory);
  // Scrolling to the top of the pane loads older messages, keeping the reader's place.
  var loadingOlder = false;
  pane.addEventListener("scroll", function () {
    if (loadingOlder || !before || pane.scrollTop > 40) return;
    loadingOlder = true;
    var fromBottom = pane.scrollHeight - pane.scrollTop;
    loadHistory().then(function () { pane.scrollTop = pane.scrollHeight - fromBottom; })
      .catch(function () {}).then(function () { loadingOlder = false; });
  });

  // Rooms: new topic, new conversation, invitations, leaving --------------------------------------

  var topicForm = byId("chat-topic-form"), topicPicker = byId("chat-topic-picker"), topicPeople = picker(topicPicker);
  topicForm.addEventListener("change", function () {
    topicPicker.hidden = topicForm.elements.audience.value !== "invited";
  });
  submitted(topicForm, function () {
    var audience = topicForm.elements.audience.value;
    return post("topics/", {
      chapter: Number(topicForm.elements.chapter.value),
      name: byId("chat-topic-name").value,
      audience: audience,
      people: audience === "invited" ? topicPeople.ids() : []
    }).then(function (data) {
      topicForm.reset();
      topicPeople.reset();
      topicPicker.hidden = true;
      newTopic.open = false;
      return openCreated(data);
    });
  });

  var directForm = byId("chat-direct-form"), directPeople = picker(byId("chat-direct-picker"));
  submitted(directForm, function () {
    return post("direct/", {people: directPeople.ids()}).then(function (data) {
      directPeople.reset();
      newDirect.open = false;
      return openCreated(data);
    });
  });

  var invitePeople = picker(byId("chat-invite-picker"));
  submitted(byId("chat-invite-form"), function () {
    return post("rooms/" + current + "/invite/", {people: invitePeople.ids()}).then(function (data) {
      invitePeople.reset();
      invite.open = false;
      var names = data.added.map(function (person) { return person.name; }).join(", ");
      notice.textContent = names ? fill(text.i18nInvited, {names: names}) : text.i18nInvitedNone;
    });
  });

  leave.addEventListener("click", function () {
    var room = rooms[current];
    if (!room || !window.confirm(text.i18nLeaveConfirm)) return;
    post("rooms/" + room.id + "/leave/").then(function () {
      delete rooms[room.id];
      order = order.filter(function (id) { return id !== room.id; });
      clearPane();
      renderRooms();
      notice.textContent = fill(text.i18nLeft, {room: room.name});
    }).catch(function (error) { status.textContent = error.message; });
  });

  // Reports and mutes, in dialogs ------------------------------------------------------------------

  function dialog(element, handler) {
    var form = element.querySelector("form"), opener = null;
    element.querySelector("[data-close]").addEventListener("click", function () { element.close(); });
    element.addEventListener("close", function () { if (opener && opener.isConnected) opener.focus(); });
    submitted(form, function () { return handler().then(function () { element.close(); }); });
    return function (from) {
      opener = from;
      form.reset();
      form.querySelector(".form-errors").hidden = true;
      element.showModal();
    };
  }

  var reported = null;
  var showReport = dialog(byId("chat-report"), function () {
    var form = byId("chat-report-form");
    return post("messages/" + reported + "/report/", {reason: form.elements.reason.value, note: form.elements.note.value})
      .then(function () { notice.textContent = text.i18nReported; });
  });
  function openReport(message, item, opener) {
    reported = message.id;
    var quote = item.dataset.body || "";
    byId("chat-report-quote").textContent = quote.length > 300 ? quote.slice(0, 300) + "…" : quote;
    showReport(opener);
  }

  var muting = null;
  var showMute = dialog(byId("chat-mute"), function () {
    var form = byId("chat-mute-form"), who = muting;
    return post("rooms/" + who.room + "/mutes/", {user: who.id, minutes: Number(form.elements.minutes.value), reason: form.elements.reason.value})
      .then(function (data) { notice.textContent = fill(text.i18nMutedAuthor, {name: who.name, until: when(data.muted_until)}); });
  });
  function openMute(message, opener) {
    muting = {id: message.author.id, name: message.author.name, room: message.room};
    byId("chat-mute-who").textContent = message.author.name;
    showMute(opener);
  }

  loadRooms().then(function () {
    var asked = Number(new URLSearchParams(location.search).get("room"));
    var chapters = order.filter(function (id) { return rooms[id].kind === "chapter"; });
    var first = rooms[asked] ? asked : chapters.length ? chapters[chapters.length - 1] : order[0];
    if (first !== undefined) open(first);
    connect();
  }).catch(function (error) { status.textContent = error.message; });
})();
