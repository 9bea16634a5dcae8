// Slack's mrkdwn as Slack clients show it, built as DOM nodes (never as HTML text).
//
// Slack text arrives entity-escaped (&amp; &lt; &gt;); control sequences in <…> are mentions (<@U…>),
// channels (<#C…|name>), broadcasts (<!here>), dates (<!date^…|fallback>) and links (<https://…|label>).

import { h, safeHref } from "./dom.js";

export const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", zzz: "💤", pushpin: "📌",
  hourglass_flowing_sand: "⏳", hourglass: "⌛", alarm_clock: "⏰", rotating_light: "🚨", tada: "🎉",
  "+1": "👍", thumbsup: "👍", "-1": "👎", eyes: "👀", wave: "👋", repeat: "🔁", handshake: "🤝", mag: "🔍",
  lock: "🔒", leftwards_arrow_with_hook: "↩️", fast_forward: "⏩", clipboard: "📋", calendar: "📅",
  triangular_flag_on_post: "🚩", moneybag: "💰", memo: "📝", mega: "📣", heavy_minus_sign: "➖",
  file_cabinet: "🗄️", closed: "🔒", bust_in_silhouette: "👤", bell: "🔔", arrows_counterclockwise: "🔄",
  arrow_up_small: "🔼", arrow_down_small: "🔽", chart_with_upwards_trend: "📈", bar_chart: "📊", fire: "🔥",
  heart: "❤️", pray: "🙏", raised_hands: "🙌", thinking_face: "🤔", smile: "😄", slightly_smiling_face: "🙂",
  speech_balloon: "💬", email: "📧", phone: "📞", telephone_receiver: "📞", information_source: "ℹ️",
  star: "⭐", sparkles: "✨", rocket: "🚀", white_circle: "⚪", red_circle: "🔴", large_green_circle: "🟢",
  large_yellow_circle: "🟡", large_orange_circle: "🟠", busts_in_silhouette: "👥", office: "🏢",
  house: "🏠", robot_face: "🤖", point_right: "👉", new: "🆕", ok: "🆗", no_entry: "⛔", stopwatch: "⏱️",
};

export function emoji(name) {
  const base = String(name).split("::")[0]; // +1::skin-tone-3
  return EMOJI[base] || `:${name}:`;
}

