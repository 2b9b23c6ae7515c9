/*
 * Herald inbox client. No dependencies. A classic script (`/sdk/herald.js`, which sets
 * `window.Herald`) or an ES module (`/sdk/herald.mjs`); types in `/sdk/herald.d.ts`.
 *
 *   const inbox = Herald.connect({
 *     url: "https://herald.example",      // where Herald runs (default: this page's origin)
 *     token: "eyJ…",                      // a subscriber token (or a function returning one)
 *     onMessage(item) {},                 // each new inbox item, once, in order
 *     onUnread(count) {},                 // the unread badge
 *     onRead(ids) {},                     // items read elsewhere (no ids: all)
 *     onRecall(ids) {},                   // items the sender recalled: remove them
 *     onStatus(transport, state) {},      // "sse" | "ws" | "longpoll", "open" | "closed"
 *   });
 *   await inbox.markRead(id); await inbox.markAllRead(); inbox.close();
 *
 * It reads the newest items first, then follows the inbox live over EventSource,
 * falling back to WebSocket, then to long-polling: a transport that fails before it
 * delivers anything, or delivers nothing within `openTimeoutMs` (a proxy that buffers
 * the stream), hands over to the next. On a fallback it tries the first transport
 * again every `climbBackMs` and moves back up when it works. After any interruption
 * it waits (exponential backoff with full jitter) and resumes from the last item it
 * saw, so nothing is missed or shown twice. `markRead` and `markAllRead` reject with a
 * `HeraldError` (status, code, message) when Herald refuses; errors are never taken
 * for data.
 */
