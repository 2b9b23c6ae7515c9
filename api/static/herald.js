/*
 * Herald inbox client. No dependencies.
 *
 *   const inbox = Herald.connect({
 *     url: "https://herald.example",      // where Herald runs (default: this page's origin)
 *     token: "eyJ…",                      // a subscriber token (or a function returning one)
 *     onMessage(item) {},                 // each new inbox item, once, in order
 *     onUnread(count) {},                 // the unread badge
 *     onRead(ids) {},                     // items read elsewhere (no ids: all)
 *     onStatus(transport, state) {},      // "sse" | "ws" | "longpoll", "open" | "closed"
 *   });
 *   inbox.markRead(id); inbox.markAllRead(); inbox.close();
 *
 * It reads the newest items first, then follows the inbox live over EventSource,
 * falling back to WebSocket, then to long-polling. After any interruption it resumes
 * from the last item it saw, so nothing is missed or shown twice.
 */
(function (global) {
  "use strict";

  var TRANSPORTS = ["sse", "ws", "longpoll"];

  function Inbox(options) {
    this.url = (options.url || global.location.origin).replace(/\/$/, "");
    this.token = options.token;
    this.handlers = options;
    this.transports = (options.transports || TRANSPORTS).filter(function (name) {
      if (name === "sse") return typeof global.EventSource === "function";
      if (name === "ws") return typeof global.WebSocket === "function";
      return name === "longpoll";
    });
    this.lastId = 0;
    this.unread = { count: 0, version: -1 };
    this.seen = {};
    this.closed = false;
    this.retryMs = 1000;
  }

  Inbox.prototype.call = function (name, a, b) {
    var handler = this.handlers[name];
    if (typeof handler === "function") handler(a, b);
  };

  Inbox.prototype.currentToken = function () {
    return Promise.resolve(typeof this.token === "function" ? this.token() : this.token);
  };

  Inbox.prototype.request = function (method, path) {
    var self = this;
    return this.currentToken().then(function (token) {
      return fetch(self.url + path, {
        method: method,
        headers: { Authorization: "Bearer " + token },
      });
    });
  };

  // Keeps the pair with the highest version, whichever transport it came over.
  Inbox.prototype.setUnread = function (pair) {
    if (!pair || pair.version < this.unread.version) return;
    this.unread = pair;
    this.call("onUnread", pair.count);
  };

  Inbox.prototype.deliver = function (item) {
    if (this.seen[item.id]) return;
    this.seen[item.id] = true;
    if (item.id > this.lastId) this.lastId = item.id;
    this.call("onMessage", item);
  };

  Inbox.prototype.start = function () {
    var self = this;
    this.request("GET", "/v1/inbox?limit=50")
      .then(function (response) {
        if (!response.ok) throw new Error("inbox answered " + response.status);
        return response.json();
      })
      .then(function (page) {
        page.items.slice().reverse().forEach(function (item) { self.deliver(item); });
        self.setUnread(page.unread);
        self.open(0);
      })
      .catch(function () { self.later(function () { self.start(); }); });
    return this;
  };

  Inbox.prototype.later = function (fn) {
    if (this.closed) return;
    var wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 30000);
    setTimeout(fn, wait);
  };

  // Opens transport number `index`; one that never opens hands over to the next.
  Inbox.prototype.open = function (index) {
    if (this.closed) return;
    var name = this.transports[index] || "longpoll";
    var self = this;
    var next = function () { self.open(Math.min(index + 1, self.transports.length - 1)); };
    var again = function () { self.later(function () { self.open(index); }); };
    this.currentToken().then(function (token) {
      if (name === "sse") self.openSse(token, next, again);
      else if (name === "ws") self.openWs(token, next, again);
      else self.poll();
    });
  };

  Inbox.prototype.openSse = function (token, fallBack, reopen) {
    var self = this;
    var opened = false;
    var query = "?token=" + encodeURIComponent(token) + "&last_event_id=" + this.lastId;
    var source = new EventSource(this.url + "/v1/stream/sse" + query);
    this.connection = source;
    source.onopen = function () {
      opened = true;
      self.retryMs = 1000;
      self.call("onStatus", "sse", "open");
    };
    source.addEventListener("message", function (event) { self.deliver(JSON.parse(event.data)); });
    source.addEventListener("unread", function (event) { self.setUnread(JSON.parse(event.data)); });
    source.addEventListener("read", function (event) { self.call("onRead", JSON.parse(event.data).ids); });
    source.onerror = function () {
      // Reopen ourselves, from the last id and with a fresh token.
      source.close();
      self.call("onStatus", "sse", "closed");
      if (opened) reopen(); else fallBack();
    };
  };

  Inbox.prototype.openWs = function (token, fallBack, reopen) {
    var self = this;
    var opened = false;
    var base = this.url.replace(/^http/, "ws");
    var query = "?token=" + encodeURIComponent(token) + "&last_event_id=" + this.lastId;
    var socket = new WebSocket(base + "/v1/stream/ws" + query);
    this.connection = socket;
    socket.onopen = function () {
      opened = true;
      self.retryMs = 1000;
      self.call("onStatus", "ws", "open");
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.event === "message") self.deliver(frame.item);
      else if (frame.event === "unread") self.setUnread(frame);
      else if (frame.event === "read") self.call("onRead", frame.ids);
    };
    socket.onclose = function () {
      self.call("onStatus", "ws", "closed");
      if (self.closed) return;
      if (opened) reopen(); else fallBack();
    };
  };

  Inbox.prototype.poll = function () {
    var self = this;
    if (this.closed) return;
    this.call("onStatus", "longpoll", "open");
    this.request("GET", "/v1/inbox/poll?timeout=25&after=" + this.lastId)
      .then(function (response) {
        if (response.status === 204) return null;
        if (!response.ok) throw new Error("poll answered " + response.status);
        return response.json();
      })
      .then(function (page) {
        if (page) {
          page.items.forEach(function (item) { self.deliver(item); });
          self.setUnread(page.unread);
        }
        self.retryMs = 1000;
        self.poll();
      })
      .catch(function () { self.later(function () { self.poll(); }); });
  };

  Inbox.prototype.markRead = function (id) {
    var self = this;
    return this.request("POST", "/v1/inbox/" + id + "/read")
      .then(function (response) { return response.json(); })
      .then(function (pair) { self.setUnread(pair); return pair; });
  };

  Inbox.prototype.markAllRead = function () {
    var self = this;
    return this.request("POST", "/v1/inbox/read-all")
      .then(function (response) { return response.json(); })
      .then(function (pair) { self.setUnread(pair); return pair; });
  };

  Inbox.prototype.close = function () {
    this.closed = true;
    if (this.connection && this.connection.close) this.connection.close();
  };

  global.Herald = {
    connect: function (options) { return new Inbox(options).start(); },
  };
})(typeof window !== "undefined" ? window : this);
