// The shopper's tracking page: status and steps, a small map (store, destination, the courier
// moving), items, arrival as a time and in minutes, and cancel while the store has not started.
// In Traditional Chinese or English, from the browser's languages. Refreshes every few seconds.
"use strict";

const TEXTS = {
  en: {
    title: "Your order", eta: "Estimated arrival", steps: "Progress", from: "From", items: "Items",
    courier: "Courier", promised: "Promised by", scheduled: "Scheduled delivery", scheduledPickup: "Pick-up time", tomorrow: "tomorrow", code: "Delivery code (tell the courier at the door)",
    cancel: "Cancel order", cancelSure: "Cancel this order?", cancelYes: "Yes, cancel", cancelNo: "Keep it",
    status: {accepted: "Order received", preparing: "Being prepared", ready: "Ready at the store",
             picked_up: "On the way", delivered: "Delivered", cancelled: "Cancelled", failed: "Could not be delivered",
             collected: "Collected", expired: "Not collected in time: cancelled"},
    idNotice: "Age-restricted items: have an ID ready for the hand-over.",
    readyForPickup: "Ready for pick-up", pickupCode: "Pick-up code (show it at the counter)", collectBy: "Collect by",
    inMinutes: (n) => n <= 0 ? "any minute now" : `in ${n} min`,
    noEstimate: "not yet known", onTheWay: "on the way (on the map)", assigned: "assigned",
    notAssigned: "not yet assigned", updated: "Updated", offline: "Offline; retrying…",
    gone: "This tracking link opens no order.", tooLate: "The store has started on it: it can no longer be cancelled here.",
    cancelFailed: "Could not cancel; try again.", cancelledNow: "Your order is cancelled.",
    store: "store", destination: "your address (approximate)", you: "courier",
    mapLabel: "Map: the store, where the order goes, and the courier",
    qty: (n) => `× ${n}`,
  },
  "zh-TW": {
    title: "您的訂單", eta: "預計送達", steps: "進度", from: "店家", items: "商品",
    courier: "外送員", promised: "承諾送達", scheduled: "預約送達", scheduledPickup: "預約取貨時間", tomorrow: "明天", code: "交貨驗證碼（到門口時告訴外送員）",
    cancel: "取消訂單", cancelSure: "確定要取消這筆訂單嗎？", cancelYes: "確定取消", cancelNo: "保留訂單",
    status: {accepted: "已收到訂單", preparing: "店家備貨中", ready: "已備妥，等待取貨",
             picked_up: "外送中", delivered: "已送達", cancelled: "已取消", failed: "無法送達",
             collected: "已取貨", expired: "逾時未取，已取消"},
    idNotice: "本訂單含限制級商品，交貨時請出示身分證件。",
    readyForPickup: "已備妥，請到店取貨", pickupCode: "取貨碼（在櫃台出示）", collectBy: "取貨期限",
    inMinutes: (n) => n <= 0 ? "即將抵達" : `約 ${n} 分鐘後`,
    noEstimate: "尚未確定", onTheWay: "正在路上（見地圖）", assigned: "已指派",
    notAssigned: "尚未指派", updated: "更新於", offline: "連線中斷，重試中…",
    gone: "此追蹤連結找不到訂單。", tooLate: "店家已開始備貨，無法在此取消。",
    cancelFailed: "無法取消，請再試一次。", cancelledNow: "您的訂單已取消。",
    store: "店家", destination: "您的地址（約略位置）", you: "外送員",
    mapLabel: "地圖：店家、送達地點與外送員",
    qty: (n) => `× ${n}`,
  },
};
const wantsChinese = (navigator.languages || [navigator.language]).find((tag) => /^(zh|en)\b/i.test(tag));
const LANG = wantsChinese && /^zh/i.test(wantsChinese) ? "zh-TW" : "en";
const T = TEXTS[LANG];
document.documentElement.lang = LANG;
document.title = T.title;
document.querySelectorAll("[data-text]").forEach((node) => { node.textContent = T[node.dataset.text]; });
document.querySelectorAll("[data-label]").forEach((node) => node.setAttribute("aria-label", T[node.dataset.label]));

const token = document.body.dataset.token;
const show = (id, value) => { document.getElementById(id).textContent = value; };
const mapElement = document.getElementById("map");
const map = baseMap(mapElement, {center: [24.184, 120.603], zoom: 15, attribution: mapElement.dataset.attribution});
let markers = null;
let zone = null;

function placeMarkers(data) {
  const square = L.divIcon({className: "store-marker", iconSize: [14, 14]});
  const home = L.divIcon({className: "home-marker", iconSize: [16, 16]});
  const store = data.store ? [data.store.lat, data.store.lng] : null;
  const destination = [data.destination.lat, data.destination.lng];
  markers = {
    store: store && L.marker(store, {icon: square, keyboard: false}).bindTooltip(lines(T.store, data.store.name)).addTo(map),
    destination: L.marker(destination, {icon: home, keyboard: false}).bindTooltip(lines(T.destination)).addTo(map),
    courier: null,
  };
  map.fitBounds([store || destination, destination], {padding: [40, 40], maxZoom: 16});
}

