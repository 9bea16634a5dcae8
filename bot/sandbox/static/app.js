// The sandbox page: a Slack-like client of the local workspace, acting as whichever person is chosen.
//
// It reads what that person sees from GET /sandbox/api/state (a long poll: the answer comes when the
// workspace changed) and does what they do through POST /sandbox/api/<action>, which the server turns
// into the requests Slack would send the bot.

import { clear, h } from "./dom.js";
import { renderBlocks } from "./blocks.js";
import { clockTime, dayKey, emoji, longDay, mrkdwn } from "./mrkdwn.js";

const API = "/sandbox/api/";
const CLIENT = Math.random().toString(36).slice(2, 12); // lets the server end this tab's previous long poll
const $ = (id) => document.getElementById(id);

const S = {
  me: sessionStorage.getItem("me") || "",
  place: sessionStorage.getItem("place") || "", // a channel ID, or "home"
  thread: null,
  data: null,
  offset: 0, // sandbox time - this browser's time, in ms
  drawn: {}, // what each part of the page was last drawn from (redrawn only when it changed)
  modal: null,
  seen: JSON.parse(sessionStorage.getItem("seen") || "{}"),
  highlight: null,
};

// ---------------------------------------------------------------- talking to the sandbox
async function call(action, body = {}) {
  try {
    const response = await fetch(API + action, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: S.me, ...body }),
    });
    const data = await response.json();
    if (!data.ok && !data.errors) toast(data.error || "That did not work.", "error");
    return data;
  } catch (error) {
    toast("The sandbox did not answer. Is `advocacy-bot sandbox` still running?", "error");
    return { ok: false };
  }
}

