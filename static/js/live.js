// live.js: the browser side of the live layer (docs/PROTOCOL.md).
// One websocket per tab. It subscribes to what the page shows (a thread or a board, read from
// data attributes on <body>), to the member's inbox and, for moderators, to the moderators'
// stream; it keeps the last event id of each stream, reconnects by itself with backoff and
// jitter, and resumes from that id so nothing is lost. Events are patched into the page with
// the server's HTML; per-viewer controls come from data attributes (the server checks every
// action anyway). Vanilla JS, no inline anything (CSP), no build step.
(function () {
  "use strict";

  if (!("WebSocket" in window) || !document.body) return;

  // ------------------------------------------------------------ constants

  var TYPING_SEND_MS = 2100;        // server: TYPING_INTERVAL = 2.0 s per member and thread
  var TYPING_SHOWN_MS = 6000;       // an indicator not refreshed within this vanishes
  var PING_MS = 25000;              // application heartbeat (dead sockets go unnoticed)
  var SILENCE_MS = 60000;           // no frame at all for this long: the socket is dead
  var CONNECT_TIMEOUT_MS = 20000;   // a handshake not done by then is given up
  var HEARTBEAT_TICK_MS = 5000;
  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_CAP_MS = 30000;
  var ABUSE_BACKOFF_MS = 60000;     // after close 4008 (too many bad messages)
  var STABLE_MS = 10000;            // a socket open this long resets the backoff
  var RESUBSCRIBE_FIRST_MS = 1000;  // a subscribe the server could not serve (server_error)
  var MAX_SINCE_MS = 60000;         // server: MAX_SINCE_MS
  var PAGE_RENDER_MARGIN_MS = 1500; // the server rendered the page a little before we loaded
  var MAX_TOASTS = 3;
  var TOAST_MS = 6000;
  var PAUSED_TEXT = "Live updates paused — reconnecting…";

  // ------------------------------------------------------------ the page

  var body = document.body;
  var data = body.dataset;
  var me = Number(data.userId) || null;
  var threadId = Number(data.threadId) || null;
  var boardPage = !threadId && Number(data.boardId) && document.getElementById("board-new-threads");
  var boardId = boardPage ? Number(data.boardId) : null;
  var canModerate = data.canModerate === "1";
  var mayPost = data.mayPost === "1";
  var locked = Boolean(threadId && !isHiddenEl("flag-locked"));

  function $(id) { return document.getElementById(id); }
  function isHiddenEl(id) { var el = $(id); return !el || el.hidden; }
  function setHidden(el, hidden) { if (el) el.hidden = Boolean(hidden); }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function csrfToken() {
    if (window.CarocpForum && window.CarocpForum.csrfToken) return window.CarocpForum.csrfToken();
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // ------------------------------------------------------------ streams

  // name -> {lastId: number|null, dead: bool, subscribed: bool, typing: bool, replaying: bool}
  var streams = {};

  function want(name) {
    streams[name] = { lastId: null, dead: false, subscribed: false, typing: false,
                      replaying: false, resumed: false };
  }

  if (threadId) want("thread:" + threadId);
  if (boardId) want("board:" + boardId);
  if (me) want("inbox:" + me);
  if (me && data.moderator === "1") want("mod:all");

  var threadStream = threadId ? "thread:" + threadId : null;

  if (!Object.keys(streams).length) return;  // a visitor on a page with nothing live

  // ------------------------------------------------------------ the socket

  var socket = null;
  var attempt = 0;
  var reconnectTimer = null;
  var stableTimer = null;
  var pingTimer = null;
  var lastFrameAt = 0;
  var openedAt = 0;
  var lastPingAt = 0;
  var closingCode = null;
  var closingReason = "";
  var closingMember = null;
  var stopped = false;      // session ended (4001): never reconnect as that member
  var leaving = false;      // page unloading: a close is not "paused"
  var everLive = false;
  var serverLive = true;
  var minDelay = 0;         // after 4008

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/";
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (stopped || leaving || socket) return;
    if (navigator.onLine === false) {  // the "online" event reconnects at once
      showStatus(PAUSED_TEXT);
      scheduleReconnect();
      return;
    }
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    openedAt = Date.now();
    closingCode = null;
    closingReason = "";
    closingMember = null;
    ws.onopen = function () {
      if (ws !== socket) return;
      lastFrameAt = Date.now();
      clearTimeout(stableTimer);
      stableTimer = setTimeout(function () { if (ws === socket) { attempt = 0; minDelay = 0; } },
                               STABLE_MS);
    };
    ws.onmessage = function (message) {
      if (ws !== socket) return;
      lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") receive(frame);
    };
    ws.onclose = function (event) {
      if (ws !== socket) return;
      closed(event.code || closingCode || 1006);
    };
    ws.onerror = function () { /* a close event follows */ };
  }

  // Forget the socket now (do not wait for a close handshake that may never come, e.g. while
  // the network is down), then treat it as closed.
  function drop(code) {
    var ws = socket;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(1000); } catch (e) { /* already closing */ }
    closed(code);
  }

  function closed(code) {
    socket = null;
    clearTimeout(stableTimer);
    clearRetries();
    Object.keys(streams).forEach(function (name) {
      streams[name].subscribed = false;
      streams[name].typing = false;
    });
    clearTyping();
    if (leaving) return;
    setPresence(null);  // unknown until the next socket is told
    // 4001 "suspended": still signed in, but suspended. Say so, close the reply box, and
    // come back as a reader (the server gives a suspended member the public streams only).
    if (code === 4001 && closingReason === "suspended") {
      applyMember(closingMember || { may_post: false, suspended: true });
      attempt = 0;
      scheduleReconnect();
      return;
    }
    // Any other 4001: the session no longer belongs to this member. Only "recheck_failed" (the
    // server could not check, e.g. its database was down) is worth another try.
    if (code === 4001 && closingReason !== "recheck_failed") {
      sessionEnded();
      return;
    }
    if (code === 4008) minDelay = ABUSE_BACKOFF_MS;
    if (code === 1009 && window.console) console.warn("live: a frame was too large (1009)");
    showStatus(PAUSED_TEXT);
    scheduleReconnect();
  }

  function sessionEnded() {
    stopped = true;
    clearTimeout(reconnectTimer);
    showStatus("Live updates stopped: your session ended. Sign in again to follow along.");
  }

  function scheduleReconnect() {
    if (stopped || leaving || reconnectTimer) return;
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * Math.pow(2, attempt));
    attempt += 1;
    // "Equal jitter": never zero (no hammering), spread so a restart is not a thundering herd.
    var delay = Math.max(minDelay, ceiling / 2 + Math.random() * ceiling / 2);
    reconnectTimer = setTimeout(connect, delay);
  }

  function send(frame) {
    if (!socket || socket.readyState !== 1) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function subscribe(name) {
    var s = streams[name];
    if (!s || s.dead) return;
    var frame = { type: "subscribe", stream: name };
    if (s.lastId !== null) {
      frame.last_id = s.lastId;      // resume: everything after the last event we saw
      s.resumed = true;
    } else {
      // First subscription of this page: replay what was published between the server
      // rendering the page and now (performance.now() counts from the navigation start).
      frame.since_ms = Math.min(MAX_SINCE_MS,
                                Math.round(performance.now()) + PAGE_RENDER_MARGIN_MS);
      s.resumed = false;
    }
    s.replaying = true;
    send(frame);
  }

  function subscribeAll() {
    clearRetries();
    Object.keys(streams).forEach(subscribe);
  }

  // The server could not make a subscription (server_error naming the stream, e.g. its
  // database was down): try that one again with backoff and jitter, resuming from the last id
  // seen. A new socket re-subscribes everything anyway, so the retries die with this one.
  var retryTimers = {};   // stream -> timer
  var retryAttempts = {}; // stream -> failed subscribes in a row

  function retrySubscribe(name) {
    var s = streams[name];
    if (!s || s.dead || retryTimers[name]) return;
    s.subscribed = false;
    s.replaying = false;
    var n = retryAttempts[name] || 0;
    retryAttempts[name] = n + 1;
    var ceiling = Math.min(BACKOFF_CAP_MS, RESUBSCRIBE_FIRST_MS * Math.pow(2, n));
    var ws = socket;
    retryTimers[name] = setTimeout(function () {
      delete retryTimers[name];
      if (ws && ws === socket && !s.subscribed && !s.dead) subscribe(name);
    }, ceiling / 2 + Math.random() * ceiling / 2);
  }

  function clearRetries() {
    Object.keys(retryTimers).forEach(function (name) { clearTimeout(retryTimers[name]); });
    retryTimers = {};
  }

  function heartbeat() {
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (!socket) return;
      var silent = socket.readyState === 1 && Date.now() - lastFrameAt > SILENCE_MS;
      var stuck = socket.readyState === 0 && Date.now() - openedAt > CONNECT_TIMEOUT_MS;
      if (silent || stuck) {
        drop(1006);
        return;
      }
      if (Date.now() - lastPingAt >= PING_MS && send({ type: "ping" })) lastPingAt = Date.now();
    }, HEARTBEAT_TICK_MS);
  }

  // ------------------------------------------------------------ status line

  function showStatus(text) {
    var el = $("live-status");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    body.classList.add("live-paused");
  }

  function hideStatus() {
    var el = $("live-status");
    if (el) { el.hidden = true; el.textContent = ""; }
    body.classList.remove("live-paused");
  }

  function setServerLive(live) {
    serverLive = live !== false;
    if (serverLive) hideStatus(); else showStatus(PAUSED_TEXT);
  }

  // ------------------------------------------------------------ frames

  function receive(frame) {
    switch (frame.type) {
      case "hello":
        if ((frame.user_id || null) !== me) {  // signed out (or in as someone else) elsewhere
          drop(4001);
          return;
        }
        everLive = true;
        if (frame.member) applyMember(frame.member);
        subscribeAll();
        setServerLive(frame.live);
        break;
      case "member": applyMember(frame.member); break;
      case "subscribed": onSubscribed(frame); break;
      case "unsubscribed": break;
      case "event": onEvent(frame); break;
      case "reset": onReset(frame.stream); break;
      case "presence": onPresence(frame); break;
      case "typing": onTyping(frame); break;
      case "status": setServerLive(frame.live); break;
      case "pong": if (frame.live !== undefined) setServerLive(frame.live); break;
      case "error": onError(frame); break;
      case "closing":
        closingCode = frame.code;
        closingReason = frame.reason || "";
        closingMember = frame.member || null;
        break;
      default: break;
    }
  }

  function onSubscribed(frame) {
    var s = streams[frame.stream];
    if (!s) return;
    s.subscribed = true;
    s.replaying = false;
    s.typing = Boolean(frame.typing);
    retryAttempts[frame.stream] = 0;
    if (typeof frame.last_id === "number" && (s.lastId === null || frame.last_id > s.lastId)) {
      s.lastId = frame.last_id;
    }
  }

  function onEvent(frame) {
    var s = streams[frame.stream];
    if (!s || s.dead) return;
    if (s.lastId !== null && frame.id <= s.lastId) return;  // seen already (resume overlap)
    s.lastId = frame.id;
    applyEvent(frame, s);
  }

  // A replay (page load or resume) is already the state now, one event per post and thread
  // (forum.live.replay_view): it never takes the page back to a state older than its HTML.
  function applyEvent(frame, s) {
    var handler = eventHandlers[frame.event];
    if (!handler) return;
    try {
      handler(frame.data || {}, frame, s);
    } catch (e) {
      if (window.console) console.error("live: could not apply", frame.event, e);
    }
  }

  function onError(frame) {
    var s = frame.stream ? streams[frame.stream] : null;
    switch (frame.code) {
      case "stream_closed":
      case "not_found":
      case "too_many_subscriptions":
        if (s) {
          s.dead = true;
          s.subscribed = false;
          if (frame.stream === threadStream) threadGone();
        }
        break;
      case "not_allowed":
        if (s) s.typing = false;
        break;
      case "rate_limited":
        typingPausedUntil = Date.now() + 5000;
        break;
      case "server_error":
        if (s) retrySubscribe(frame.stream);  // only a failed subscribe names a stream
        if (window.console) console.warn("live:", frame.code, frame.stream || "", frame.message || "");
        break;
      default:
        if (window.console) console.warn("live:", frame.code, frame.message || "");
    }
  }

  function onReset(name) {
    // Too far behind to replay: show the page as it is now.
    if (name === threadStream) {
      var box = replyBox();
      if (!box || (!box.value.trim() && document.activeElement !== box)) {
        location.reload();
      } else {
        notice("Many updates arrived while you were away.", "Reload to see them", location.href);
      }
    } else if (boardId && name === "board:" + boardId) {
      boardActivity(1, "New activity: refresh the list");
    }
  }

  var eventHandlers = {
    "post.created": onPostCreated,
    "post.changed": onPostChanged,
    "post.reactions": onReactions,
    "thread.changed": onThreadChanged,
    "thread.created": onBoardThreadCreated,
    "thread.updated": onBoardThreadUpdated,
    "thread.removed": onBoardThreadRemoved,
    "notification.created": onNotificationCreated,
    "notification.read": onNotificationRead,
    "reports.count": onReportsCount,
  };

  // ------------------------------------------------------------ posts

  function parsePost(html) {
    var template = document.createElement("template");
    template.innerHTML = String(html || "").trim();
    return template.content.querySelector("article.post");
  }

  function postEl(id) { return document.getElementById("post-" + id); }

  function replyBox() { return document.querySelector("#reply-form textarea"); }

  function ensureCsrf(form) {
    if ((form.method || "").toLowerCase() !== "post") return;
    if (form.querySelector("input[name=csrfmiddlewaretoken]")) return;
    var token = csrfToken();
    if (!token) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "csrfmiddlewaretoken";
    input.value = token;
    form.insertBefore(input, form.firstChild);
  }

  function canReplyHere() {
    return data.canReply === "1" && (!locked || canModerate) && !threadClosed && !blockedBy;
  }

  function refreshQuoteButtons() {
    document.querySelectorAll("#posts article.post").forEach(function (article) {
      article.querySelectorAll(".quote-button").forEach(function (b) {
        b.hidden = !canReplyHere() || !article.querySelector(".post-body");
      });
    });
  }

  // The published HTML is what every viewer sees alike: controls are off. Turn on what this
  // viewer may use (the server refuses anything else).
  function adopt(article, previous) {
    var author = Number(article.getAttribute("data-author-id"));
    var mine = Boolean(me) && author === me;
    var number = Number(article.getAttribute("data-number"));
    var visible = !article.classList.contains("is-hidden") &&
                  !article.classList.contains("is-deleted");
    article.querySelectorAll("form").forEach(ensureCsrf);
    article.querySelectorAll("button.reaction").forEach(function (button) {
      button.disabled = !(mayPost && !mine && visible);
      var old = previous &&
        previous.querySelector('button.reaction[data-kind="' + button.getAttribute("data-kind") + '"]');
      if (old) {
        var pressed = old.getAttribute("aria-pressed") === "true";
        button.setAttribute("aria-pressed", pressed ? "true" : "false");
        button.classList.toggle("mine", pressed);
        if (old.getAttribute("title")) button.setAttribute("title", old.getAttribute("title"));
        var undo = button.form && button.form.querySelector("input[name=undo]");
        if (pressed && !undo && button.form) {
          undo = document.createElement("input");
          undo.type = "hidden"; undo.name = "undo"; undo.value = "1";
          button.form.appendChild(undo);
        }
      }
    });
    article.querySelectorAll(".quote-button").forEach(function (b) {
      b.hidden = !(canReplyHere() && visible);
    });
    article.querySelectorAll(".owner-control").forEach(function (el) {
      var isEdit = el.tagName === "A";
      var allowed = mine && mayPost && visible && (isEdit ? !locked : number !== 1);
      el.hidden = !allowed;
    });
    article.querySelectorAll(".member-control").forEach(function (el) {
      el.hidden = !(mayPost && !mine && me && visible);
    });
    return article;
  }

  // A fragment fetched for this viewer links its moderator forms back to the fragment URL:
  // point them at this page instead.
  function fixNext(article) {
    var id = article.getAttribute("data-post-id");
    article.querySelectorAll("input[name=next]").forEach(function (input) {
      input.value = location.pathname + location.search + "#post-" + id;
    });
    article.querySelectorAll("form").forEach(ensureCsrf);
    return article;
  }

  var fetchSerial = {};  // post id -> serial of the latest fetch (older answers are dropped)

  function fetchOwnView(postId, then) {
    var serial = (fetchSerial[postId] || 0) + 1;
    fetchSerial[postId] = serial;
    fetch("/p/" + postId + "/fragment/", {
      credentials: "same-origin", headers: { "Accept": "text/html" },
    }).then(function (response) {
      if (!response.ok) return null;
      return response.text();
    }).then(function (html) {
      if (fetchSerial[postId] !== serial) return;
      var article = html ? parsePost(html) : null;
      then(article ? fixNext(article) : null);
    }).catch(function () {
      if (fetchSerial[postId] === serial) then(null);
    });
  }

  function placeholder(postId, number, text) {
    var article = document.createElement("article");
    article.className = "post is-hidden";
    article.id = "post-" + postId;
    article.setAttribute("data-post-id", String(postId));
    article.setAttribute("data-number", String(number));
    var anchor = document.createElement("span");
    anchor.className = "anchor";
    anchor.id = "n" + number;
    var p = document.createElement("p");
    p.className = "post-removed muted";
    p.textContent = text;
    article.appendChild(anchor);
    article.appendChild(p);
    return article;
  }

  function insertPost(article) {
    var posts = $("posts");
    if (!posts) return false;
    var number = Number(article.getAttribute("data-number"));
    var list = posts.querySelectorAll("article.post");
    for (var i = list.length - 1; i >= 0; i--) {
      if (Number(list[i].getAttribute("data-number")) < number) {
        list[i].after(article);
        return true;
      }
    }
    if (list.length) list[0].before(article); else posts.appendChild(article);
    return true;
  }

  function onLastPage() {
    var page = Number(data.page) || 1;
    var count = Number(data.pageCount) || 1;
    return page >= count;
  }

  function atEndOfThread() {
    var posts = $("posts");
    if (!posts) return true;
    return posts.getBoundingClientRect().bottom <= window.innerHeight + 160;
  }

  function onPostCreated(d) {
    if (!threadId || Number(d.thread_id) !== threadId) return;
    stopTyping(d.author_id);
    data.postCount = String(Math.max(Number(data.postCount) || 0, Number(d.number) || 0));
    if (postEl(d.post_id)) return;  // already on the page (rendered, or replayed twice)
    if (!onLastPage()) {
      pendingElsewhere.push(d.post_id);
      updateNewReplies();
      return;
    }
    var article = d.html ? parsePost(d.html) : null;
    if (!article) {
      if (!canModerate && Number(d.author_id) !== me) return;  // not a post this viewer sees
      article = placeholder(d.post_id, d.number, "Loading…");
    } else {
      adopt(article, null);
    }
    var follow = atEndOfThread();
    article.classList.add("live-new");
    insertPost(article);
    if (canModerate || (me && Number(d.author_id) === me)) upgradePost(d.post_id);
    if (follow) {
      var box = replyBox();
      if (!box || document.activeElement !== box) article.scrollIntoView({ block: "nearest" });
    } else {
      pending.push(article);
      updateNewReplies();
    }
  }

  // Moderators and the author see their own view (moderator tools, hidden marks).
  function upgradePost(postId) {
    fetchOwnView(postId, function (article) {
      var current = postEl(postId);
      if (!current) return;
      if (!article) return;
      if (current.classList.contains("live-new")) article.classList.add("live-new");
      var index = pending.indexOf(current);
      if (index >= 0) pending[index] = article;
      current.replaceWith(article);
    });
  }

  function onPostChanged(d) {
    if (!threadId || Number(d.thread_id) !== threadId) return;
    var current = postEl(d.post_id);
    if (!current) return;
    var privileged = canModerate || (me && Number(d.author_id) === me);
    if (d.visible && d.html && !privileged) {
      var article = parsePost(d.html);
      if (article) {
        fetchSerial[d.post_id] = (fetchSerial[d.post_id] || 0) + 1;  // drop older fetches
        current.replaceWith(adopt(article, current));
      }
      return;
    }
    // Viewers see this change differently (hidden for members, marked for its author and the
    // moderators): fetch this viewer's own view.
    fetchOwnView(d.post_id, function (own) {
      var now = postEl(d.post_id);
      if (!now) return;
      if (own) {
        now.replaceWith(privileged ? own : adopt(own, now));
      } else if (!d.visible) {
        now.replaceWith(placeholder(d.post_id, d.number, "This post was hidden or removed."));
      }
    });
  }

  function onReactions(d) {
    var article = postEl(d.post_id);
    if (!article) return;
    var counts = d.counts || {};
    article.querySelectorAll("button.reaction").forEach(function (button) {
      var count = counts[button.getAttribute("data-kind")] || 0;
      button.setAttribute("data-count", String(count));
      var label = button.querySelector(".count");
      if (label) label.textContent = count ? String(count) : "";
    });
  }

  // ------------------------------------------------------------ "N new replies"

  var pending = [];          // new posts appended below the viewer's position
  var pendingElsewhere = []; // new posts on a later page (post ids)

  function updateNewReplies() {
    var box = $("new-replies");
    if (!box) return;
    pending = pending.filter(function (el) { return el.isConnected; });
    var n = pending.length + pendingElsewhere.length;
    var button = box.querySelector("button");
    if (button) button.textContent = plural(n, "new reply", "new replies");
    box.hidden = n === 0;
  }

  function onNewRepliesClick(event) {
    var button = event.target.closest && event.target.closest("#new-replies button");
    if (!button) return;
    event.preventDefault();
    if (pending.length) {
      var first = pending[0];
      pending = [];
      updateNewReplies();
      first.scrollIntoView({ block: "start" });
      var focusable = first.querySelector(".post-author") || first;
      if (focusable.focus) focusable.focus({ preventScroll: true });
    } else if (pendingElsewhere.length) {
      location.href = "/p/" + pendingElsewhere[0] + "/";
    }
  }

  var scrollQueued = false;
  function onScroll() {
    if (scrollQueued || !pending.length) return;
    scrollQueued = true;
    window.requestAnimationFrame(function () {
      scrollQueued = false;
      var before = pending.length;
      pending = pending.filter(function (el) {
        return el.isConnected && el.getBoundingClientRect().top > window.innerHeight;
      });
      if (pending.length !== before) updateNewReplies();
    });
  }

  // ------------------------------------------------------------ thread state

  var threadClosed = false;

  // One notice line in the thread head; `kind` names what it is about, so that a later change
  // can take it back (a re-lock takes back "This thread was unlocked").
  function notice(text, linkText, href, kind) {
    var el = $("live-notice");
    if (!el) {
      el = document.createElement("p");
      el.id = "live-notice";
      el.className = "notice live-notice";
      el.setAttribute("role", "status");
      var head = document.querySelector(".thread-head") || $("main");
      if (!head) return;
      head.appendChild(el);
    }
    setTextAndLink(el, text, linkText, href);
    el.hidden = false;
    el.setAttribute("data-kind", kind || "");
  }

  // "Some text." followed by an optional link ("Reload to reply").
  function setTextAndLink(el, text, linkText, href) {
    el.textContent = text + (linkText ? " " : "");
    if (linkText) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = linkText;
      el.appendChild(a);
    }
  }

  function clearNotice(kind) {
    var el = $("live-notice");
    if (el && el.getAttribute("data-kind") === kind) { el.hidden = true; el.textContent = ""; }
  }

  function setReplyFormDisabled(disabled) {
    var form = $("reply-form");
    if (!form) return;
    form.classList.toggle("is-disabled", disabled);
    form.querySelectorAll("textarea, button[type=submit], input[type=submit]").forEach(function (el) {
      el.disabled = disabled;
    });
  }

  function applyLocked(isLocked) {
    var was = locked;
    locked = isLocked;
    setHidden($("flag-locked"), !isLocked);
    setHidden($("locked-notice"), !isLocked);
    if (!canModerate) setReplyFormDisabled(isLocked || threadClosed || Boolean(blockedBy));
    refreshQuoteButtons();
    if (was && !isLocked && !canModerate && !$("reply-form") && mayPost && !blockedBy) {
      notice("This thread was unlocked.", "Reload to reply", location.href, "unlocked");
    }
    if (isLocked) clearNotice("unlocked");  // #locked-notice says it now: one notice only
  }

  function onThreadChanged(d) {
    if (!threadId || Number(d.thread_id) !== threadId) return;
    if (typeof d.is_locked === "boolean" && d.is_locked !== locked) applyLocked(d.is_locked);
    if (typeof d.is_pinned === "boolean") setHidden($("flag-pinned"), !d.is_pinned);
    if (typeof d.is_hidden === "boolean") setHidden($("flag-hidden"), !d.is_hidden);
    if (typeof d.is_deleted === "boolean") setHidden($("flag-deleted"), !d.is_deleted);
    var title = $("thread-title");
    if (title && d.title && title.textContent !== d.title) {
      title.textContent = d.title;
      document.title = document.title.replace(/^.*?( · CAROCP Forum)$/, d.title + "$1");
    }
    if (d.url && d.url !== location.pathname && window.history && history.replaceState) {
      history.replaceState(history.state, "", d.url + location.search + location.hash);
    }
    if (d.board_id && Number(d.board_id) !== Number(data.boardId)) {
      data.boardId = String(d.board_id);
      notice("This thread was moved to another board.", "Reload to see where", location.href);
    }
  }

  // The server ended the thread subscription: the viewer may no longer see it (moved to a
  // board they cannot see, hidden, deleted, or their access changed).
  function threadGone() {
    threadClosed = true;
    setReplyFormDisabled(true);
    notice("This thread is no longer available to you: it was moved, hidden or removed.",
           "Back to the boards", "/");
    setPresence(null);
    clearTyping();
  }

  // ------------------------------------------------------------ the member's own account

  // The server tells the member's client about their account in `hello`, in `member` after a
  // moderator's action, and in the `closing` of a suspension: {may_post, suspended,
  // suspended_until, silenced, silenced_until}. A suspended or silenced member reads on; the
  // reply box closes (its text stays, and forum.js keeps it as a draft) until it is lifted.
  var blockedBy = "";      // "suspended", "silenced" or "": as the server last said
  var memberKnown = false; // told at least once (before that: the page as rendered)

  function formatUntil(iso) {
    var when = iso ? new Date(iso) : null;
    if (!when || isNaN(when.getTime())) return "";
    return when.toLocaleString(undefined, { dateStyle: "long", timeStyle: "short" });
  }

  function blockText(state) {
    if (state.suspended) {
      var until = state.suspended_until_text || formatUntil(state.suspended_until);
      return "Your account is suspended " + (until ? "until " + until : "indefinitely") +
        ": you can read but not post.";
    }
    var end = state.silenced_until_text || formatUntil(state.silenced_until);
    return "You are silenced" + (end ? " until " + end : "") +
      ": you can read but not reply or start threads.";
  }

  function memberNotice(text, linkText, href) {
    var el = $("member-notice");
    if (!text) { if (el) el.remove(); return; }
    var box = $("reply");
    if (!el) {
      if (!box) return;
      el = document.createElement("p");
      el.id = "member-notice";
      el.className = "notice";
      el.setAttribute("role", "status");
      var after = $("locked-notice");
      if (after && after.parentNode === box) after.after(el); else box.appendChild(el);
    }
    setTextAndLink(el, text, linkText, href);
  }

  function applyMember(state) {
    if (!state || !me) return;
    var was = blockedBy;
    var first = !memberKnown;
    memberKnown = true;
    blockedBy = state.suspended ? "suspended" : state.silenced ? "silenced" : "";
    if (typeof state.may_post === "boolean") mayPost = state.may_post;
    // Reactions and reports need posting rights: off while suspended, back when lifted.
    document.querySelectorAll("#posts button.reaction").forEach(function (b) {
      if (!mayPost && !b.disabled) { b.disabled = true; b.setAttribute("data-live-off", "1"); }
      if (mayPost && b.hasAttribute("data-live-off")) {
        b.disabled = false;
        b.removeAttribute("data-live-off");
      }
    });
    refreshQuoteButtons();
    if (!threadId) return;
    var form = $("reply-form");
    var refusal = $("reply-refusal");
    if (blockedBy) {
      if (form) setReplyFormDisabled(true);
      // A page rendered for a suspended member already says why (#reply-refusal).
      if (form || !first || !refusal) {
        memberNotice(blockText(state));
        setHidden(refusal, true);
      }
    } else if (form) {
      memberNotice("");
      if (!canModerate) setReplyFormDisabled(locked || threadClosed);
      else setReplyFormDisabled(threadClosed);
    } else if (was) {
      setHidden(refusal, true);
      var lifted = was === "suspended" ? "Your suspension was lifted." : "Your silence was lifted.";
      if (mayPost && (!locked || canModerate)) {
        memberNotice(lifted, "Reload to reply", location.href);
      } else {
        memberNotice(lifted);
      }
    }
    if (was === "suspended" && blockedBy !== "suspended") reviveStreams();
  }

  // While suspended, the member's private streams were refused (not_found): follow them again.
  function reviveStreams() {
    Object.keys(streams).forEach(function (name) {
      var s = streams[name];
      if (!s.dead || name === threadStream || name.indexOf("board:") === 0) return;
      s.dead = false;
      subscribe(name);
    });
  }

  // ------------------------------------------------------------ presence and typing

  var presentIds = null;

  function setPresence(frame) {
    var el = $("presence");
    if (!el) return;
    if (!frame) { el.textContent = ""; el.hidden = true; return; }
    var members = frame.count || 0;
    var anonymous = frame.anonymous || 0;
    var ids = frame.user_ids || [];
    var others = me ? members - (ids.indexOf(me) >= 0 ? 1 : 0) + anonymous
                    : members + Math.max(0, anonymous - 1);
    if (others <= 0) { el.textContent = ""; el.hidden = true; return; }
    var parts = [];
    if (members) parts.push(plural(members, "member", "members"));
    if (anonymous) parts.push(plural(anonymous, "visitor", "visitors"));
    el.textContent = parts.join(" and ") + " reading";
    el.title = (frame.names || []).join(", ");
    el.hidden = false;
  }

  function onPresence(frame) {
    if (frame.stream !== threadStream || threadClosed) return;
    presentIds = frame.user_ids || [];
    setPresence(frame);
    // A member who left stops typing at once.
    Object.keys(typers).forEach(function (id) {
      if (presentIds.indexOf(Number(id)) < 0) delete typers[id];
    });
    renderTyping();
  }

  var typers = {};  // user id -> {name, until}
  var typingTimer = null;
  var typingPausedUntil = 0;
  var typingSentAt = 0;

  function onTyping(frame) {
    if (frame.stream !== threadStream || !frame.user_id || frame.user_id === me) return;
    typers[frame.user_id] = { name: frame.name || "Someone", until: Date.now() + TYPING_SHOWN_MS };
    renderTyping();
  }

  function stopTyping(userId) {
    if (typers[userId]) { delete typers[userId]; renderTyping(); }
  }

  function clearTyping() { typers = {}; renderTyping(); }

  function renderTyping() {
    var el = $("typing");
    if (!el) return;
    var now = Date.now();
    var names = [];
    var next = Infinity;
    Object.keys(typers).forEach(function (id) {
      if (typers[id].until <= now) { delete typers[id]; return; }
      names.push(typers[id].name);
      next = Math.min(next, typers[id].until);
    });
    names.sort();
    var text = "";
    if (names.length === 1) text = names[0] + " is replying…";
    else if (names.length === 2) text = names[0] + " and " + names[1] + " are replying…";
    else if (names.length > 2) text = names.length + " members are replying…";
    el.textContent = text;
    clearTimeout(typingTimer);
    if (next !== Infinity) typingTimer = setTimeout(renderTyping, next - now + 50);
  }

  function onReplyInput(event) {
    var target = event.target;
    if (!threadStream || !target || target.tagName !== "TEXTAREA" || !target.closest("#reply-form")) {
      return;
    }
    var s = streams[threadStream];
    var now = Date.now();
    if (!s || !s.subscribed || !s.typing || now < typingPausedUntil) return;
    if (now - typingSentAt < TYPING_SEND_MS || !target.value.trim()) return;
    if (send({ type: "typing", stream: threadStream })) typingSentAt = now;
  }

  // ------------------------------------------------------------ boards

  var boardNew = 0;

  function boardActivity(n, text) {
    var banner = $("board-new-threads");
    if (!banner) return;
    boardNew += n;
    var link = banner.querySelector("a");
    if (link) {
      link.textContent = text || (boardNew > 0
        ? plural(boardNew, "new thread", "new threads") + ": refresh the list"
        : "New activity: refresh the list");
      link.setAttribute("href", location.pathname + location.search);
    }
    banner.hidden = false;
  }

  function boardRow(id) {
    return document.querySelector('.thread-list tr.thread-row[data-thread-id="' + id + '"]');
  }

  function onBoardThreadCreated(d) {
    if (!boardId || Number(d.board_id) !== boardId || boardRow(d.thread_id)) return;
    boardActivity(1);
  }

  function onBoardThreadUpdated(d) {
    if (!boardId) return;
    var row = boardRow(d.thread_id);
    if (!row) {
      if (Number(d.board_id) === boardId) boardActivity(0);
      return;
    }
    var count = row.querySelector(".reply-count");
    if (count && typeof d.reply_count === "number") {
      count.textContent = d.reply_count.toLocaleString("en-US");
      var label = row.querySelector(".row-label");
      if (label) label.textContent = d.reply_count === 1 ? " reply" : " replies";
    }
    var title = row.querySelector(".thread-title");
    if (title && d.title) title.textContent = d.title;
    if ((d.is_hidden || d.is_deleted) && !moderatesBoard(boardId)) {
      row.remove();  // members no longer see it (moderators keep it, marked)
      return;
    }
    if (title) setRowFlags(row, title, d);
    row.classList.toggle("pinned", Boolean(d.is_pinned));
    row.classList.remove("live-updated");
    void row.offsetWidth;  // restart the highlight animation
    row.classList.add("live-updated");
    if (Number(d.board_id) !== boardId) row.remove();
  }

  function moderatesBoard(id) {
    var el = $("mod-report-count");
    var scope = el ? el.getAttribute("data-boards") || "" : "";
    return scope === "all" || scope.split(",").indexOf(String(id)) >= 0;
  }

  // The flags before the title, as templates/forum/_thread_rows.html draws them.
  function setRowFlags(row, title, d) {
    var cell = title.parentNode;
    Array.prototype.slice.call(cell.children).forEach(function (el) {
      if (el === title || (el.compareDocumentPosition(title) & Node.DOCUMENT_POSITION_PRECEDING)) {
        return;  // after the title (unread tags) or the title itself
      }
      if (el.matches("span.tag")) el.remove();
    });
    [[d.is_pinned, "tag tag-pin", "Pinned", "📌 Pinned"],
     [d.is_locked, "tag", "Locked", "🔒 Locked"],
     [d.is_hidden, "tag tag-warn", "", "Hidden"],
     [d.is_deleted, "tag tag-warn", "", "Deleted"]].forEach(function (flag) {
      if (!flag[0]) return;
      var span = document.createElement("span");
      span.className = flag[1];
      if (flag[2]) span.title = flag[2];
      span.textContent = flag[3];
      cell.insertBefore(span, title);
      cell.insertBefore(document.createTextNode(" "), title);
    });
  }

  function onBoardThreadRemoved(d) {
    var row = boardRow(d.thread_id);
    if (row) row.remove();
  }

  // ------------------------------------------------------------ bell, toasts, moderators

  function setBadge(el, n) {
    if (!el) return;
    n = Math.max(0, Number(n) || 0);
    el.setAttribute("data-count", String(n));
    el.textContent = n ? String(n) : "";
  }

  function setUnread(n) {
    setBadge($("bell-count"), n);
    var bell = $("bell");
    if (bell) bell.setAttribute("aria-label", "Notifications (" + (Number(n) || 0) + " unread)");
  }

  function toast(text, url) {
    var box = $("toasts");
    if (!box) return;
    var items = box.querySelectorAll(".live-toast");
    if (items.length >= MAX_TOASTS) items[0].remove();
    var item = document.createElement("div");
    item.className = "toast live-toast";
    item.setAttribute("role", "status");
    if (url) {
      var a = document.createElement("a");
      a.href = url;
      a.textContent = text;
      item.appendChild(a);
    } else {
      item.textContent = text;
    }
    box.appendChild(item);
    setTimeout(function () { item.classList.add("toast-leaving"); }, TOAST_MS);
    setTimeout(function () { item.remove(); }, TOAST_MS + 800);
  }

  function onNotificationCreated(d, frame, s) {
    if (typeof d.unread_count === "number") setUnread(d.unread_count);
    // Replayed events of the page-load window were already counted by the page: no toast.
    if (s.replaying && !s.resumed) return;
    if (d.text) toast(d.text, d.url);
  }

  function onNotificationRead(d) {
    if (typeof d.unread_count === "number") setUnread(d.unread_count);
  }

  function onReportsCount(d) {
    // The server sends each moderator the counts of the boards they moderate only (staff: all),
    // so `open` is this member's number.
    setBadge($("mod-report-count"), d.open || 0);
  }

  // ------------------------------------------------------------ wiring

  document.addEventListener("click", onNewRepliesClick);
  document.addEventListener("input", onReplyInput);
  window.addEventListener("scroll", onScroll, { passive: true });

  window.addEventListener("offline", function () {
    // The socket cannot work: say so now instead of after a heartbeat timeout.
    if (socket) drop(1006); else showStatus(PAUSED_TEXT);
  });
  window.addEventListener("online", function () {
    attempt = 0;
    if (!socket && !stopped) connect();
  });
  window.addEventListener("pagehide", function () {
    leaving = true;
    if (socket) { var ws = socket; socket = null; try { ws.close(1000); } catch (e) { /* */ } }
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    leaving = false;     // back from the back/forward cache: resume from the last ids
    connect();
  });

  heartbeat();
  connect();

  // For tests and debugging: the state, and a way to drop the socket as a network would.
  window.CarocpLive = {
    streams: streams,
    isOpen: function () { return Boolean(socket && socket.readyState === 1 && everLive); },
    isStopped: function () { return stopped; },
    drop: function () { drop(1006); },
  };
})();
