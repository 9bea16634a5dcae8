// Block Kit as Slack clients show it, for the blocks and elements the bot uses (and their close kin):
// section (text, fields, accessory), context, divider, header, image, actions, input, rich_text.
//
// Interactive elements outside input blocks send block_actions at once (ctx.act); inputs in a modal
// register a getter in where.inputs, read on Submit and sent as view_submission values by block ID.

import { h } from "./dom.js";
import { mrkdwn, textObject } from "./mrkdwn.js";

function optionsOf(element) {
  const options = [...(element.options || [])];
  for (const group of element.option_groups || []) options.push(...(group.options || []));
  return options;
}

function placeholder(element, fallback) {
  return (element.placeholder && element.placeholder.text) || fallback;
}

function label(text) {
  return (text && text.text) || "";
}

// ---------------------------------------------------------------- elements that act at once
function button(element, block, ctx, where) {
  const classes = ["btn", element.style === "primary" ? "btn-primary" : element.style === "danger" ? "btn-danger" : ""];
  return h("button", {
    type: "button", class: classes.join(" "), dataset: { actionId: element.action_id || "" },
    onclick: () => {
      if (element.url) window.open(element.url, "_blank", "noopener");
      ctx.act(where, { action_id: element.action_id, block_id: block.block_id, value: element.value ?? null });
    },
  }, textObject(element.text, ctx));
}

function overflow(element, block, ctx, where) {
  const menu = h("div", { class: "overflow-menu", hidden: true });
  for (const option of element.options || []) {
    menu.append(h("button", {
      type: "button", class: "overflow-item",
      onclick: () => {
        menu.hidden = true;
        ctx.act(where, { action_id: element.action_id, block_id: block.block_id, value: option.value });
      },
    }, textObject(option.text, ctx)));
  }
  return h("span", { class: "overflow" },
    h("button", { type: "button", class: "btn btn-icon", title: "More", dataset: { actionId: element.action_id || "" },
                  onclick: () => { menu.hidden = !menu.hidden; } }, "⋯"),
    menu);
}

function staticSelect(element, ctx) {
  const select = h("select", { class: "select", multiple: element.type.startsWith("multi_") });
  if (!select.multiple) select.append(h("option", { value: "" }, placeholder(element, "Choose…")));
  const chosen = new Set([element.initial_option, ...(element.initial_options || [])].filter(Boolean).map((o) => o.value));
  const add = (parent, option) => parent.append(h("option", { value: option.value, selected: chosen.has(option.value) },
                                                  textObject(option.text, ctx).textContent));
  for (const option of element.options || []) add(select, option);
  for (const group of element.option_groups || []) {
    const optgroup = h("optgroup", { label: label(group.label) });
    for (const option of group.options || []) add(optgroup, option);
    select.append(optgroup);
  }
  if (select.multiple) select.size = Math.min(6, Math.max(2, optionsOf(element).length));
  return select;
}

function usersSelect(element, ctx) {
  const multi = element.type.startsWith("multi_");
  const select = h("select", { class: "select", multiple: multi });
  if (!multi) select.append(h("option", { value: "" }, placeholder(element, "Choose a person")));
  const chosen = new Set([element.initial_user, ...(element.initial_users || [])].filter(Boolean));
  for (const person of ctx.people) {
    select.append(h("option", { value: person.id, selected: chosen.has(person.id) }, `@${person.name} — ${person.real_name}`));
  }
  if (multi) select.size = Math.min(6, ctx.people.length);
  return select;
}

function conversationsSelect(element, ctx) {
  const multi = element.type.startsWith("multi_");
  const select = h("select", { class: "select", multiple: multi });
  if (!multi) select.append(h("option", { value: "" }, placeholder(element, "Choose a channel")));
  const chosen = new Set([element.initial_conversation, element.initial_channel, ...(element.initial_conversations || []),
                          ...(element.initial_channels || [])].filter(Boolean));
  for (const [id, name] of Object.entries(ctx.channels)) {
    select.append(h("option", { value: id, selected: chosen.has(id) }, `#${name}`));
  }
  return select;
}

function selectedValues(select) {
  return [...select.selectedOptions].map((o) => o.value).filter(Boolean);
}