let generation = 0;
async function follow() {
  const mine = ++generation;
  let after = -1;
  while (mine === generation) {
    const query = new URLSearchParams({ user: S.me, channel: S.place === "home" ? "" : S.place, after, client: CLIENT });
    try {
      const response = await fetch(`${API}state?${query}`);
      const data = await response.json();
      if (mine !== generation) return;
      if (!response.ok || data.ok === false) throw new Error(data.error || response.statusText);
      after = data.version;
      online(true);
      draw(data);
    } catch (error) {
      if (mine !== generation) return;
      online(false);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function online(yes) {
  $("offline").hidden = yes;
}

function toast(text, kind = "info") {
  const node = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 5000);
}

// ---------------------------------------------------------------- context for the renderers
function me() {
  return (S.data.people || []).find((p) => p.id === S.me) || {};
}

function zone() {
  return me().tz || S.data.zone;
}

function nowMs() {
  return Date.now() + S.offset;
}

function context() {
  return {
    users: S.data.users, channels: S.data.channel_names, people: S.data.people, zone: zone(), nowMs,
    openChannel: (id) => go(id), openPermalink, act, suggest,
  };
}

function openPermalink(url) {
  const match = /^https:\/\/([a-z0-9-]+)\.slack\.com\/archives\/([A-Z0-9]+)\/p(\d+)(\d{6})/.exec(url);
  if (!match || match[1] !== S.data.domain) return false;
  const channel = match[2];
  if (!S.data.channels.some((c) => c.id === channel)) {
    toast("That message is in a channel you are not in.");
    return true;
  }
  S.highlight = `${match[3]}.${match[4]}`;
  go(channel);
  return true;
}

async function act(where, action) {
  const body = { ...action };
  if (where.viewId) body.view_id = where.viewId;
  else Object.assign(body, { channel: where.channel, ts: where.ts });
  await call("action", body);
}

async function suggest(where, query) {
  const answer = await call("suggest", { view_id: where.viewId, ...query });
  return answer.options || [];
}

// ---------------------------------------------------------------- moving around
function remember() {
  sessionStorage.setItem("me", S.me);
  sessionStorage.setItem("place", S.place);
}

function go(place) {
  S.place = place;
  S.thread = null;
  remember();
  if (place === "home") call("home");
  follow();
}

function becomes(person) {
  S.me = person;
  S.thread = null;
  S.modal = null;
  remember();
  if (S.place === "home") call("home");
  follow();
}

function changed(part, value) {
  const key = JSON.stringify(value);
  if (S.drawn[part] === key) return false;
  S.drawn[part] = key;
  return true;
}

// ---------------------------------------------------------------- drawing
function draw(data) {
  S.data = data;
  S.offset = data.now_ms - Date.now();
  if (data.me !== S.me) { // the first visit: the sandbox chose who we are
    S.me = data.me;
    remember();
    if (S.place === "home") call("home");
  }
  if (!S.place || (S.place !== "home" && !data.channel)) {
    const first = data.channels.find((c) => !c.im) || data.channels[0];
    if (first && first.id !== S.place) {
      go(first.id);
      return;
    }
  }
  drawPeople();
  drawClock();
  drawSidebar();
  if (S.place === "home") drawHome();
  else drawChannel();
  drawThread();
  drawModal();
}

function drawPeople() {
  if (!changed("people", [S.data.people, S.me])) return;
  const select = $("person");
  clear(select);
  for (const p of S.data.people) {
    const roles = p.roles.length ? ` (${p.roles.join(", ")})` : "";
    select.append(h("option", { value: p.id, selected: p.id === S.me }, `@${p.name} — ${p.real_name}${roles}`));
  }
}

function drawClock() {
  const now = nowMs();
  $("clock-time").textContent = `${longDay(now, S.data.zone)} · ${clockTime(now, S.data.zone, true)}`;
  $("clock-time").title = `Sandbox time in ${S.data.zone} (the team's timezone)`;
}

function seenKey() {
  return `${S.me}`;
}

function unread(channel) {
  const seen = (S.seen[seenKey()] || {})[channel.id];
  return channel.latest && channel.id !== S.place && (!seen || Number(channel.latest) > Number(seen));
}

function markSeen(channel) {
  if (!channel || !channel.latest) return;
  const mine = (S.seen[seenKey()] ||= {});
  if (mine[channel.id] === channel.latest) return;
  mine[channel.id] = channel.latest;
  sessionStorage.setItem("seen", JSON.stringify(S.seen));
}

function drawSidebar() {
  const current = S.data.channels.find((c) => c.id === S.place);
  markSeen(current);
  if (!changed("sidebar", [S.data.channels, S.place, S.seen[seenKey()] || {}, S.data.team])) return;
  const item = (c) => h("li", {}, h("a", {
    href: "#", class: ["channel", c.id === S.place ? "active" : "", c.archived ? "archived" : "", unread(c) ? "unread" : ""].join(" "),
    dataset: { channel: c.id, channelName: c.name }, title: c.archived ? "archived" : "",
    onclick: (e) => { e.preventDefault(); go(c.id); },
  }, c.im ? "🤖 " : c.private ? "🔒 " : "# ", c.name, c.archived ? " (archived)" : ""));
  const channels = S.data.channels.filter((c) => !c.im);
  channels.sort((a, b) => Number(a.archived) - Number(b.archived) || a.name.localeCompare(b.name));
  const dms = S.data.channels.filter((c) => c.im);
  clear($("sidebar")).append(
    h("div", { class: "workspace" }, S.data.team, h("span", { class: "sub" }, "local Slack stand-in")),
    h("a", { href: "#", class: `channel home-link ${S.place === "home" ? "active" : ""}`, dataset: { channel: "home" },
             onclick: (e) => { e.preventDefault(); go("home"); } }, "🏠 ", `${S.data.bot.name} · Home`),
    h("div", { class: "section-title" }, "Channels"), h("ul", {}, channels.map(item)),
    h("div", { class: "section-title" }, "Direct messages"),
    h("ul", {}, dms.length ? dms.map(item) : h("li", { class: "empty" }, "No messages from the bot yet")));
}

function author(m) {
  if (m.bot || m.user === S.data.bot.id) return S.data.bot.name;
  return S.data.users[m.user] || m.user || "someone";
}

function isTop(m) {
  return !m.thread_ts || m.thread_ts === m.ts;
}

function replies(channel, ts) {
  return channel.messages.filter((m) => m.thread_ts === ts && m.ts !== ts);
}

function messageNode(m, channel, { ephemeral = false, inThread = false } = {}) {
  const ms = Number(m.ts) * 1000;
  if (m.subtype && m.subtype.startsWith("channel_")) {
    return h("div", { class: "msg system", dataset: { ts: m.ts } }, h("span", { class: "time" }, clockTime(ms, zone())), " ",
      mrkdwn(m.text, context()));
  }
  const ctx = context();
  const where = { channel: channel.id, ts: m.ts, ephemeral };
  const blocks = (m.blocks || []).filter((b) => b.type !== "rich_text");
  const content = blocks.length ? renderBlocks(m.blocks, ctx, where) : h("div", { class: "text" }, mrkdwn(m.text, ctx));
  const name = ephemeral ? S.data.bot.name : author(m);
  const bot = ephemeral || m.bot;
  const threadReplies = inThread ? [] : replies(channel, m.ts);
  const node = h("div", {
    class: ["msg", ephemeral ? "ephemeral" : "", S.highlight === m.ts ? "highlight" : ""].join(" "),
    dataset: { ts: m.ts, user: ephemeral ? S.data.bot.id : m.user || "", bot: bot ? "yes" : "no" },
  },
  h("div", { class: `avatar${bot ? " bot" : ""}` }, bot ? "🤖" : name.slice(0, 1).toUpperCase()),
  h("div", { class: "msg-body" },
    h("div", { class: "meta" }, h("b", { class: "author" }, name), bot ? h("span", { class: "badge" }, "APP") : null,
      h("span", { class: "time", title: `${longDay(ms, zone())} ${clockTime(ms, zone(), true)}` }, clockTime(ms, zone())),
      m.edited ? h("span", { class: "edited" }, "(edited)") : null,
      m.pinned ? h("span", { class: "pinned" }, "📌 Pinned") : null,
      ephemeral ? h("span", { class: "only-you" }, "Only visible to you") : null),
    content,
    (m.files || []).map((f) => h("div", { class: "file" }, (f.mimetype || "").startsWith("image/")
      ? h("figure", {}, h("img", { src: f.url, alt: f.title || f.name, class: "file-image" }), h("figcaption", {}, f.title || f.name))
      : h("a", { href: f.url, download: f.name }, `📎 ${f.title || f.name}`))),
    (m.attachments || []).map((a) => h("div", { class: "attachment" }, h("b", {}, a.title || a.service_name || ""), " ",
      a.text || a.fallback || "")),
    (m.reactions || []).length ? h("div", { class: "reactions" }, m.reactions.map((r) => h("button", {
      type: "button", class: `reaction${r.users.includes(S.me) ? " mine" : ""}`, dataset: { reaction: r.name },
      title: r.users.map((u) => `@${S.data.users[u] || u}`).join(", "),
      onclick: () => { if (!r.users.includes(S.me)) react(channel.id, m.ts, r.name); },
    }, emoji(r.name), " ", String(r.count)))) : null,
    threadReplies.length ? h("a", { href: "#", class: "replies", onclick: (e) => { e.preventDefault(); openThread(m.ts); } },
      `${threadReplies.length} ${threadReplies.length === 1 ? "reply" : "replies"}`) : null),
  ephemeral ? null : h("div", { class: "toolbar" },
    h("button", { type: "button", class: "tool add-reaction", title: "Add reaction",
                  onclick: (e) => picker(e.currentTarget, channel.id, m.ts) }, "😀"),
    inThread ? null : h("button", { type: "button", class: "tool reply-in-thread", title: "Reply in thread",
                                    onclick: () => openThread(m.ts) }, "💬"),
    h("button", { type: "button", class: "tool more-actions", title: "More actions",
                  onclick: (e) => shortcuts(e.currentTarget, channel.id, m.ts) }, "⋯")));
  return node;
}

function withDays(items, make) {
  const out = [];
  let day = null;
  for (const item of items) {
    const ms = Number(item.ts) * 1000;
    const key = dayKey(ms, zone());
    if (key !== day) {
      day = key;
      out.push(h("div", { class: "day" }, h("span", {}, longDay(ms, zone()))));
    }
    out.push(make(item));
  }
  return out;
}

function timeline(channel, thread) {
  const messages = channel.messages.filter((m) => (thread ? m.ts === thread || m.thread_ts === thread : isTop(m)));
  const ephemerals = channel.ephemerals.filter((e) => (thread ? e.thread_ts === thread : !e.thread_ts))
    .map((e) => ({ ...e, ephemeral: true }));
  return [...messages, ...ephemerals].sort((a, b) => Number(a.ts) - Number(b.ts));
}

function drawList(list, items, make, key) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const fresh = S.drawn[`${key}:where`] !== `${S.me}:${S.place}:${S.thread}`;
  S.drawn[`${key}:where`] = `${S.me}:${S.place}:${S.thread}`;
  const top = list.scrollTop;
  clear(list).append(...withDays(items, make));
  const target = S.highlight && list.querySelector(`.msg[data-ts="${S.highlight}"]`);
  if (target) {
    target.scrollIntoView({ block: "center" });
    S.highlight = null;
  } else if (atBottom || fresh) list.scrollTop = list.scrollHeight;
  else list.scrollTop = top;
}

function drawChannel() {
  const channel = S.data.channel;
  if (!channel) return;
  $("main").dataset.place = channel.id;
  if (changed("header", [channel.id, channel.name, channel.topic, channel.pins, channel.bookmarks, channel.archived,
                         channel.members, S.me])) {
    clear($("channel-header")).append(
      h("div", { class: "title" }, channel.im ? "🤖 " : channel.private ? "🔒 " : "# ", h("span", { id: "channel-name" }, channel.name),
        channel.archived ? h("span", { class: "archived-badge" }, "archived") : null),
      h("div", { class: "topic" }, channel.im ? `Your messages from ${S.data.bot.name}` : mrkdwn(channel.topic || "", context())),
      h("div", { class: "counts" }, channel.im ? "" : `👥 ${channel.members.length}`,
        channel.pins.length ? ` · 📌 ${channel.pins.length} pinned` : ""));
    clear($("bookmarks")).append(...channel.bookmarks.map((b) => h("a", {
      href: "#", class: "bookmark", onclick: (e) => { e.preventDefault(); if (!openPermalink(b.link)) window.open(b.link, "_blank", "noopener"); },
    }, "🔖 ", b.title)));
    $("bookmarks").hidden = !channel.bookmarks.length;
  }
  if (changed("messages", [channel, S.me, S.data.users, S.data.channel_names])) {
    drawList($("messages"), timeline(channel, null), (m) => messageNode(m, channel, { ephemeral: Boolean(m.ephemeral) }), "messages");
  }
  drawComposer(channel);
}

function drawComposer(channel) {
  const box = $("composer-text");
  let why = "";
  if (channel.archived) why = `#${channel.name} is archived: nobody can post or run commands there.`;
  else if (channel.im) why = `Sending messages to ${S.data.bot.name} is turned off (its Messages tab is read-only).`;
  else if (!channel.member) why = "join";
  $("composer").hidden = Boolean(why);
  const note = $("composer-note");
  clear(note).hidden = !why;
  if (why === "join") {
    note.append(`You are not in #${channel.name}. `, h("button", { type: "button", class: "btn btn-primary", id: "join",
      onclick: async () => { await call("join", { channel: channel.id }); } }, `Join #${channel.name}`));
  } else if (why) note.append(why);
  box.placeholder = `Message #${channel.name} — or a command: ${Object.keys(S.data.commands).join(", ")}`;
}

function drawHome() {
  $("main").dataset.place = "home";
  clear($("bookmarks")).hidden = true;
  $("composer").hidden = true;
  clear($("composer-note")).hidden = true;
  if (changed("header", ["home", S.data.bot.name])) {
    clear($("channel-header")).append(h("div", { class: "title" }, "🏠 ", h("span", { id: "channel-name" }, S.data.bot.name)),
      h("div", { class: "topic" }, "Home"));
  }
  if (!changed("messages", ["home", S.data.home, S.me, S.data.users])) return;
  const home = S.data.home;
  clear($("messages")).append(home ? h("div", { class: "home" }, renderBlocks(home.blocks, context(), { viewId: home.id }))
    : h("div", { class: "empty" }, "Opening your Home…"));
}

function openThread(ts) {
  S.thread = ts;
  drawThread();
}

function drawThread() {
  const pane = $("thread");
  const channel = S.data.channel;
  const parent = channel && S.place !== "home" && channel.messages.find((m) => m.ts === S.thread);
  pane.hidden = !parent;
  if (!parent) {
    S.thread = null;
    return;
  }
  $("reply").hidden = channel.archived || channel.im || !channel.member;
  if (!changed("thread", [S.thread, channel.messages.filter((m) => m.ts === S.thread || m.thread_ts === S.thread),
                          channel.ephemerals.filter((e) => e.thread_ts === S.thread), S.me])) return;
  drawList($("thread-messages"), timeline(channel, S.thread), (m) => messageNode(m, channel, { ephemeral: Boolean(m.ephemeral), inThread: true }), "thread");
}

// ---------------------------------------------------------------- modals
function drawModal() {
  const modal = S.data.modal;
  const root = $("modal-root");
  if (!modal) {
    S.modal = null;
    clear(root);
    return;
  }
  if (S.modal && S.modal.id === modal.id && S.modal.hash === modal.hash) return; // keep what is being typed
  const where = { viewId: modal.id, inputs: {}, errors: {} };
  S.modal = { id: modal.id, hash: modal.hash, where };
  const close = () => call("close", { view_id: modal.id });
  const submit = async (e) => {
    e.preventDefault();
    const values = Object.fromEntries(Object.entries(where.inputs).map(([block, get]) => [block, get()]));
    const button = root.querySelector(".modal-submit");
    if (button) button.disabled = true;
    const answer = await call("submit", { view_id: modal.id, values });
    if (button) button.disabled = false;
    showErrors(root, answer.errors || {});
  };
  clear(root).append(h("div", { class: "backdrop" }, h("form", { class: "modal", role: "dialog", dataset: { viewId: modal.id }, onsubmit: submit },
    h("div", { class: "modal-head" }, h("span", { class: "modal-title" }, (modal.title && modal.title.text) || ""),
      h("button", { type: "button", class: "btn btn-icon", title: "Close", onclick: close }, "×")),
    h("div", { class: "modal-body" }, renderBlocks(modal.blocks, context(), where)),
    h("div", { class: "modal-foot" },
      h("button", { type: "button", class: "btn modal-cancel", onclick: close }, (modal.close && modal.close.text) || "Cancel"),
      modal.submit ? h("button", { type: "submit", class: "btn btn-primary modal-submit" }, modal.submit.text) : null))));
}

function showErrors(root, errors) {
  for (const node of root.querySelectorAll(".input-error")) node.remove();
  for (const node of root.querySelectorAll(".has-error")) node.classList.remove("has-error");
  for (const [block, text] of Object.entries(errors)) {
    const node = root.querySelector(`.input-block[data-block-id="${CSS.escape(block)}"]`);
    if (!node) {
      toast(text, "error");
      continue;
    }
    node.classList.add("has-error");
    node.append(h("div", { class: "input-error" }, text));
  }
}

// ---------------------------------------------------------------- popovers: reactions and shortcuts
function popover(anchor, items) {
  const pop = $("popover");
  clear(pop).append(...items);
  const box = anchor.getBoundingClientRect();
  pop.style.top = `${Math.min(window.innerHeight - 60, box.bottom + 4)}px`;
  pop.style.left = `${Math.max(8, Math.min(window.innerWidth - 260, box.right - 240))}px`;
  pop.hidden = false;
}

function picker(anchor, channel, ts) {
  popover(anchor, S.data.reactions.map((name) => h("button", {
    type: "button", class: "pick", title: `:${name}:`, dataset: { reaction: name },
    onclick: () => { $("popover").hidden = true; react(channel, ts, name); },
  }, emoji(name))));
}

function shortcuts(anchor, channel, ts) {
  popover(anchor, Object.entries(S.data.shortcuts).map(([id, name]) => h("button", {
    type: "button", class: "menu-item", dataset: { shortcut: id },
    onclick: () => { $("popover").hidden = true; call("shortcut", { callback_id: id, channel, ts }); },
  }, `⚡ ${name}`)));
}

async function react(channel, ts, name) {
  await call("react", { channel, ts, name });
}

document.addEventListener("click", (e) => {
  const pop = $("popover");
  if (!pop.hidden && !pop.contains(e.target) && !e.target.closest(".tool")) pop.hidden = true;
  for (const menu of document.querySelectorAll(".overflow-menu:not([hidden])")) {
    if (!menu.parentElement.contains(e.target)) menu.hidden = true;
  }
});

// ---------------------------------------------------------------- typing: messages, replies, commands
function hints(text) {
  const list = $("command-hints");
  const typed = text.trim();
  const matches = typed.startsWith("/") && !/\s/.test(typed)
    ? Object.entries(S.data.commands).filter(([name]) => name.startsWith(typed)) : [];
  clear(list).append(...matches.map(([name, usage]) => h("button", {
    type: "button", class: "hint-item", onclick: () => { $("composer-text").value = `${name} `; $("composer-text").focus(); hints(""); },
  }, h("b", {}, name), " ", usage)));
  list.hidden = !matches.length;
}

async function send(box, extra) {
  const text = box.value;
  if (!text.trim()) return;
  box.disabled = true;
  const answer = await call("message", { channel: S.place, text, ...extra });
  box.disabled = false;
  if (answer.ok) {
    box.value = "";
    hints("");
  }
  box.focus();
}

function enterSends(box, extra) {
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send(box, extra());
    }
  });
}

