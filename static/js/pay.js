// The pay page's card form with Stripe.js (only when PayOps talks to Stripe itself).
// Stripe returns to the page on success (or after a bank check); only errors come back here.
(function () {
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const stripe = Stripe(read("stripe-key"));
  const elements = stripe.elements({ clientSecret: read("client-secret") });
  elements.create("payment").mount("#payment-element");
  const form = document.getElementById("payment-form");
  const button = document.getElementById("pay-button");
  const error = document.getElementById("payment-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    const result = await stripe.confirmPayment({ elements, confirmParams: { return_url: read("return-url") } });
    if (result.error) {
      error.textContent = result.error.message + " Please try another card.";
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