(function (global) {
  "use strict";

  var TRANSPORTS = ["sse", "ws", "longpoll"];
  var FIRST_RETRY_MS = 1000;
  var LONGEST_RETRY_MS = 30000;

  // What Herald answered when it refused a call: the HTTP status and the error body's
  // `code`, `message` and `field` (`{"error": {…}}`).
  function HeraldError(status, body) {
    var error = (body && body.error) || {};
    this.name = "HeraldError";
    this.status = status;
    this.code = error.code || "http_" + status;
    this.message = error.message || "Herald answered " + status;
    this.field = error.field || null;
  }
  HeraldError.prototype = Object.create(Error.prototype);
  HeraldError.prototype.constructor = HeraldError;

  // The JSON body of a successful answer; a refusal becomes a HeraldError.
  function jsonOf(response) {
    if (response.ok) return response.json();
    return response
      .json()
      .catch(function () { return null; })
      .then(function (body) { throw new HeraldError(response.status, body); });
  }

  function Inbox(options) {
    this.url = (options.url || global.location.origin).replace(/\/$/, "");
    this.token = options.token;
    this.handlers = options;
    this.transports = (options.transports || TRANSPORTS).filter(function (name) {
      if (name === "sse") return typeof global.EventSource === "function";
      if (name === "ws") return typeof global.WebSocket === "function";
      return name === "longpoll";
    });
    this.openTimeoutMs = options.openTimeoutMs || 10000;
    this.climbBackMs = options.climbBackMs || 60000;
    this.lastId = 0;
    this.unread = { count: 0, version: -1 };
    this.seen = {};
    this.closed = false;
    this.failures = 0;
    this.timers = [];
    // Transports that delivered in this session, and failed tries of the current one
    // since it last did: one that worked is tried a few times before giving it up (a
    // server restart is not a broken transport).
    this.worked = {};
    this.strikes = 0;
  }

  Inbox.prototype.call = function (name, a, b) {
    var handler = this.handlers[name];
    if (typeof handler === "function") handler(a, b);
  };

  Inbox.prototype.currentToken = function () {
    return Promise.resolve(typeof this.token === "function" ? this.token() : this.token);
  };

  Inbox.prototype.request = function (method, path, signal) {
    var self = this;
    return this.currentToken().then(function (token) {
      return fetch(self.url + path, {
        method: method,
        headers: { Authorization: "Bearer " + token },
        signal: signal,
      });
    });
  };

  // Keeps the pair with the highest version, whichever transport it came over.
  Inbox.prototype.setUnread = function (pair) {
    if (!pair || typeof pair.version !== "number" || pair.version < this.unread.version) return;
    this.unread = pair;
    this.call("onUnread", pair.count);
  };

  Inbox.prototype.deliver = function (item) {
    if (this.seen[item.id]) return;
    this.seen[item.id] = true;
    if (item.id > this.lastId) this.lastId = item.id;
    this.call("onMessage", item);
  };

  Inbox.prototype.timer = function (fn, ms) {
    var self = this;
    var id = setTimeout(function () {
      self.timers = self.timers.filter(function (t) { return t !== id; });
      if (!self.closed) fn();
    }, ms);
    this.timers.push(id);
    return id;
  };

  Inbox.prototype.cancel = function (id) {
    clearTimeout(id);
    this.timers = this.timers.filter(function (t) { return t !== id; });
  };

  // Runs `fn` after a backoff: a random wait up to twice the last ceiling (full
  // jitter), so clients cut off together do not come back together.
  Inbox.prototype.later = function (fn) {
    var ceiling = Math.min(FIRST_RETRY_MS * Math.pow(2, this.failures), LONGEST_RETRY_MS);
    this.failures += 1;
    this.timer(fn, Math.random() * ceiling);
  };

  Inbox.prototype.start = function () {
    var self = this;
    this.request("GET", "/v1/inbox?limit=50")
      .then(jsonOf)
      .then(function (page) {
        page.items.slice().reverse().forEach(function (item) { self.deliver(item); });
        self.setUnread(page.unread);
        self.open(0);
      })
      .catch(function () { self.later(function () { self.start(); }); });
    return this;
  };

  // Opens transport number `index`. One that fails or stays silent before its first
  // frame hands over to the next; one that worked and dropped is reopened.
  Inbox.prototype.open = function (index) {
    if (this.closed) return;
    index = Math.min(index, this.transports.length - 1);
    var name = this.transports[index];
    var self = this;
    var attempt = {};
    this.attempt = attempt;
    var current = function () { return self.attempt === attempt && !self.closed; };
    var settled = false;
    var watchdog = null;
    var handlers = {
      // The first frame: this transport works.
      live: function () {
        if (!current() || settled) return;
        settled = true;
        self.cancel(watchdog);
        self.failures = 0;
        self.strikes = 0;
        self.worked[name] = true;
        self.call("onStatus", name, "open");
        if (index > 0) self.timer(function () { if (current()) self.climb(index); }, self.climbBackMs);
      },
      // Dropped: before its first frame, fall back (after a few tries, for one that
      // worked before); after, reopen it.
      ended: function () {
        if (!current()) return;
        self.cancel(watchdog);
        self.call("onStatus", name, "closed");
        var failedToOpen = !settled;
        settled = true;
        self.strikes += failedToOpen ? 1 : 0;
        var giveUp = failedToOpen && (!self.worked[name] || self.strikes >= 3);
        if (giveUp && index + 1 < self.transports.length) {
          self.strikes = 0;
          self.open(index + 1);
        } else {
          self.later(function () { self.open(index); });
        }
      },
    };
    watchdog = this.timer(function () {
      if (!current() || settled) return;
      self.disconnect();
      handlers.ended();
    }, this.openTimeoutMs);
    this.currentToken().then(function (token) {
      if (!current()) return;
      if (name === "sse") self.openSse(token, handlers, current);
      else if (name === "ws") self.openWs(token, handlers, current);
      else self.poll(handlers, current, 1);
    });
  };

  // Tries the first transport again from fallback `index`; the fallback keeps running
  // until the first one delivers, so a failed try loses nothing.
  Inbox.prototype.climb = function (index) {
    var self = this;
    var fallbackAttempt = this.attempt;
    var name = this.transports[0];
    var probe = {};
    this.currentToken().then(function (token) {
      if (self.closed || self.attempt !== fallbackAttempt) return;
      var settled = false;
      var handlers = {
        live: function () {
          if (settled) return;
          settled = true;
          // The fallback dropped and was reopened meanwhile: that one stays.
          if (self.attempt !== fallbackAttempt) {
            if (connection.close) connection.close();
            return;
          }
          // Up again: the probe becomes the connection, and the fallback's connection
          // now (a long-poll makes a new one per poll) is closed.
          var fallback = self.connection;
          self.attempt = probe;
          self.connection = connection;
          if (fallback && fallback.close) fallback.close();
          self.failures = 0;
          self.strikes = 0;
          self.worked[name] = true;
          self.call("onStatus", name, "open");
        },
        ended: function () {
          if (!settled) {
            settled = true;
            if (self.attempt === fallbackAttempt) {
              self.timer(function () { if (self.attempt === fallbackAttempt) self.climb(index); }, self.climbBackMs);
            }
            return;
          }
          if (self.attempt !== probe) return;
          self.call("onStatus", name, "closed");
          self.later(function () { self.open(0); });
        },
      };
      var isCurrent = function () {
        return !self.closed && (self.attempt === probe || (!settled && self.attempt === fallbackAttempt));
      };
      var connection = name === "sse" ? self.sse(token, handlers, isCurrent) : self.ws(token, handlers, isCurrent);
      self.timer(function () {
        if (!settled) { if (connection.close) connection.close(); handlers.ended(); }
      }, self.openTimeoutMs);
    });
  };

  Inbox.prototype.disconnect = function () {
    if (this.connection && this.connection.close) this.connection.close();
    this.connection = null;
  };

  Inbox.prototype.openSse = function (token, handlers, current) {
    this.connection = this.sse(token, handlers, current);
  };

  Inbox.prototype.openWs = function (token, handlers, current) {
    this.connection = this.ws(token, handlers, current);
  };

  // An EventSource from the last id; Herald sends the unread pair first, so a frame
  // arrives at once on a stream that works.
  Inbox.prototype.sse = function (token, handlers, current) {
    var self = this;
    var query = "?token=" + encodeURIComponent(token) + "&last_event_id=" + this.lastId;
    var source = new EventSource(this.url + "/v1/stream/sse" + query);
    var frame = function (handle) {
      return function (event) {
        if (!current()) return;
        handlers.live();
        handle(JSON.parse(event.data));
      };
    };
    source.addEventListener("message", frame(function (item) { self.deliver(item); }));
    source.addEventListener("unread", frame(function (pair) { self.setUnread(pair); }));
    source.addEventListener("read", frame(function (read) { self.call("onRead", read.ids); }));
    source.addEventListener("recalled", frame(function (recalled) { self.call("onRecall", recalled.ids); }));
    source.onerror = function () {
      // Reopened by us, from the last id and with a fresh token.
      source.close();
      handlers.ended();
    };
    return source;
  };

  Inbox.prototype.ws = function (token, handlers, current) {
    var self = this;
    var base = this.url.replace(/^http/, "ws");
    var query = "?token=" + encodeURIComponent(token) + "&last_event_id=" + this.lastId;
    var socket = new WebSocket(base + "/v1/stream/ws" + query);
    socket.onmessage = function (event) {
      if (!current()) return;
      handlers.live();
      var frame = JSON.parse(event.data);
      if (frame.event === "message") self.deliver(frame.item);
      else if (frame.event === "unread") self.setUnread(frame);
      else if (frame.event === "read") self.call("onRead", frame.ids);
      else if (frame.event === "recalled") self.call("onRecall", frame.ids);
    };
    socket.onclose = function () { handlers.ended(); };
    return socket;
  };

  // Long-polls from the last id; an answer (items, or 204 at the end of `timeout`
  // seconds) shows the transport works. The first poll waits a second, so a working
  // long-poll shows itself well within the open timeout.
  Inbox.prototype.poll = function (handlers, current, timeout) {
    var self = this;
    // Closing the connection aborts the waiting poll (it holds a place among the
    // subscriber's streams on the server).
    var waiting = new AbortController();
    this.connection = { close: function () { waiting.abort(); } };
    var path = "/v1/inbox/poll?timeout=" + (timeout || 25) + "&after=" + this.lastId;
    this.request("GET", path, waiting.signal)
      .then(function (response) {
        if (response.status === 204) return null;
        return jsonOf(response);
      })
      .then(function (page) {
        if (!current()) return;
        handlers.live();
        if (page) {
          page.items.forEach(function (item) { self.deliver(item); });
          if (page.recalled && page.recalled.length) self.call("onRecall", page.recalled);
          self.setUnread(page.unread);
        }
        self.poll(handlers, current);
      })
      .catch(function () { if (current()) handlers.ended(); });
  };

  Inbox.prototype.markRead = function (id) {
    var self = this;
    return this.request("POST", "/v1/inbox/" + encodeURIComponent(id) + "/read")
      .then(jsonOf)
      .then(function (pair) { self.setUnread(pair); return pair; });
  };

  Inbox.prototype.markAllRead = function () {
    var self = this;
    return this.request("POST", "/v1/inbox/read-all")
      .then(jsonOf)
      .then(function (pair) { self.setUnread(pair); return pair; });
  };

  Inbox.prototype.close = function () {
    this.closed = true;
    this.timers.forEach(clearTimeout);
    this.timers = [];
    this.disconnect();
  };

  global.Herald = {
    connect: function (options) { return new Inbox(options).start(); },
    HeraldError: HeraldError,
  };
})(typeof globalThis !== "undefined" ? globalThis : this);
