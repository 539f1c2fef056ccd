// forum.js: quote, @mention autocomplete, reactions, confirmations.
// Vanilla, CSP-safe (no inline handlers): everything is delegated from `document`, so posts the
// live layer inserts later work without re-binding. Without JS every control is a plain form.
(function () {
  "use strict";

  // ------------------------------------------------------------ helpers

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function toast(message) {
    var box = document.getElementById("toasts");
    if (!box) { window.alert(message); return; }
    var item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "status");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  function replyEditor() {
    return document.querySelector("#reply-form textarea");
  }

  // Insert text at the caret (or replace the selection) and let markdownx refresh its preview.
  function insertAtCaret(textarea, text) {
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    var before = textarea.value.slice(0, start), after = textarea.value.slice(end);
    if (before && !/\n\n$/.test(before)) before += before.slice(-1) === "\n" ? "\n" : "\n\n";
    textarea.value = before + text + after;
    var caret = (before + text).length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // ------------------------------------------------------------ confirm

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("confirm-form")) {
      if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }
  }, true);

  // ------------------------------------------------------------ quote

  function quoteSelection(post, postId, author) {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
    var body = post.querySelector(".post-body");
    var range = selection.getRangeAt(0);
    if (!body || !body.contains(range.commonAncestorContainer)) return null;
    var text = selection.toString().replace(/\s+$/, "");
    if (!text.trim()) return null;
    var lines = text.split(/\r?\n/).map(function (line) { return "> " + line; });
    return "> [@" + author + " wrote](/p/" + postId + "/):\n" + lines.join("\n") + "\n\n";
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".quote-button");
    if (!button) return;
    event.preventDefault();
    var editor = replyEditor();
    if (!editor) { toast("You cannot reply to this thread."); return; }
    var postId = button.getAttribute("data-post-id");
    var author = button.getAttribute("data-author");
    var post = document.getElementById("post-" + postId);
    var selected = post ? quoteSelection(post, postId, author) : null;
    if (selected) { insertAtCaret(editor, selected); return; }
    fetch("/p/" + postId + "/quote/", {
      headers: { "Accept": "application/json" }, credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) { toast(result.data.error || "This post cannot be quoted."); return; }
      insertAtCaret(editor, result.data.markdown);
    }).catch(function () { toast("Could not load the post to quote. Try again."); });
  });

  // ------------------------------------------------------------ reactions

  function updateReactions(container, counts, kind, mine, names) {
    container.querySelectorAll("button.reaction").forEach(function (button) {
      var k = button.getAttribute("data-kind");
      var count = counts[k] || 0;
      button.setAttribute("data-count", String(count));
      var label = button.querySelector(".count");
      if (label) label.textContent = count ? String(count) : "";
      if (k !== kind) return;
      button.classList.toggle("mine", mine);
      button.setAttribute("aria-pressed", mine ? "true" : "false");
      if (names) {
        var base = (button.getAttribute("title") || "").split(":")[0];
        button.setAttribute("title", names.length ? base + ": " + names.join(", ") : base);
      }
      var form = button.form;
      var undo = form.querySelector("input[name=undo]");
      if (mine && !undo) {
        undo = document.createElement("input");
        undo.type = "hidden"; undo.name = "undo"; undo.value = "1";
        form.appendChild(undo);
      } else if (!mine && undo) {
        undo.remove();
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("react-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button.disabled) return;
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) { toast(result.data.error || "That did not work."); return; }
      var container = form.closest(".reactions");
      updateReactions(container, result.data.counts, result.data.kind, result.data.mine,
                      result.data.names);
    }).catch(function () {
      toast("Could not save the reaction. Check your connection and try again.");
    }).finally(function () { button.disabled = false; });
  });

  // ------------------------------------------------------------ @mention autocomplete

  var MENTION_BEFORE_CARET = /(^|[\s(>])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,39})$/;
  var menu = null, menuFor = null, items = [], active = -1, timer = null, lastQuery = "";

  function closeMenu() {
    if (menu) menu.remove();
    if (menuFor) {
      menuFor.setAttribute("aria-expanded", "false");
      menuFor.removeAttribute("aria-activedescendant");
    }
    menu = null; items = []; active = -1;
  }

  function mentionQuery(textarea) {
    var upto = textarea.value.slice(0, textarea.selectionStart);
    var match = upto.match(MENTION_BEFORE_CARET);
    return match ? match[2] : null;
  }

  function setActive(index) {
    if (!menu || !items.length) return;
    active = (index + items.length) % items.length;
    menu.querySelectorAll("li").forEach(function (li, i) {
      li.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    menuFor.setAttribute("aria-activedescendant", "mention-option-" + active);
  }

  function choose(index) {
    var textarea = menuFor, item = items[index];
    if (!textarea || !item) return;
    var caret = textarea.selectionStart;
    var upto = textarea.value.slice(0, caret);
    var query = mentionQuery(textarea) || "";
    var start = upto.length - query.length;
    var insert = item.username + " ";
    textarea.value = upto.slice(0, start) + insert + textarea.value.slice(caret);
    var pos = start + insert.length;
    closeMenu();
    textarea.focus();
    textarea.setSelectionRange(pos, pos);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function showMenu(textarea, results) {
    closeMenu();
    if (!results.length) return;
    menuFor = textarea; items = results;
    menu = document.createElement("ul");
    menu.className = "mention-menu";
    menu.id = "mention-menu";
    menu.setAttribute("role", "listbox");
    menu.setAttribute("aria-label", "Members to mention");
    results.forEach(function (result, i) {
      var li = document.createElement("li");
      li.id = "mention-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      var strong = document.createElement("strong");
      strong.textContent = "@" + result.username;
      li.appendChild(strong);
      if (result.name && result.name !== result.username) {
        li.appendChild(document.createTextNode(" " + result.name));
      }
      // mousedown, not click: keep focus (and the caret) in the textarea.
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
      menu.appendChild(li);
    });
    textarea.insertAdjacentElement("afterend", menu);
    textarea.setAttribute("aria-expanded", "true");
    setActive(0);
  }

  function lookup(textarea) {
    var query = mentionQuery(textarea);
    if (!query) { closeMenu(); lastQuery = ""; return; }
    if (query === lastQuery && menu) return;
    lastQuery = query;
    fetch("/api/members/?q=" + encodeURIComponent(query), {
      headers: { "Accept": "application/json" }, credentials: "same-origin",
    }).then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) {
        if (mentionQuery(textarea) !== query) return;  // typed on meanwhile
        showMenu(textarea, data.results || []);
      }).catch(function () { closeMenu(); });
  }

  function isEditor(node) {
    return node && node.tagName === "TEXTAREA" && node.classList.contains("markdownx-editor");
  }

  function prepareEditor(textarea) {
    if (textarea.hasAttribute("aria-autocomplete")) return;
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", "mention-menu");
    textarea.setAttribute("aria-expanded", "false");
  }

  document.addEventListener("input", function (event) {
    if (!isEditor(event.target)) return;
    prepareEditor(event.target);
    clearTimeout(timer);
    var textarea = event.target;
    timer = setTimeout(function () { lookup(textarea); }, 150);
  });

  // Capture phase on document: runs before markdownx's own keydown handler on the textarea, so
  // the menu gets Enter/Tab/arrows first, and a plain Tab moves focus on (no keyboard trap).
  document.addEventListener("keydown", function (event) {
    if (!isEditor(event.target)) return;
    var open = menu && menuFor === event.target;
    if (open) {
      var handled = true;
      switch (event.key) {
        case "ArrowDown": setActive(active + 1); break;
        case "ArrowUp": setActive(active - 1); break;
        case "Enter": case "Tab": choose(active); break;
        case "Escape": closeMenu(); break;
        default: handled = false;
      }
      if (handled) { event.preventDefault(); event.stopPropagation(); return; }
    }
    if (event.key === "Tab" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.stopPropagation();  // let the browser move focus; markdownx would insert a tab
    }
  }, true);

  document.addEventListener("focusout", function (event) {
    if (menu && event.target === menuFor) setTimeout(closeMenu, 150);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea.markdownx-editor").forEach(prepareEditor);
  });

  // ------------------------------------------------------------ drafts
  // What a member types in a composer (a form marked data-draft: reply, new thread, edit) is
  // kept in this browser's localStorage, per member and form path, until the server accepts the
  // post: the answer that follows carries a cookie naming the form's path (forum/drafts.py) and
  // the next page deletes that draft. A refused post re-shows the form with the member's text,
  // so its draft stays. Signing out deletes every draft in this browser.

  //
  // Several tabs may show the same form. A tab writes (or clears) the draft only once its member
  // has typed in that form in that tab (draftTyped: when); a tab that merely shows the form, or
  // restored the draft, leaves it alone. A post accepted from one tab leaves a "sent" mark
  // (carocp-draft-sent:<key>, its time): text typed in another tab before that moment is the
  // text just posted, and is not saved back as a draft.

  var DRAFT_PREFIX = "carocp-draft:";
  var DRAFT_SENT_PREFIX = "carocp-draft-sent:";
  var DRAFT_SENT_COOKIE = "carocp_draft_sent";
  var DRAFT_MAX_AGE_MS = 30 * 24 * 3600 * 1000;
  var DRAFT_SAVE_MS = 400;
  var draftOriginals = new WeakMap(), draftTimers = new WeakMap(), draftTyped = new WeakMap();
  var draftRestoring = false;  // our own input events (restore, discard) are not typing
  var signingOut = false;      // after "Sign out", nothing is written again

  function draftStorage() {
    try {
      var store = window.localStorage;
      store.getItem(DRAFT_PREFIX);
      return store;
    } catch (e) { return null; }  // storage off (private mode, policy): no drafts
  }

  function draftUser() { return document.body.getAttribute("data-user-id") || ""; }

  function draftKey(form, path) {
    if (!path) {
      try { path = new URL(form.action, location.href).pathname; } catch (e) { path = location.pathname; }
    }
    return DRAFT_PREFIX + draftUser() + ":" + path;
  }

  function draftFields(form) {
    var fields = {};
    var title = form.querySelector("input[name=title]"), body = form.querySelector("textarea[name=body]");
    if (title) fields.title = title;
    if (body) fields.body = body;
    return fields;
  }

  function draftValues(fields) {
    return { title: fields.title ? fields.title.value : "", body: fields.body ? fields.body.value : "" };
  }

  function sameDraft(a, b) { return (a.title || "") === (b.title || "") && (a.body || "") === (b.body || ""); }

  function blankDraft(v) { return !(v.title || "").trim() && !(v.body || "").trim(); }

  function readDraft(key) {
    var store = draftStorage();
    if (!store) return null;
    try {
      var draft = JSON.parse(store.getItem(key) || "null");
      return draft && typeof draft.body === "string" ? draft : null;
    } catch (e) { return null; }
  }

  function removeDraft(key) {
    var store = draftStorage();
    if (store) store.removeItem(key);
  }

  function saveDraft(form) {
    var store = draftStorage(), fields = draftFields(form);
    if (!store || !fields.body || !draftUser() || signingOut) return;
    clearTimeout(draftTimers.get(form));
    var typed = draftTyped.get(form);
    if (!typed) return;  // not typed in this tab: another tab's draft is not ours to change
    var values = draftValues(fields), key = draftKey(form);
    if (Number(store.getItem(DRAFT_SENT_PREFIX + key) || 0) >= typed) return;  // posted since
    var original = draftOriginals.get(form) || { title: "", body: "" };
    if (blankDraft(values) || sameDraft(values, original)) { store.removeItem(key); return; }
    try {
      store.setItem(key, JSON.stringify({ title: values.title, body: values.body, savedAt: Date.now() }));
    } catch (e) { /* storage full: the server still gets the post on submit */ }
  }

  function takeSentCookie() {
    var match = document.cookie.match(new RegExp("(?:^|;\\s*)" + DRAFT_SENT_COOKIE + "=([^;]*)"));
    if (!match) return "";
    document.cookie = DRAFT_SENT_COOKIE + "=; Max-Age=0; path=/; SameSite=Lax";
    var value = match[1].replace(/^"(.*)"$/, "$1").replace(/\\(.)/g, "$1");
    try { return decodeURIComponent(value); } catch (e) { return value; }
  }

  function pruneDrafts(store) {
    var now = Date.now(), stale = [];
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i) || "";
      if (key.indexOf(DRAFT_SENT_PREFIX) === 0) {
        if (!(now - Number(store.getItem(key)) < DRAFT_MAX_AGE_MS)) stale.push(key);
        continue;
      }
      if (key.indexOf(DRAFT_PREFIX) !== 0) continue;
      var draft = readDraft(key);
      if (!draft || !(now - Number(draft.savedAt) < DRAFT_MAX_AGE_MS)) stale.push(key);
    }
    stale.forEach(function (key) { store.removeItem(key); });
  }

  function markSent(store, key) {
    store.removeItem(key);
    try { store.setItem(DRAFT_SENT_PREFIX + key, String(Date.now())); } catch (e) { /* full */ }
  }

  function setDraftValues(fields, values) {
    if (fields.title) fields.title.value = values.title || "";
    fields.body.value = values.body || "";
    draftRestoring = true;
    try {
      fields.body.dispatchEvent(new Event("input", { bubbles: true }));  // markdownx preview
    } finally { draftRestoring = false; }
  }

  function showDraftNotice(form, fields, savedAt) {
    var note = document.createElement("p");
    note.className = "notice draft-notice";
    note.setAttribute("role", "status");
    var when = new Date(Number(savedAt));
    note.textContent = "Restored your unsent draft" +
      (isNaN(when.getTime()) ? "" : " from " + when.toLocaleString()) + ". ";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "linklike draft-discard";
    discard.textContent = "Discard draft";
    discard.addEventListener("click", function () {
      setDraftValues(fields, draftOriginals.get(form));
      draftTyped.delete(form);
      removeDraft(draftKey(form));
      note.remove();
      fields.body.focus();
    });
    note.appendChild(discard);
    var first = form.querySelector(".field");
    form.insertBefore(note, first || form.firstChild);
  }

  function initDrafts() {
    var store = draftStorage(), user = draftUser();
    if (!store) return;
    var sent = takeSentCookie();
    if (user && sent) markSent(store, DRAFT_PREFIX + user + ":" + sent);
    pruneDrafts(store);
    if (!user) return;
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      var fields = draftFields(form);
      if (!fields.body) return;
      var original = draftValues(fields);  // as the server rendered it
      var refused = form.querySelector(".form-errors, .field-error");
      var draft = readDraft(draftKey(form));
      // A draft is what differs from the form as the server renders it fresh (empty, or the
      // post being edited). A refused post comes back holding what was typed instead: then
      // everything typed counts, until the server accepts a post from this form.
      draftOriginals.set(form, refused ? { title: "", body: "" } : original);
      if (refused && !blankDraft(original)) {
        draftTyped.set(form, Date.now());  // the server re-showed what was typed here
        saveDraft(form);
      } else if (draft && !blankDraft(draft) && !sameDraft(draft, original)) {
        setDraftValues(fields, draft);
        showDraftNotice(form, fields, draft.savedAt);
      }
    });
  }

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (!form || !form.hasAttribute("data-draft") || !draftOriginals.has(form)) return;
    if (draftRestoring) return;
    draftTyped.set(form, Date.now());  // typing, pasting, a quote or a mention inserted
    clearTimeout(draftTimers.get(form));
    draftTimers.set(form, setTimeout(function () { saveDraft(form); }, DRAFT_SAVE_MS));
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute && form.hasAttribute("data-draft") && draftOriginals.has(form)) {
      saveDraft(form);  // kept until the server says the post was accepted
    } else if (form.hasAttribute && form.hasAttribute("data-signout")) {
      signingOut = true;  // this page's pagehide must not write its composer back
      var store = draftStorage();
      if (!store) return;
      var keys = [];
      for (var i = 0; i < store.length; i++) {
        var key = store.key(i) || "";
        if (key.indexOf(DRAFT_PREFIX) === 0 || key.indexOf(DRAFT_SENT_PREFIX) === 0) keys.push(key);
      }
      keys.forEach(function (key) { store.removeItem(key); });
    }
  });

  window.addEventListener("pagehide", function () {
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      if (draftOriginals.has(form)) saveDraft(form);
    });
  });

  document.addEventListener("DOMContentLoaded", initDrafts);

  window.CarocpForum = { insertAtCaret: insertAtCaret, csrfToken: csrfToken, toast: toast };
})();