function moveCourier(position) {
  if (!position) {
    if (markers.courier) { markers.courier.remove(); markers.courier = null; }
    return;
  }
  const here = [position.lat, position.lng];
  if (markers.courier) { markers.courier.setLatLng(here); return; }
  const icon = L.divIcon({className: "courier-marker", html: element("span", {}, T.you), iconSize: null});
  markers.courier = L.marker(here, {icon, keyboard: false}).addTo(map);
}

function renderSteps(order) {
  document.getElementById("steps").replaceChildren(...order.steps.map((step, i) => {
    const ended = step.status === "cancelled" || step.status === "failed" || step.status === "expired";
    const current = step.at && !(order.steps[i + 1] && order.steps[i + 1].at);
    const classes = [step.at ? "done" : "", current ? "current" : "", ended ? "ended" : ""].filter(Boolean).join(" ");
    return element("li", {class: classes, "data-step": step.status},
      `${T.status[step.status] || step.status}${step.at ? ` · ${clockIn(step.at, zone, LANG)}` : ""}`);
  }));
}

function render(data) {
  zone = data.store ? data.store.timezone : null;
  const order = data.order;
  const ended = ["delivered", "cancelled", "failed", "collected", "expired"].includes(order.status);
  const pickup = data.pickup;
  show("status", pickup && pickup.ready_for_pickup ? T.readyForPickup : (T.status[order.status] || order.status));
  if (pickup) {  // no courier: the counter, its address and the code take the delivery's place
    show("eta-label", T.collectBy);
    show("eta", pickup.collect_by ? clockIn(pickup.collect_by, zone, LANG) : "—");
    show("code-label", T.pickupCode);
  } else if (data.estimated_arrival) {
    const minutes = Math.round((Date.parse(data.estimated_arrival) - Date.parse(data.at)) / 60000);
    show("eta", `${clockIn(data.estimated_arrival, zone, LANG)} (${T.inMinutes(minutes)})`);
  } else {
    show("eta", ended ? "—" : T.noEstimate);
  }
  show("store", data.store ? data.store.name : "—");
  show("store-address", data.store ? data.store.address : "");
  document.getElementById("items").replaceChildren(...order.items.map((item) =>
    element("li", {}, `${item.name} ${T.qty(item.qty)}`)));
  renderSteps(order);
  // an ended order has no courier to speak of ("not yet assigned" would promise one)
  show("courier", ended || pickup ? "—" : data.courier.position ? T.onTheWay
    : (data.courier.assigned ? T.assigned : T.notAssigned));
  show("promised", clockIn(order.promised_by, zone, LANG));
  // a scheduled order: its window in the store's clock, "tomorrow" when it is not today there
  document.getElementById("scheduled-row").hidden = !order.deliver_at;
  if (order.deliver_at) {
    document.getElementById("scheduled-label").textContent = pickup ? T.scheduledPickup : T.scheduled;
    const day = (iso) => new Date(iso).toLocaleDateString("en-CA", {timeZone: zone || undefined});
    const when = day(order.delivery_window.from) === day(data.at) ? "" : `${T.tomorrow} `;
    show("scheduled", `${when}${clockIn(order.delivery_window.from, zone, LANG)}–${clockIn(order.delivery_window.to, zone, LANG)}`);
  }
  show("code", data.delivery_code);
  document.getElementById("id-notice").hidden = !order.id_check_required || ended;
  document.getElementById("cancel").hidden = !order.can_cancel;
  if (!markers) { placeMarkers(data); }
  moveCourier(data.courier.position);
  show("updated", `${T.updated} ${clockIn(data.at, zone, LANG)}`);
}

async function refresh() {
  try {
    const answer = await fetch(`/api/v1/track/${encodeURIComponent(token)}`);
    if (answer.status === 404) { show("message", T.gone); return; }
    if (!answer.ok) { show("updated", `${T.offline} (${answer.status})`); return; }
    render(await answer.json());
  } catch (error) { show("updated", T.offline); }
}

const confirmBox = document.getElementById("cancel-confirm");
document.getElementById("cancel-start").addEventListener("click", () => { confirmBox.hidden = false; });
document.getElementById("cancel-no").addEventListener("click", () => { confirmBox.hidden = true; });
document.getElementById("cancel-yes").addEventListener("click", async () => {
  confirmBox.hidden = true;
  try {
    const answer = await fetch(`/api/v1/track/${encodeURIComponent(token)}/cancel`, {method: "POST"});
    if (answer.ok) { render(await answer.json()); show("message", T.cancelledNow); return; }
    show("message", answer.status === 409 ? T.tooLate : T.cancelFailed);
    refresh();
  } catch (error) { show("message", T.cancelFailed); }
});

refresh();
setInterval(refresh, 5000);