// An external select: type to search (block_suggestion), pick one of the bot's options.
function externalSelect(element, block, ctx, where, onPick) {
  const multi = element.type.startsWith("multi_");
  let chosen = [element.initial_option, ...(element.initial_options || [])].filter(Boolean);
  const input = h("input", { type: "text", class: "input", placeholder: placeholder(element, "Type to search"),
                             autocomplete: "off", dataset: { actionId: element.action_id || "" } });
  const list = h("div", { class: "suggestions", hidden: true });
  const chips = h("div", { class: "chips" });
  const showChosen = () => {
    chips.replaceChildren(...(multi ? chosen.map((o) => h("span", { class: "chip" }, label(o.text),
      h("button", { type: "button", class: "chip-x", title: "Remove",
                    onclick: () => { chosen = chosen.filter((c) => c !== o); showChosen(); } }, "×"))) : []));
    if (!multi) input.value = chosen[0] ? label(chosen[0].text) : "";
  };
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    if (!multi) chosen = [];
    clearTimeout(timer);
    const query = input.value.trim();
    const least = element.min_query_length ?? 3;
    if (query.length < least) { list.hidden = true; return; }
    timer = setTimeout(async () => {
      const mine = ++asked;
      const options = await ctx.suggest(where, { action_id: element.action_id, block_id: block.block_id, value: query });
      if (mine !== asked) return;
      list.replaceChildren(...(options.length ? options.map((o) => h("button", {
        type: "button", class: "suggestion",
        onclick: () => {
          chosen = multi ? [...chosen.filter((c) => c.value !== o.value), o] : [o];
          list.hidden = true;
          if (multi) input.value = "";
          showChosen();
          if (onPick) onPick(o);
        },
      }, label(o.text))) : [h("div", { class: "suggestion-empty" }, "No matches")]));
      list.hidden = false;
    }, 200);
  });
  showChosen();
  const wrap = h("div", { class: "external-select" }, chips, input, list);
  return { node: wrap, get: () => (multi ? chosen : chosen[0] || null) };
}

function choices(element, ctx) {
  const radio = element.type === "radio_buttons";
  const name = `c${Math.random().toString(36).slice(2)}`;
  const chosen = new Set([element.initial_option, ...(element.initial_options || [])].filter(Boolean).map((o) => o.value));
  const wrap = h("div", { class: "choices" });
  for (const option of element.options || []) {
    wrap.append(h("label", { class: "choice" },
      h("input", { type: radio ? "radio" : "checkbox", name, value: option.value, checked: chosen.has(option.value) }),
      " ", textObject(option.text, ctx),
      option.description ? h("div", { class: "hint" }, textObject(option.description, ctx)) : null));
  }
  return wrap;
}

function checkedValues(wrap) {
  return [...wrap.querySelectorAll("input:checked")].map((i) => i.value);
}

// The control for an element, and how to read its value (as Slack would put it in the state).
function control(element, block, ctx, where) {
  const type = element.type;
  if (type === "plain_text_input" || type === "email_text_input" || type === "url_text_input" || type === "number_input") {
    const attrs = { class: "input", placeholder: placeholder(element, ""), value: element.initial_value ?? "",
                    maxlength: element.max_length, dataset: { actionId: element.action_id || "" } };
    const node = element.multiline ? h("textarea", { ...attrs, rows: 3 })
      : h("input", { ...attrs, type: type === "number_input" ? "number" : type === "email_text_input" ? "email" : "text" });
    return { node, get: () => (node.value.trim() === "" ? null : node.value) };
  }
  if (type === "static_select" || type === "multi_static_select") {
    const node = staticSelect(element, ctx);
    return { node, get: () => (node.multiple ? selectedValues(node) : node.value || null) };
  }
  if (type === "users_select" || type === "multi_users_select") {
    const node = usersSelect(element, ctx);
    return { node, get: () => (node.multiple ? selectedValues(node) : node.value || null) };
  }
  if (/^(multi_)?(conversations|channels)_select$/.test(type)) {
    const node = conversationsSelect(element, ctx);
    return { node, get: () => (node.multiple ? selectedValues(node) : node.value || null) };
  }
  if (type === "external_select" || type === "multi_external_select") return externalSelect(element, block, ctx, where);
  if (type === "datepicker") {
    const node = h("input", { type: "date", class: "input", value: element.initial_date || "" });
    return { node, get: () => node.value || null };
  }
  if (type === "timepicker") {
    const node = h("input", { type: "time", class: "input", value: element.initial_time || "" });
    return { node, get: () => node.value || null };
  }
  if (type === "checkboxes" || type === "radio_buttons") {
    const node = choices(element, ctx);
    return { node, get: () => (type === "checkboxes" ? checkedValues(node) : checkedValues(node)[0] || null) };
  }
  return { node: h("span", { class: "unsupported" }, `[${type}]`), get: () => null };
}

