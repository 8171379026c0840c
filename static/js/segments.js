/* The segment page (receivables/templates/receivables/segment_detail.html).
 *
 * The rule builder: the segment's rule tree (receivables/segments.py) drawn as rows of
 * conditions -- a field, a comparison offered for that field, a value input for its kind --
 * in groups that "match all" or "match any" (one level of nested groups). The tree is read
 * back from the rows into the hidden "rules" input when the form is sent, and, 300 ms after
 * every change, posted to the count endpoint: the members the rules hold now, or the rule
 * that is wrong ("rules.1.value: ...", put on its row).
 *
 * The reminder policy: a Django formset of steps. "Add step" copies the empty form of the
 * <template> (its __prefix__ numbered from TOTAL_FORMS); "Remove step" ticks the step's
 * DELETE box and hides it (a step's hidden id keeps its identity when the policy is saved);
 * the day of each step is said in words; subject and body are asked only of e-mails and
 * tasks. "Preview" posts the step's subject and body to the preview endpoint and shows the
 * result in a sandboxed frame: the e-mail's HTML goes into the frame's srcdoc, never into
 * this page's DOM.
 *
 * No inline script (the dashboard's Content-Security-Policy): the configuration comes from
 * a JSON block (json_script). */
(function () {
  "use strict";

  // --- small helpers -------------------------------------------------------------------------

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "value") node.value = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // POST a JSON body; resolves to {ok, data} whatever the status (a page that is not JSON,
  // a refused role, becomes {ok: false, data: {error}}).
  function postJSON(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then((response) => response.json().then(
      (data) => ({ ok: response.ok, data }),
      () => ({ ok: false, data: { error: `The server answered ${response.status}.` } }),
    ), () => ({ ok: false, data: { error: "The server could not be reached." } }));
  }

  // --- the rule builder ----------------------------------------------------------------------

  function ruleBuilder(config) {
    const box = document.getElementById("rule-builder");
    const form = document.getElementById("segment-form");
    const hidden = form.querySelector("input[name=rules]");
    const countBox = document.querySelector("[data-testid=member-count]");
    const sampleBox = document.querySelector("[data-testid=member-sample]");
    const FIELDS = Object.fromEntries(config.fields.map((field) => [field.name, field]));
    const OF = { customer: "The customer", invoice: "The invoice", behaviour: "Behaviour" };
    const PLACEHOLDERS = { country: "DE", currency: "EUR", days: "7", count: "1",
                           amount: "1000.00", attribute: "value" };
    const LIST_PLACEHOLDERS = { country: "DE, AT", currency: "EUR, USD", status: "open, paid",
                                days: "7, 14", count: "1, 2", amount: "100, 200",
                                attribute: "a, b" };
    const NO_VALUE = ["is_set", "not_set"];
    const LISTS = ["in", "not_in"];

    function fieldSelect(selected) {
      const select = el("select", { "data-role": "field", "aria-label": "Field" });
      for (const [of, label] of Object.entries(OF)) {
        const fields = config.fields.filter((field) => field.of === of);
        select.append(el("optgroup", { label }, fields.map(
          (field) => el("option", { value: field.name }, [field.label]))));
      }
      select.value = FIELDS[selected] ? selected : "days_past_due";
      return select;
    }

    const asText = (value) => (Array.isArray(value) ? value.join(", ")
      : value === undefined || value === null ? "" : String(value));

    function valueInput(row, spec, op, value) {
      const holder = row.querySelector("[data-role=value-box]");
      const previous = holder.querySelector("[data-role=value]");
      const shape = `${spec.kind}:${LISTS.includes(op) ? "list" : "one"}`;
      let text = value !== undefined ? asText(value)
        : previous && previous.dataset.shape === shape ? previous.value : "";
      holder.hidden = NO_VALUE.includes(op);
      if (holder.hidden) { holder.replaceChildren(); return; }
      let input;
      const common = { "data-role": "value", "data-shape": shape, "aria-label": "Value" };
      if (LISTS.includes(op)) {
        input = el("input", { ...common, type: "text", placeholder: LIST_PLACEHOLDERS[spec.kind],
                              title: "Values separated by commas" });
      } else if (spec.kind === "status") {
        input = el("select", common, config.statuses.map(
          ([status, label]) => el("option", { value: status }, [label])));
        text = !text || text === "finalized" ? "open" : text; // stored as "finalized"
      } else if (spec.kind === "boolean") {
        input = el("select", common, [el("option", { value: "true" }, ["yes"]),
                                      el("option", { value: "false" }, ["no"])]);
        text = text || "true";
      } else if (spec.kind === "days" || spec.kind === "count") {
        input = el("input", { ...common, type: "number", step: "1", inputmode: "numeric",
                              placeholder: PLACEHOLDERS[spec.kind] });
      } else {
        input = el("input", { ...common, type: "text", placeholder: PLACEHOLDERS[spec.kind],
                              inputmode: spec.kind === "amount" ? "decimal" : null,
                              maxlength: spec.kind === "country" ? "2"
                                : spec.kind === "currency" ? "3" : "200",
                              autocapitalize: ["country", "currency"].includes(spec.kind)
                                ? "characters" : null });
      }
      input.value = text;
      holder.replaceChildren(input);
    }

    function refresh(row, wantedOp, value) {
      const spec = FIELDS[row.querySelector("[data-role=field]").value];
      const opSelect = row.querySelector("[data-role=op]");
      const current = wantedOp !== undefined ? wantedOp : opSelect.value;
      opSelect.replaceChildren(...spec.ops.map(([op, label]) => el("option", { value: op }, [label])));
      opSelect.value = spec.ops.some(([op]) => op === current) ? current : spec.ops[0][0];
      row.classList.toggle("has-key", spec.kind === "attribute");
      row.querySelector("[data-role=key]").hidden = spec.kind !== "attribute";
      row.querySelector(".days-box").hidden = spec.name !== "failed_payments";
      valueInput(row, spec, opSelect.value, value);
    }

    function condition(data) {
      const rule = data && typeof data === "object" ? data : {};
      const row = el("div", { class: "rule-row", "data-condition": "", "data-testid": "condition" }, [
        fieldSelect(rule.field),
        el("input", { "data-role": "key", type: "text", maxlength: "64", value: rule.key || "",
                      placeholder: "attribute name", "aria-label": "Attribute name" }),
        el("select", { "data-role": "op", "aria-label": "Comparison" }),
        el("div", { "data-role": "value-box", class: "value-box" }),
        el("label", { class: "days-box" }, [
          "in the last ",
          el("input", { "data-role": "days", type: "number", min: "1", step: "1",
                        value: String(rule.days ?? 30), "aria-label": "Days counted" }),
          " days"]),
        el("button", { type: "button", class: "remove-rule", "data-action": "remove",
                       "aria-label": "Remove this condition", title: "Remove" }, ["×"]),
        el("div", { class: "rule-error", "data-role": "error" }),
      ]);
      refresh(row, rule.op, "value" in rule ? rule.value : undefined);
      return row;
    }

    function group(data, root) {
      const tree = data && typeof data === "object" ? data : {};
      const match = el("select", { "data-match": "", "aria-label": "How the conditions combine",
                                   "data-testid": root ? "match" : "group-match" }, [
        el("option", { value: "all" }, ["match all (and)"]),
        el("option", { value: "any" }, ["match any (or)"])]);
      match.value = tree.match === "any" ? "any" : "all";
      const head = el("div", { class: "group-head" }, root
        ? [el("span", {}, ["Customers"]), match, el("span", {}, ["of these conditions"])]
        : [el("span", {}, ["A group that must"]), match, el("span", {}, ["of"]),
           el("button", { type: "button", class: "small danger", "data-action": "remove",
                          "aria-label": "Remove this group" }, ["Remove group"])]);
      const list = el("div", { class: "rule-list", "data-list": "" });
      (Array.isArray(tree.rules) ? tree.rules : []).forEach((rule) => list.append(
        rule && typeof rule === "object" && "match" in rule ? group(rule, false) : condition(rule)));
      const actions = el("div", { class: "group-actions" }, [
        el("button", { type: "button", "data-action": "add-condition",
                       "data-testid": root ? "add-condition" : "group-add-condition" },
           ["+ Add condition"]),
        root ? el("button", { type: "button", "data-action": "add-group", "data-testid": "add-group" },
                  ["+ Add group"]) : null]);
      return el("div", { class: root ? "rule-group root" : "rule-group", "data-group": "",
                         "data-testid": root ? null : "group" }, [head, list, actions]);
    }

    const children = (node) => [...node.querySelector(":scope > [data-list]").children];

    function readCondition(row) {
      const name = row.querySelector("[data-role=field]").value;
      const spec = FIELDS[name];
      const op = row.querySelector("[data-role=op]").value;
      const rule = { field: name, op };
      if (spec.kind === "attribute") rule.key = row.querySelector("[data-role=key]").value.trim();
      if (name === "failed_payments") rule.days = typed("days", row.querySelector("[data-role=days]").value.trim());
      if (NO_VALUE.includes(op)) return rule;
      const input = row.querySelector("[data-role=value]");
      const raw = input ? input.value.trim() : "";
      rule.value = LISTS.includes(op)
        ? raw.split(",").map((item) => item.trim()).filter(Boolean).map((item) => typed(spec.kind, item))
        : typed(spec.kind, raw);
      return rule;
    }

    // A whole number or a yes/no as JSON has them; anything else as typed, for the server
    // to name what is wrong with it.
    function typed(kind, raw) {
      if (kind === "days" || kind === "count") return /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (kind === "boolean") return raw === "true" ? true : raw === "false" ? false : raw;
      return raw;
    }

    function readGroup(node) {
      return { match: node.querySelector(":scope > .group-head [data-match]").value,
               rules: children(node).map((child) => (child.matches("[data-group]")
                 ? readGroup(child) : readCondition(child))) };
    }

    // Each row and group carries its path in the tree ("rules.2.0"), as the server names it.
    function renumber(node, path) {
      node.dataset.path = path;
      children(node).forEach((child, index) => {
        if (child.matches("[data-group]")) renumber(child, `${path}.${index}`);
        else child.dataset.path = `${path}.${index}`;
      });
    }

    function clearErrors() {
      box.querySelectorAll(".is-invalid").forEach((node) => node.classList.remove("is-invalid"));
      box.querySelectorAll("[data-role=error]").forEach((node) => { node.textContent = ""; });
    }

    // "rules.1.value: A whole number ..." on the row of rules.1 (or the nearest group).
    function showError(message) {
      const [path, ...rest] = String(message).split(": ");
      let best = null;
      box.querySelectorAll("[data-path]").forEach((node) => {
        const own = node.dataset.path;
        if ((path === own || path.startsWith(`${own}.`))
            && (!best || own.length > best.dataset.path.length)) best = node;
      });
      if (best && best.matches("[data-condition]")) {
        best.classList.add("is-invalid");
        best.querySelector("[data-role=error]").textContent = rest.join(": ") || message;
      }
    }

    const root = group(config.rules, true);
    box.replaceChildren(root);
    renumber(root, "rules");
    (config.errors || []).forEach(showError);

    let timer = null;
    let asked = 0;
    let counted = ""; // the rules of the last count asked for
    function count() {
      const mine = ++asked;
      renumber(root, "rules");
      const rules = readGroup(root);
      counted = JSON.stringify(rules);
      postJSON(config.count_url, { rules }).then(({ ok, data }) => {
        if (mine !== asked) return; // a later change has asked again
        countBox.classList.remove("is-stale");
        clearErrors();
        countBox.classList.toggle("is-error", !ok);
        if (ok) {
          countBox.textContent = data.summary;
          const names = data.sample.map((customer) => customer.name);
          sampleBox.textContent = names.join(", ") + (data.count > names.length ? ", …" : "");
        } else {
          countBox.textContent = data.error || "The rules cannot be counted.";
          sampleBox.textContent = "";
          if (data.error) showError(data.error);
        }
      });
    }
    function later() {
      clearTimeout(timer);
      if (JSON.stringify(readGroup(root)) === counted) { // a field left, nothing changed
        if (asked) countBox.classList.remove("is-stale");
        return;
      }
      countBox.classList.add("is-stale");
      timer = setTimeout(count, 300);
    }

    box.addEventListener("change", (event) => {
      const row = event.target.closest("[data-condition]");
      if (row && event.target.matches("[data-role=field]")) refresh(row);
      else if (row && event.target.matches("[data-role=op]")) {
        valueInput(row, FIELDS[row.querySelector("[data-role=field]").value], event.target.value);
      }
      later();
    });
    box.addEventListener("input", later);
    box.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const node = button.closest("[data-group]");
      const action = button.dataset.action;
      if (action === "remove") {
        button.closest("[data-condition], [data-group]").remove();
      } else if (action === "add-condition") {
        const row = condition({ field: "country", op: "eq" });
        node.querySelector(":scope > [data-list]").append(row);
        row.querySelector("[data-role=field]").focus();
      } else if (action === "add-group") {
        const added = group({ match: "any", rules: [{ field: "country", op: "eq" }] }, false);
        node.querySelector(":scope > [data-list]").append(added);
        added.querySelector("[data-role=field]").focus();
      }
      renumber(root, "rules");
      later();
    });
    form.addEventListener("submit", () => { hidden.value = JSON.stringify(readGroup(root)); });
    hidden.value = JSON.stringify(readGroup(root));
    count();
  }

  // --- the reminder policy -------------------------------------------------------------------

  function policyEditor(form) {
    const list = form.querySelector("#steps");
    const template = document.getElementById("step-template");
    const total = form.querySelector("input[name=steps-TOTAL_FORMS]");
    const maximum = Number(form.querySelector("input[name=steps-MAX_NUM_FORMS]").value);
    const addButton = document.getElementById("add-step");
    const statement = form.querySelector("input[name=policy-statement]");
    const previewUrl = form.dataset.previewUrl;
    const live = () => [...list.querySelectorAll("[data-step]")].filter((step) => !step.hidden);

    function inWords(value) {
      if (!/^\s*-?\d+\s*$/.test(value)) return "";
      const days = Number(value);
      if (days === 0) return "on the due date";
      const unit = Math.abs(days) === 1 ? "day" : "days";
      return days > 0 ? `${days} ${unit} after the due date` : `${-days} ${unit} before the due date`;
    }

    function hint(step) {
      const words = inWords(step.querySelector("[data-offset]").value);
      step.querySelector("[data-offset-hint]").textContent = words ? `· ${words}` : "";
    }

    function channel(step) {
      const webhook = step.querySelector("[data-channel]").value === "webhook";
      step.querySelector("[data-message]").hidden = webhook;
      step.querySelector("[data-preview]").hidden = webhook || !previewUrl;
      if (webhook) step.querySelector("[data-preview-box]").hidden = true;
    }

    function renumber() {
      live().forEach((step, index) => { step.querySelector("[data-step-number]").textContent = index + 1; });
      if (addButton) addButton.disabled = live().length >= maximum;
    }

    function setUp(step) {
      step.querySelector("[data-delete]").hidden = true;
      step.querySelector("[data-remove]").hidden = !addButton; // a reader changes nothing
      hint(step);
      channel(step);
    }

    function preview(step) {
      const box = step.querySelector("[data-preview-box]");
      box.hidden = false;
      box.replaceChildren(el("p", { class: "muted small" }, ["Rendering the preview…"]));
      postJSON(previewUrl, {
        subject: step.querySelector("[data-subject]").value,
        body: step.querySelector("[data-body]").value,
        statement: Boolean(statement && statement.checked),
      }).then(({ ok, data }) => {
        if (!ok || data.error) {
          const where = data.invoice ? `On invoice ${data.invoice}: ` : "";
          box.replaceChildren(el("div", { class: "template-error", role: "alert",
                                          "data-testid": "preview-error" },
                                 [where + (data.error || "The preview failed.")]));
          return;
        }
        const frame = el("iframe", { sandbox: true, class: "mail-frame", referrerpolicy: "no-referrer",
                                     title: "The e-mail as the customer will see it",
                                     "data-testid": "preview-frame" });
        frame.srcdoc = data.html; // into the sandboxed frame only, never this page
        box.replaceChildren(el("div", { class: "preview-head" }, [
          el("div", {}, [el("span", { class: "muted small" }, ["Subject: "]),
                         el("strong", { "data-testid": "preview-subject" }, [data.subject])]),
          el("div", { class: "muted small", "data-testid": "preview-invoice" }, [data.invoice
            ? `Rendered for invoice ${data.invoice}, one of the segment's open invoices (nothing is sent).`
            : "Rendered for a made-up invoice: there is no open invoice to show it on yet."]),
        ]), frame);
      });
    }

    list.querySelectorAll("[data-step]").forEach(setUp);
    renumber();
    if (addButton) {
      addButton.hidden = false;
      addButton.addEventListener("click", () => {
        const index = Number(total.value);
        const holder = document.createElement("div");
        holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
        const step = holder.querySelector("[data-step]");
        list.append(step);
        total.value = String(index + 1);
        setUp(step);
        renumber();
        step.querySelector("[data-offset]").focus();
      });
    }
    list.addEventListener("input", (event) => {
      if (event.target.matches("[data-offset]")) hint(event.target.closest("[data-step]"));
    });
    list.addEventListener("change", (event) => {
      if (event.target.matches("[data-channel]")) channel(event.target.closest("[data-step]"));
    });
    list.addEventListener("click", (event) => {
      const step = event.target.closest("[data-step]");
      if (event.target.closest("[data-preview]")) preview(step);
      if (event.target.closest("[data-remove]")) {
        step.querySelector("input[name$='-DELETE']").checked = true;
        step.hidden = true;
        renumber();
      }
    });
  }

  const config = document.getElementById("segment-builder-config");
  if (config) ruleBuilder(JSON.parse(config.textContent));
  const policy = document.getElementById("policy-form");
  if (policy) policyEditor(policy);
})();