function setUp() {
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send($("composer-text"), {}); });
  enterSends($("composer-text"), () => ({}));
  $("composer-text").addEventListener("input", (e) => hints(e.target.value));
  $("reply").addEventListener("submit", (e) => { e.preventDefault(); send($("reply-text"), { thread_ts: S.thread }); });
  enterSends($("reply-text"), () => ({ thread_ts: S.thread }));
  $("thread-close").addEventListener("click", () => { S.thread = null; drawThread(); });
  $("person").addEventListener("change", (e) => becomes(e.target.value));
  for (const button of document.querySelectorAll("[data-jump]")) {
    button.addEventListener("click", async () => {
      for (const b of document.querySelectorAll("[data-jump]")) b.disabled = true;
      const answer = await call("clock", { jump: button.dataset.jump });
      for (const b of document.querySelectorAll("[data-jump]")) b.disabled = false;
      if (!answer.ok) return;
      const done = Object.entries(answer.jobs).filter(([, n]) => n).map(([job, n]) => `${job} ${n}`);
      const zoneName = S.data ? S.data.zone : "UTC";
      const at = new Date(answer.now).getTime();
      toast(`Tick at ${longDay(at, zoneName)} ${clockTime(at, zoneName)}: ${done.join(", ") || "nothing was due"}; `
            + `outbox: ${answer.outbox.done} sent${answer.outbox.failed ? `, ${answer.outbox.failed} failed` : ""}.`);
      for (const [job, error] of Object.entries(answer.errors || {})) toast(`${job}: ${error}`, "error");
    });
  }
  setInterval(() => { if (S.data) drawClock(); }, 1000);
  if (S.place === "home" && S.me) call("home");
  follow();
}

setUp();
