// The shopper's tracking page: refreshes the order's status every few seconds.
"use strict";
const LABELS = {accepted: "Order received", preparing: "Being prepared", ready: "Ready at the store",
  picked_up: "On the way", delivered: "Delivered", cancelled: "Cancelled", failed: "Could not be delivered"};
const clock = (iso) => iso ? new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}) : "—";
const show = (id, text) => { document.getElementById(id).textContent = text; };
async function refresh() {
  try {
    const answer = await fetch(`/api/v1/track/${encodeURIComponent(document.body.dataset.token)}`);
    if (!answer.ok) { show("updated", "Could not refresh (" + answer.status + ")"); return; }
    const data = await answer.json();
    show("status", LABELS[data.order.status] || data.order.status);
    show("store", data.store ? data.store.name : "—");
    show("eta", clock(data.estimated_arrival));
    const position = data.courier.position;
    show("courier", position ? `on the way, last seen at ${position.lat.toFixed(4)}, ${position.lng.toFixed(4)}`
                             : (data.courier.assigned ? "assigned" : "not yet assigned"));
    show("promised", clock(data.order.promised_by));
    show("code", data.delivery_code);
    show("updated", "Updated " + new Date().toLocaleTimeString());
  } catch (error) { show("updated", "Offline; retrying…"); }
}
refresh();
setInterval(refresh, 5000);