export function unescapeSlack(text) {
  return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// ---------------------------------------------------------------- dates in the viewer's timezone
function parts(ms, zone, options) {
  const out = {};
  for (const p of new Intl.DateTimeFormat("en-GB", { timeZone: zone, ...options }).formatToParts(new Date(ms))) {
    out[p.type] = p.value;
  }
  return out;
}

export function dayKey(ms, zone) {
  const p = parts(ms, zone, { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

export function clockTime(ms, zone, seconds = false) {
  const p = parts(ms, zone, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
}

export function longDay(ms, zone) {
  const p = parts(ms, zone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  return `${p.weekday}, ${p.day} ${p.month} ${p.year}`;
}

function pretty(ms, zone, nowMs, plainText) {
  const day = dayKey(ms, zone);
  const offsets = { today: 0, yesterday: -1, tomorrow: 1 };
  for (const [word, days] of Object.entries(offsets)) {
    if (day === dayKey(nowMs + days * 86400000, zone)) return word;
  }
  return plainText;
}

function ago(ms, nowMs) {
  const minutes = Math.round((nowMs - ms) / 60000);
  const size = Math.abs(minutes);
  const [n, unit] = size < 60 ? [size, "minute"] : size < 2880 ? [Math.round(size / 60), "hour"] : [Math.round(size / 1440), "day"];
  const span = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return minutes >= 0 ? `${span} ago` : `in ${span}`;
}

export function slackDate(seconds, format, zone, nowMs) {
  const ms = Number(seconds) * 1000;
  const p = parts(ms, zone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const short = parts(ms, zone, { day: "numeric", month: "short", year: "numeric" });
  const tokens = {
    date_num: dayKey(ms, zone),
    date: `${p.day} ${p.month} ${p.year}`,
    date_short: `${short.day} ${short.month} ${short.year}`,
    date_long: `${p.weekday}, ${p.day} ${p.month} ${p.year}`,
    time: clockTime(ms, zone),
    time_secs: clockTime(ms, zone, true),
    ago: ago(ms, nowMs),
  };
  tokens.date_pretty = pretty(ms, zone, nowMs, tokens.date);
  tokens.date_short_pretty = pretty(ms, zone, nowMs, tokens.date_short);
  tokens.date_long_pretty = pretty(ms, zone, nowMs, tokens.date_long);
  return format.replace(/\{(\w+)\}/g, (whole, name) => (name in tokens ? tokens[name] : whole));
}

// ---------------------------------------------------------------- control sequences
function control(sequence, ctx) {
  const [target, ...rest] = sequence.split("|");
  const label = rest.length ? unescapeSlack(rest.join("|")) : "";
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return h("span", { class: "mention", dataset: { user: id } }, "@", ctx.users[id] || label || id);
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = ctx.channels[id] || label || "private-channel";
    return h("a", { class: "channel-link", href: "#", dataset: { channel: id },
                    onclick: (e) => { e.preventDefault(); ctx.openChannel(id); } }, "#", name);
  }
  if (target.startsWith("!")) {
    const [kind, ...args] = target.slice(1).split("^");
    if (["here", "channel", "everyone"].includes(kind)) return h("span", { class: "mention broadcast" }, `@${kind}`);
    if (kind === "subteam") return h("span", { class: "mention" }, label || `@${args[0] || "group"}`);
    if (kind === "date" && args.length >= 2) {
      const text = slackDate(args[0], unescapeSlack(args[1]), ctx.zone, ctx.nowMs());
      return h("time", { class: "slack-date", datetime: new Date(Number(args[0]) * 1000).toISOString(), title: label }, text);
    }
    return document.createTextNode(label || unescapeSlack(`<${sequence}>`));
  }
  const url = unescapeSlack(target);
  const href = safeHref(url);
  if (!href) return document.createTextNode(unescapeSlack(`<${sequence}>`));
  return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "link",
                  onclick: (e) => { if (ctx.openPermalink(href)) e.preventDefault(); } }, label || url);
}

// ---------------------------------------------------------------- inline formatting
// Markers count at word edges only, as in Slack: *bold*, _italic_, ~strike~, `code`.
const INLINE = new RegExp([
  "(`[^`\\n]+`)",
  "(<[^<>\\n]+>)",
  "((?<![\\w*])\\*(?=[^\\s*])[^*\\n]*?(?<=\\S)\\*(?![\\w*]))",
  "((?<![\\w_])_(?=[^\\s_])[^_\\n]*?(?<=\\S)_(?![\\w_]))",
  "((?<![\\w~])~(?=[^\\s~])[^~\\n]*?(?<=\\S)~(?![\\w~]))",
  "(:[a-z0-9_+'-]+(?:::skin-tone-\\d)?:)",
].join("|"), "g");

function inline(text, ctx) {
  const out = [];
  let at = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > at) out.push(unescapeSlack(text.slice(at, match.index)));
    const [whole, code, ctrl, bold, italic, strike, emojiName] = match;
    if (code) out.push(h("code", {}, unescapeSlack(code.slice(1, -1))));
    else if (ctrl) out.push(control(ctrl.slice(1, -1), ctx));
    else if (bold) out.push(h("b", {}, inline(bold.slice(1, -1), ctx)));
    else if (italic) out.push(h("i", {}, inline(italic.slice(1, -1), ctx)));
    else if (strike) out.push(h("s", {}, inline(strike.slice(1, -1), ctx)));
    else if (emojiName) {
      const name = emojiName.slice(1, -1);
      const shown = emoji(name);
      out.push(shown.startsWith(":") ? unescapeSlack(whole) : h("span", { class: "emoji", title: `:${name}:` }, shown));
    }
    at = match.index + whole.length;
  }
  if (at < text.length) out.push(unescapeSlack(text.slice(at)));
  return out;
}

function lines(text, ctx) {
  const out = [];
  text.split("\n").forEach((line, i) => {
    if (i) out.push(h("br"));
    out.push(inline(line, ctx));
  });
  return out;
}

// A whole mrkdwn text: ```pre``` blocks, > quotes (line by line), then inline formatting.
export function mrkdwn(text, ctx) {
  const frag = document.createDocumentFragment();
  const pieces = String(text || "").split(/```/);
  pieces.forEach((piece, i) => {
    if (i % 2 === 1 && i < pieces.length - 1) {
      frag.append(h("pre", {}, unescapeSlack(piece.replace(/^\n/, ""))));
      return;
    }
    const chunk = i % 2 === 1 ? "```" + piece : piece; // an unclosed fence stays text
    let quote = [];
    let plain = [];
    const flush = () => {
      if (plain.length) frag.append(h("span", {}, lines(plain.join("\n"), ctx)));
      if (quote.length) frag.append(h("blockquote", {}, lines(quote.join("\n"), ctx)));
      plain = [];
      quote = [];
    };
    for (const line of chunk.split("\n")) {
      const quoted = /^(&gt;|>)\s?/.exec(line);
      if (quoted) {
        if (plain.length) flush();
        quote.push(line.slice(quoted[0].length));
      } else {
        if (quote.length) flush();
        plain.push(line);
      }
    }
    flush();
  });
  return frag;
}

export function plainText(text) {
  return document.createTextNode(String(text || ""));
}

// A text object of Block Kit: mrkdwn rendered, plain_text as is (with :emoji: when asked).
export function textObject(object, ctx) {
  if (!object) return document.createDocumentFragment();
  if (object.type === "mrkdwn") return mrkdwn(object.text, ctx);
  const text = String(object.text || "");
  return document.createTextNode(object.emoji === false ? text : text.replace(/:([a-z0-9_+'-]+):/g, (w, n) => {
    const shown = emoji(n);
    return shown.startsWith(":") ? w : shown;
  }));
}
