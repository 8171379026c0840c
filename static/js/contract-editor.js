/* The contract editor (contracts/templates/contracts/contract_editor.html), in one of three
 * modes (config.mode):
 *   create  builds the contract document (contracts/documents.py), POST /api/v1/contracts;
 *   update  the same for a draft, PUT /api/v1/contracts/<id>;
 *   amend   the terms of an active contract from a date: {effective_date, end_date,
 *           description, phases}, POST /api/v1/contracts/<id>/amendments.
 * On success it opens the contract's page. A 400 names each bad field by its path
 * ("phases[1].items[0].pricing.amount"; an amendment's phases are counted from its own first);
 * every input carries its path in data-path, so each message lands next to its input. The page
 * is the state: inputs carry data-field (their name within the header, a phase or an item) or
 * data-dfield (within a discount); renumber() sets data-path after every change.
 * Meters are offered from GET /api/v1/meters (the metering app keeps them); a key not listed
 * can still be typed. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("contract-editor-config").textContent);
  const MODE = config.mode || (config.method === "PUT" ? "update" : "create");
  const AMEND = MODE === "amend";
  const NOUN = AMEND ? "amendment" : "contract";
  const START = AMEND ? "effective_date" : "start_date"; // where the first phase starts
  const form = document.getElementById("contract-editor");
  const header = document.getElementById("contract-header");
  const contractDiscounts = document.querySelector("#contract-discounts [data-discounts]"); // not when amending
  const phasesBox = document.getElementById("phases");
  const summary = document.getElementById("editor-errors");
  const saveButton = document.getElementById("save-contract");
  const PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000";
  const TAIL = /(\.[^.[\]]+|\[\d+\])$/; // the last segment of a path: ".amount" or "[2]"
  const OTHER_METER = "\u0000other"; // the meter choice "another key", never a key itself

  // Pricing parameters per model (contracts/price_config.py), each with its own input.
  const BOUNDS = [["minimum", "Minimum per period (optional)"], ["maximum", "Maximum per period (optional)"]];
  const SIMPLE = {
    flat_fee: [["amount", "Amount"]],
    per_unit: [["unit_price", "Unit price"], ["included_units", "Included units (optional)"], ...BOUNDS],
    package: [["package_size", "Package size (units)"], ["package_price", "Package price"],
      ["included_units", "Included units (optional)"], ...BOUNDS],
    percentage: [["percent", "Percent of the metered amount"],
      ["fixed_fee", "Fixed fee per transaction (optional)"],
      ["free_transactions", "Free transactions each period (optional)"],
      ["minimum_per_transaction", "Minimum fee per transaction (optional)"],
      ["maximum_per_transaction", "Maximum fee per transaction (optional)"], ...BOUNDS],
    prepaid_units: [["units", "Units prepaid"], ["price", "Price of the prepaid units"],
      ["overage_unit_price", "Unit price past them (overage)"]],
    prepaid_credit: [["credit", "Credit bought"], ["price", "Price of the credit"],
      ["unit_price", "Credit drawn per unit"], ["overage_unit_price", "Unit price past the credit (optional)"]],
    minimum_commitment: [["amount", "Committed minimum per period"]],
  };
  const HINTS = {
    percentage: "Priced on the meter's amount (e.g. a payment volume): choose the meter above. "
      + "With a fixed fee, free transactions or a minimum or maximum per transaction, each of the "
      + "meter's events is a transaction charged on its own: percent x amount + fixed fee, "
      + "kept between the minimum and maximum, the first ones of each period free (2.9% + 0.30).",
    matrix: "A unit price per combination of the meter's groups; default_unit_price (optional) "
      + "prices the combinations not listed (without it, their usage cannot be billed).",
    prepaid_units: "The units are bought once, when the phase starts, and used up by the meter's usage.",
    prepaid_credit: "The credit is bought once, when the phase starts, and drawn down by the meter's usage.",
    minimum_commitment: "Each period, a shortfall below this amount is billed as a true-up.",
  };
  const PRICED_TIERS = ["up_to", "unit_price", "flat_fee"];
  const TIERS = { graduated: PRICED_TIERS, volume: PRICED_TIERS, stair_step: ["up_to", "flat_fee"] };
  const TIER_LABELS = { up_to: "Up to (blank: no limit)", unit_price: "Unit price", flat_fee: "Flat fee" };
  // Free-form models keep a JSON box (advanced).
  const JSON_EXAMPLES = {
    matrix: { dimensions: ["region", "plan"], prices: [{ values: ["eu", "pro"], unit_price: "0.10" }],
      default_unit_price: "0.12" },
    two_dimensional: { dimensions: ["seats", "api_calls"], mode: "graduated",
      tables: [{ up_to: null, tiers: [{ up_to: null, unit_price: "0.001" }] }] },
  };
  const ITEM_KEPT = ["description", "cadence", "cadence_months"]; // no input, kept as is
  const DISCOUNT_FIELDS = ["kind", "value", "periods", "starts_on", "ends_on", "description"];

  // --- Small DOM helpers ---------------------------------------------------------------------

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "value") node.value = value ?? "";
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  const fieldIn = (root, name) => root.querySelector(`[data-field="${name}"]`);
  const readValue = (root, name) => (fieldIn(root, name)?.value || "").trim();
  const phaseList = () => [...phasesBox.querySelectorAll("[data-phase]")];
  const dfield = (row, name) => row.querySelector(`[data-dfield="${name}"]`);
  const discountRows = (box) => [...box.children].filter((node) => node.matches("[data-discount]"));

  function setValue(root, name, value) {
    const input = fieldIn(root, name);
    if (input && value != null) input[input.type === "checkbox" ? "checked" : "value"] = value;
  }

  function fillSelect(select, choices, selected) {
    if (selected && !choices.some(([value]) => value === selected)) choices.push([selected, selected]);
    select.replaceChildren(...choices.map(([value, label]) => el("option", { value }, [label])));
    if (selected) select.value = selected;
  }

  const labelled = (text, input, wide = false) =>
    el("label", { class: wide ? "field wide" : "field" }, [el("span", {}, [text]), input]);
  const fromTemplate = (id) => document.getElementById(id).content.firstElementChild.cloneNode(true);
  // A whole number when it is one; otherwise the text itself, for the server to name.
  const integer = (text) => (text === "" ? undefined : /^\d+$/.test(text) ? Number(text) : text);

  // --- Phases, items, pricing ----------------------------------------------------------------

  function addPhase(data) {
    const previous = phaseList().at(-1);
    const phase = fromTemplate("phase-template");
    phasesBox.append(phase);
    if (data) {
      ["name", "start_date", "end_date"].forEach((name) => setValue(phase, name, data[name]));
      (data.items || []).forEach((item) => addItem(phase, item));
      // Fields this editor has no inputs for (the phase's entitlement overrides) are kept
      // as they were and written back on save.
      if (data.entitlements && Object.keys(data.entitlements).length) {
        phase.dataset.entitlements = JSON.stringify(data.entitlements);
      }
    } else {
      // A new phase starts where the previous one ends and runs to the contract's end.
      const start = previous ? readValue(previous, "end_date") : readValue(header, START);
      const end = readValue(header, "end_date");
      setValue(phase, "start_date", start);
      setValue(phase, "end_date", end !== start ? end : "");
      addItem(phase);
    }
    renumber();
  }

  function addItem(phase, data) {
    const item = fromTemplate("item-template");
    const products = config.products.map((p) => [p.sku, `${p.name} (${p.sku})`]);
    fillSelect(fieldIn(item, "product"), products, data?.product);
    fillSelect(fieldIn(item, "model"), config.models.map((m) => [m.value, m.label]), data?.model || "flat_fee");
    fillSelect(fieldIn(item, "timing"), config.timings.map((t) => [t.value, t.label]), data?.timing || "advance");
    if (data) {
      setValue(item, "meter", data.meter);
      setValue(item, "quantity", data.quantity);
      const kept = Object.fromEntries(ITEM_KEPT.filter((k) => data[k] != null).map((k) => [k, data[k]]));
      item.dataset.kept = JSON.stringify(kept);
      item.dataset.extra = JSON.stringify(extraPricing(data.model, data.pricing || {}));
      (data.discounts || []).forEach((discount) => addDiscount(discountsOf(item), discount));
    }
    fillMeters(item);
    phase.querySelector("[data-items]").append(item);
    renderPricing(item, fieldIn(item, "model").value, data?.pricing);
  }

  const discountsOf = (item) => item.querySelector(".item-discounts > [data-discounts]");

  // The pricing keys that have an input for a model.
  function shownKeys(model) {
    if (SIMPLE[model]) return SIMPLE[model].map(([key]) => key);
    if (TIERS[model]) return ["tiers", ...BOUNDS.map(([key]) => key)];
    if (model === "formula") return ["formula"];
    return null; // the JSON box shows everything
  }

  // Parameters of a loaded item that have no input for its model: sent back untouched as
  // long as the model is not changed.
  function extraPricing(model, pricing) {
    const shown = shownKeys(model);
    if (!shown) return {};
    return Object.fromEntries(Object.entries(pricing).filter(([key]) => !shown.includes(key)));
  }

  function numberInput(key, pricing) {
    return el("input", { "data-field": `pricing.${key}`, inputmode: "decimal", value: pricing[key] });
  }

  function renderPricing(item, model, pricing = {}) {
    const box = item.querySelector("[data-pricing]");
    box.replaceChildren();
    if (SIMPLE[model]) {
      for (const [key, label] of SIMPLE[model]) box.append(labelled(label, numberInput(key, pricing)));
    } else if (TIERS[model]) {
      box.append(tierEditor(model, pricing.tiers));
      for (const [key, label] of BOUNDS) box.append(labelled(label, numberInput(key, pricing)));
    } else if (model === "formula") {
      const input = el("input", { "data-field": "pricing.formula", value: pricing.formula,
        placeholder: "e.g. max(quantity - 1000, 0) * 0.05" });
      box.append(labelled("Formula", input, true));
    } else {
      const text = Object.keys(pricing).length ? JSON.stringify(pricing, null, 2) : "";
      const area = el("textarea", { "data-field": "pricing", rows: 4, class: "code", value: text,
        placeholder: JSON.stringify(JSON_EXAMPLES[model] || {}) });
      box.append(labelled("Advanced: pricing parameters (JSON)", area, true));
    }
    if (HINTS[model]) box.append(el("p", { class: "muted small field wide" }, [HINTS[model]]));
  }

  function tierEditor(model, tiers) {
    const columns = TIERS[model];
    const head = el("thead", {}, [el("tr", {}, [...columns.map((c) => el("th", {}, [TIER_LABELS[c]])), el("th")])]);
    const rows = (tiers?.length ? tiers : [{ up_to: "" }, { up_to: null }]).map((tier) => tierRow(columns, tier));
    return el("div", { class: "tier-editor", "data-tiers": "" }, [
      el("table", { class: "tiers" }, [head, el("tbody", {}, rows)]),
      el("button", { type: "button", class: "small", "data-add-tier": "" }, ["+ Add tier"]),
    ]);
  }

  function tierRow(columns, tier = {}) {
    const cells = columns.map((column) => el("td", {}, [el("input", {
      "data-col": column, inputmode: "decimal", value: tier[column] ?? "",
      placeholder: column === "up_to" ? "no limit" : "0", "aria-label": TIER_LABELS[column],
    })]));
    const remove = el("button", { type: "button", class: "danger small", "data-remove-tier": "", title: "Remove tier" }, ["×"]);
    return el("tr", { "data-tier": "" }, [...cells, el("td", {}, [remove])]);
  }

  // --- Discounts (of an item, or of the whole contract) --------------------------------------

  function addDiscount(box, data) {
    const row = fromTemplate("discount-template");
    if (data) {
      DISCOUNT_FIELDS.forEach((name) => {
        if (data[name] != null) dfield(row, name).value = data[name];
      });
    }
    box.append(row);
    labelDiscount(row);
    return row;
  }

  function labelDiscount(row) {
    row.querySelector("[data-value-label]").textContent =
      dfield(row, "kind").value === "percent" ? "Percent off" : "Amount off, per period";
  }

  function discountDocuments(box) {
    return discountRows(box).map((row) => {
      const value = (name) => dfield(row, name).value.trim();
      const doc = { kind: value("kind"), description: value("description") };
      if (value("value")) doc.value = value("value"); // blank: the server says it is required
      if (value("periods")) doc.periods = integer(value("periods"));
      if (value("starts_on")) doc.starts_on = value("starts_on");
      if (value("ends_on")) doc.ends_on = value("ends_on");
      return doc;
    });
  }

  function numberDiscounts(box, prefix) {
    box.dataset.path = `${prefix}discounts`;
    discountRows(box).forEach((row, k) => {
      const p = (row.dataset.path = `${prefix}discounts[${k}]`);
      row.querySelector("legend").textContent = `Discount ${k + 1}`;
      row.querySelectorAll("[data-dfield]").forEach((input) => { input.dataset.path = `${p}.${input.dataset.dfield}`; });
    });
  }

  // --- Meters ----------------------------------------------------------------------------------

  let meters = []; // [{key, name}] of the organization, once the API answered

  // The item's meter list: no meter, each meter of the organization, or another key typed in
  // the input next to it (which holds the key either way and is what is sent).
  function fillMeters(item) {
    const pick = fieldIn(item, "meter_pick");
    const typed = fieldIn(item, "meter");
    const current = typed.value.trim();
    const known = meters.map((m) => [m.key, m.name && m.name !== m.key ? `${m.name} (${m.key})` : m.key]);
    const choices = [["", "No meter"], ...known, [OTHER_METER, "Another key…"]];
    pick.replaceChildren(...choices.map(([value, label]) => el("option", { value }, [label])));
    pick.value = !current ? "" : known.some(([key]) => key === current) ? current : OTHER_METER;
    typed.hidden = pick.value !== OTHER_METER;
  }

  function pickMeter(pick) {
    const typed = fieldIn(pick.closest("[data-item]"), "meter");
    if (pick.value === OTHER_METER) {
      typed.hidden = false;
      typed.focus();
    } else {
      typed.value = pick.value;
      typed.hidden = true;
    }
  }

  async function loadMeters() {
    const found = [];
    let url = `${config.metersUrl}?limit=500`;
    try {
      for (let page = 0; url && page < 20; page += 1) {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) break;
        const body = await response.json();
        found.push(...(body.results || []).map((m) => ({ key: m.key, name: m.name })));
        url = body.next;
      }
    } catch (error) {
      // no list: keys are typed by hand
    }
    meters = found.sort((a, b) => (a.name || a.key).localeCompare(b.name || b.key));
    form.querySelectorAll("[data-item]").forEach(fillMeters);
    form.dataset.meters = "loaded";
  }

  // Give every input its document path, after anything moved.
  function renumber() {
    phaseList().forEach((phase, i) => {
      const p = `phases[${i}]`;
      phase.dataset.path = p;
      phase.querySelector("[data-phase-title]").textContent = `Phase ${i + 1}`;
      const pathsUnder = (root, prefix) => root.querySelectorAll("[data-field]").forEach((input) => {
        input.dataset.path = `${prefix}.${input.dataset.field}`;
      });
      pathsUnder(phase.querySelector(".phase-fields"), p);
      phase.querySelectorAll("[data-item]").forEach((item, j) => {
        const q = (item.dataset.path = `${p}.items[${j}]`);
        pathsUnder(item, q);
        const tiers = item.querySelector("[data-tiers]");
        if (tiers) tiers.dataset.path = `${q}.pricing.tiers`;
        item.querySelectorAll("[data-tier]").forEach((row, k) => row.querySelectorAll("[data-col]")
          .forEach((input) => { input.dataset.path = `${q}.pricing.tiers[${k}].${input.dataset.col}`; }));
        numberDiscounts(discountsOf(item), `${q}.`);
      });
    });
    if (contractDiscounts) numberDiscounts(contractDiscounts, "");
  }

  // Fields that only apply to one choice (cadence_months for every_n_months...); a box may
  // ask for several ("cadence=weekly&anchor=calendar": all of them).
  function shownWhen(condition) {
    return condition.split("&").every((part) => {
      const [name, wanted] = part.split("=");
      const input = fieldIn(header, name);
      const current = input.type === "checkbox" ? (input.checked ? "on" : "") : input.value;
      return current === wanted;
    });
  }

  function toggleDependents() {
    header.querySelectorAll("[data-show-when]").forEach((box) => {
      box.hidden = !shownWhen(box.dataset.showWhen);
    });
  }

  // --- The document ----------------------------------------------------------------------------

  function phaseDocuments(problems) {
    return phaseList().map((phase) => {
      const fields = phase.querySelector(".phase-fields");
      const items = [...phase.querySelectorAll("[data-item]")].map((item) => itemDocument(item, problems));
      const [start, end] = [readValue(fields, "start_date"), readValue(fields, "end_date")];
      const doc = { name: readValue(fields, "name"), start_date: start || null, end_date: end || null, items };
      if (phase.dataset.entitlements) doc.entitlements = JSON.parse(phase.dataset.entitlements);
      return doc;
    });
  }

  function buildDocument(problems) {
    if (AMEND) {
      return {
        effective_date: readValue(header, "effective_date") || null,
        end_date: readValue(header, "end_date") || null,
        description: readValue(header, "description"),
        phases: phaseDocuments(problems),
      };
    }
    const loaded = config.document || {};
    const doc = {};
    if (loaded.variables) doc.variables = loaded.variables;
    ["customer", "name", "reference", "cadence", "anchor"].forEach((k) => { doc[k] = readValue(header, k); });
    if (loaded.customer && loaded.customer === doc.customer) {
      doc.currency = loaded.currency; // set on the draft; a new customer brings its own
      doc.time_zone = loaded.time_zone;
    }
    doc.start_date = readValue(header, "start_date") || null;
    doc.end_date = readValue(header, "end_date") || null;
    if (doc.cadence === "every_n_months") doc.cadence_months = integer(readValue(header, "cadence_months"));
    if (doc.anchor === "day_of_month") doc.anchor_day = integer(readValue(header, "anchor_day"));
    if (doc.cadence === "weekly" && doc.anchor === "calendar") doc.anchor_weekday = readValue(header, "anchor_weekday");
    doc.payment_terms_days = integer(readValue(header, "payment_terms_days"));
    doc.auto_renew = fieldIn(header, "auto_renew").checked;
    if (doc.auto_renew) {
      doc.renewal_term_months = integer(readValue(header, "renewal_term_months"));
      doc.renewal_notice_days = integer(readValue(header, "renewal_notice_days"));
    }
    doc.phases = phaseDocuments(problems);
    doc.discounts = discountDocuments(contractDiscounts);
    return doc;
  }

  function itemDocument(item, problems) {
    const doc = { ...JSON.parse(item.dataset.kept || "{}") };
    ["product", "model", "timing", "meter", "quantity"].forEach((name) => {
      const value = readValue(item, name);
      if (value) doc[name] = value;
    });
    doc.pricing = { ...JSON.parse(item.dataset.extra || "{}"), ...pricingDocument(item, doc.model, problems) };
    const discounts = discountDocuments(discountsOf(item));
    if (discounts.length) doc.discounts = discounts;
    return doc;
  }

  function pricingDocument(item, model, problems) {
    const box = item.querySelector("[data-pricing]");
    const pricing = {};
    const readKeys = (keys) => keys.forEach((key) => {
      const value = readValue(box, `pricing.${key}`);
      if (value) pricing[key] = value; // a blank one is left out: the server says it is required
    });
    if (SIMPLE[model]) {
      readKeys(SIMPLE[model].map(([key]) => key));
    } else if (TIERS[model]) {
      pricing.tiers = [...box.querySelectorAll("[data-tier]")].map((row) => {
        const tier = {};
        row.querySelectorAll("[data-col]").forEach((input) => {
          const value = input.value.trim();
          if (input.dataset.col === "up_to") tier.up_to = value || null;
          else if (value) tier[input.dataset.col] = value;
        });
        return tier;
      });
      readKeys(BOUNDS.map(([key]) => key));
    } else if (model === "formula") {
      pricing.formula = readValue(box, "pricing.formula");
    } else {
      const area = fieldIn(box, "pricing");
      try {
        return JSON.parse(area.value.trim() || "{}");
      } catch (error) {
        problems[area.dataset.path] = [`is not valid JSON (${error.message})`];
      }
    }
    return pricing;
  }

  // --- Errors ------------------------------------------------------------------------------------

  // The input a path names, or the nearest enclosing part of the page that has a path.
  function targetOf(path) {
    for (let p = path; p; ) {
      const found = form.querySelector(`[data-path="${CSS.escape(p)}"]`);
      if (found) return found;
      const shorter = p.replace(TAIL, "");
      if (shorter === p) return null;
      p = shorter;
    }
    return null;
  }

  // "phases[0].items[1].pricing.tiers[0].up_to" -> "Phase 1 › item 2 › tier 1 › up to"
  const readable = (path) => path
    .replace(/(phases|items|tiers|discounts)\[(\d+)\]\.?/g, (_, what, i) =>
      `${{ phases: "Phase", items: "item", tiers: "tier", discounts: "discount" }[what]} ${Number(i) + 1} › `)
    .replace(/pricing\.?/g, "").replace(/ › $/, "").replace(/_/g, " ");

  function clearErrors() {
    form.querySelectorAll(".field-error[data-from-server]").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    summary.hidden = true;
    summary.replaceChildren();
  }

  function showErrors(fields, message) {
    const list = el("ul");
    for (const [path, messages] of Object.entries(fields)) {
      const text = [].concat(messages).join(" ");
      let target = targetOf(path);
      // a meter picked from the list: its key's input is hidden, the list is what is seen
      if (target?.hidden && target.dataset.field === "meter") target = fieldIn(target.closest("[data-item]"), "meter_pick");
      const note = el("div", { class: "field-error", "data-from-server": "", "data-error-for": path }, [text]);
      if (target && target.matches("input, select, textarea")) {
        target.setAttribute("aria-invalid", "true");
        target.after(note);
      } else if (target) {
        target.prepend(note);
      }
      const link = el("a", { href: "#" }, [readable(path) || (AMEND ? "Amendment" : "Contract")]);
      link.addEventListener("click", (event) => { event.preventDefault(); target?.focus?.(); target?.scrollIntoView({ block: "center" }); });
      list.append(el("li", {}, [link, `: ${text}`]));
    }
    const count = list.children.length;
    const title = count ? `The ${NOUN} was not saved: ${count} problem${count > 1 ? "s" : ""} to fix.` : message;
    summary.replaceChildren(el("strong", {}, [title]), ...(count ? [list] : []));
    summary.hidden = false;
    summary.focus();
    summary.scrollIntoView({ block: "start" });
  }

  async function save(event) {
    event.preventDefault();
    clearErrors();
    const problems = {};
    const doc = buildDocument(problems);
    if (Object.keys(problems).length) return showErrors(problems);
    saveButton.disabled = true;
    try {
      const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": form.dataset.csrf };
      const response = await fetch(config.url, { method: config.method, credentials: "same-origin", headers,
        body: JSON.stringify(doc) });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        // a new contract's page has its id; an amendment's and a draft's are known already
        window.location.assign(config.detailUrl.replace(PLACEHOLDER_ID, body.id));
        return;
      }
      const error = body.error || {};
      showErrors(error.fields || {}, error.message || `The server refused the ${NOUN} (${response.status}).`);
    } catch (error) {
      showErrors({}, `The ${NOUN} could not be sent: ${error.message}`);
    }
    saveButton.disabled = false;
  }

  // --- Wiring --------------------------------------------------------------------------------

  // The first phase starts with the contract (an amendment: on its date) and the last ends
  // with it, unless set otherwise.
  let [lastStart, lastEnd] = ["", ""];
  function followHeader(event) {
    const name = event.target.dataset.field;
    const phases = phaseList();
    const follow = (phase, field, previous) => {
      const input = fieldIn(phase.querySelector(".phase-fields"), field);
      if (!input.value || input.value === previous) input.value = event.target.value;
    };
    if (name === START && phases.length) follow(phases[0], "start_date", lastStart);
    if (name === "end_date" && phases.length) follow(phases.at(-1), "end_date", lastEnd);
    [lastStart, lastEnd] = [readValue(header, START), readValue(header, "end_date")];
    toggleDependents();
  }

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button[type=button]");
    if (!button) return;
    if (button.id === "add-phase") addPhase();
    else if (button.hasAttribute("data-remove-phase")) button.closest("[data-phase]").remove();
    else if (button.hasAttribute("data-add-item")) addItem(button.closest("[data-phase]"));
    else if (button.hasAttribute("data-remove-item")) button.closest("[data-item]").remove();
    else if (button.hasAttribute("data-add-tier")) {
      const model = readValue(button.closest("[data-item]"), "model");
      button.closest("[data-tiers]").querySelector("tbody").append(tierRow(TIERS[model]));
    } else if (button.hasAttribute("data-remove-tier")) button.closest("[data-tier]").remove();
    else if (button.hasAttribute("data-add-discount")) {
      addDiscount(button.parentElement.querySelector("[data-discounts]"));
    } else if (button.hasAttribute("data-remove-discount")) button.closest("[data-discount]").remove();
    renumber();
  });

  form.addEventListener("change", (event) => {
    const target = event.target;
    if (target.dataset.field === "model") {
      const item = target.closest("[data-item]");
      item.dataset.extra = "{}";
      renderPricing(item, target.value);
      renumber();
    } else if (target.dataset.field === "meter_pick") {
      pickMeter(target);
    } else if (target.dataset.dfield === "kind") {
      labelDiscount(target.closest("[data-discount]"));
    }
  });
  header.addEventListener("change", followHeader);
  form.addEventListener("submit", save);

  // --- Start -----------------------------------------------------------------------------------

  const loaded = config.document;
  if (AMEND) {
    ["effective_date", "end_date", "description"].forEach((name) => setValue(header, name, loaded[name]));
    loaded.phases.forEach((phase) => addPhase(phase));
    if (!loaded.phases.length) addPhase();
  } else if (loaded) {
    ["name", "reference", "start_date", "end_date", "cadence", "cadence_months", "anchor",
      "anchor_day", "anchor_weekday", "payment_terms_days", "auto_renew", "renewal_term_months",
      "renewal_notice_days"].forEach((name) => setValue(header, name, loaded[name]));
    loaded.phases.forEach((phase) => addPhase(phase));
    (loaded.discounts || []).forEach((discount) => addDiscount(contractDiscounts, discount));
  } else {
    addPhase();
  }
  setValue(header, "customer", config.customer || loaded?.customer);
  [lastStart, lastEnd] = [readValue(header, START), readValue(header, "end_date")];
  toggleDependents();
  renumber();
  loadMeters();
})();
