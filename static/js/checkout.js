// The hosted checkout's card form. Stripe.js (loaded before this file, from Stripe) collects
// the card and confirms a SetupIntent the server created for this page; then our server
// records the card and charges it. The same calls work with Stripe.js and the test emulator.
(function () {
  "use strict";

  const form = document.getElementById("payment-form");
  const configNode = document.getElementById("checkout-config");
  if (!form || !configNode) return;

  let config = JSON.parse(configNode.textContent);
  const button = document.getElementById("pay-button");
  const errorBox = document.getElementById("payment-error");
  const cardholder = document.getElementById("cardholder");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const payLabel = config.pay_label;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
  }

  function busy(on) {
    button.disabled = on;
    button.textContent = on ? "Processing…" : payLabel;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  if (typeof window.Stripe !== "function") {
    showError("The card form could not be loaded. Check your connection and reload the page.");
    return;
  }

  const stripe = window.Stripe(config.publishable_key);
  const card = stripe.elements().create("card", {
    hidePostalCode: false,
    style: {
      base: {
        color: "#1a1f36", fontSize: "15px", "::placeholder": { color: "#8a90a2" },
        fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
      },
      invalid: { color: "#c0262d" },
    },
  });
  card.mount("#card-element");
  card.on("change", function (event) {
    if (event && event.error) showError(event.error.message);
    else if (event) clearError();
  });
  button.disabled = false;

  async function confirmOnServer(setupIntentId) {
    const response = await fetch(config.confirm_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ setup_intent: setupIntentId, signature: config.signature }),
    });
    let body = {};
    try {
      body = await response.json();
    } catch (_) {
      body = { status: "error" };
    }
    return body;
  }

  // A card confirmed at Stripe whose server answer never arrived (a dropped connection):
  // the next click asks the server again with the same SetupIntent (charged at most once).
  let confirmedIntent = null;

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (button.disabled) return;
    clearError();
    busy(true);
    try {
      if (!confirmedIntent) {
        const name = cardholder ? cardholder.value.trim() : "";
        const result = await stripe.confirmCardSetup(config.client_secret, {
          payment_method: { card: card, billing_details: name ? { name: name } : {} },
        });
        if (result.error) {
          showError(result.error.message || "Check the card details and try again.");
          busy(false);
          return;
        }
        confirmedIntent = result.setupIntent.id;
      }
      const answer = await confirmOnServer(confirmedIntent);
      confirmedIntent = null;
      if (answer.status === "succeeded" || answer.status === "closed") {
        window.location.assign(answer.redirect);
        return;
      }
      if (answer.form) {
        config = Object.assign({}, config, answer.form); // a fresh SetupIntent for the retry
        showError(answer.message || "The payment did not go through. Please try again.");
        busy(false);
        return;
      }
      showError((answer.message || "The payment did not go through.") +
                " Please reload the page to try again.");
      button.textContent = payLabel; // stays disabled: this form cannot be used again
    } catch (_) {
      showError("We could not reach the server. Please try again: you will not be charged twice.");
      busy(false);
    }
  });
})();