// An element outside an input block: a button, a menu, or a picker that acts when changed.
function actionElement(element, block, ctx, where) {
  if (element.type === "button") return button(element, block, ctx, where);
  if (element.type === "overflow") return overflow(element, block, ctx, where);
  if (element.type === "image") return image(element.image_url, element.alt_text, "accessory-image");
  if (element.type === "external_select" || element.type === "multi_external_select") {
    return externalSelect(element, block, ctx, where, (o) => ctx.act(where, { action_id: element.action_id,
      block_id: block.block_id, value: o })).node;
  }
  const { node, get } = control(element, block, ctx, where);
  node.addEventListener("change", () => {
    const value = get();
    if (value !== null) ctx.act(where, { action_id: element.action_id, block_id: block.block_id, value });
  });
  return h("span", { class: "action-control" }, node);
}

// The sandbox makes no requests elsewhere: an image from another site is shown by its description.
function image(url, alt, className) {
  const local = /^(\/|data:image\/)/.test(String(url || ""));
  return local ? h("img", { src: url, alt: alt || "", class: className })
    : h("span", { class: `${className} image-placeholder`, title: url || "" }, `🖼 ${alt || "image"}`);
}

function richText(block, ctx) {
  const inline = (elements) => (elements || []).map((e) => {
    if (e.type === "text") {
      let node = document.createTextNode(e.text || "");
      const style = e.style || {};
      if (style.code) node = h("code", {}, node);
      if (style.bold) node = h("b", {}, node);
      if (style.italic) node = h("i", {}, node);
      if (style.strike) node = h("s", {}, node);
      return node;
    }
    if (e.type === "user") return h("span", { class: "mention" }, "@", ctx.users[e.user_id] || e.user_id);
    if (e.type === "channel") return h("span", { class: "channel-link" }, "#", ctx.channels[e.channel_id] || e.channel_id);
    if (e.type === "broadcast") return h("span", { class: "mention broadcast" }, `@${e.range}`);
    if (e.type === "link") return mrkdwn(`<${e.url}${e.text ? `|${e.text}` : ""}>`, ctx);
    if (e.type === "emoji") return mrkdwn(`:${e.name}:`, ctx);
    return null;
  });
  return h("div", { class: "rich-text" }, (block.elements || []).map((section) => {
    if (section.type === "rich_text_preformatted") return h("pre", {}, inline(section.elements));
    if (section.type === "rich_text_quote") return h("blockquote", {}, inline(section.elements));
    if (section.type === "rich_text_list") {
      return h(section.style === "ordered" ? "ol" : "ul", {}, (section.elements || []).map((item) => h("li", {}, inline(item.elements))));
    }
    return h("div", {}, inline(section.elements));
  }));
}

function inputBlock(block, ctx, where) {
  const element = block.element || {};
  const { node, get } = control(element, block, ctx, where);
  if (where.inputs) where.inputs[block.block_id] = get;
  const error = where.errors && where.errors[block.block_id];
  return h("div", { class: `input-block${error ? " has-error" : ""}`, dataset: { blockId: block.block_id } },
    h("label", { class: "input-label" }, label(block.label), block.optional ? h("span", { class: "optional" }, " (optional)") : null),
    node,
    block.hint ? h("div", { class: "hint" }, textObject(block.hint, ctx)) : null,
    error ? h("div", { class: "input-error" }, error) : null);
}

export function renderBlock(block, ctx, where) {
  const data = { blockId: block.block_id || "", type: block.type };
  switch (block.type) {
    case "section": {
      const body = h("div", { class: "section-body" },
        block.text ? h("div", { class: "section-text" }, textObject(block.text, ctx)) : null,
        block.fields ? h("div", { class: "fields" }, block.fields.map((f) => h("div", { class: "field" }, textObject(f, ctx)))) : null);
      return h("div", { class: "block section", dataset: data }, body,
        block.accessory ? h("div", { class: "accessory" }, actionElement(block.accessory, block, ctx, where)) : null);
    }
    case "context":
      return h("div", { class: "block context", dataset: data }, (block.elements || []).map((e) =>
        e.type === "image" ? image(e.image_url, e.alt_text, "context-image") : h("span", { class: "context-item" }, textObject(e, ctx))));
    case "divider":
      return h("hr", { class: "block divider", dataset: data });
    case "header":
      return h("div", { class: "block header", dataset: data }, textObject(block.text, ctx));
    case "image":
      return h("figure", { class: "block image", dataset: data }, block.title ? h("figcaption", {}, textObject(block.title, ctx)) : null,
        image(block.image_url, block.alt_text, "block-image"));
    case "actions":
      return h("div", { class: "block actions", dataset: data }, (block.elements || []).map((e) => actionElement(e, block, ctx, where)));
    case "input":
      return inputBlock(block, ctx, where);
    case "rich_text":
      return richText(block, ctx);
    default:
      return h("div", { class: "block unsupported", dataset: data }, `[${block.type} block]`);
  }
}

export function renderBlocks(blocks, ctx, where) {
  return h("div", { class: "blocks" }, (blocks || []).map((b) => renderBlock(b, ctx, where)));
}
