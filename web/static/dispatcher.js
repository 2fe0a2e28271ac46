// The dispatcher's live screen: a Leaflet map over the streets and a side panel fed by the
// overview API and its Server-Sent Events stream. Helpers shared with the tracking page are in
// map_common.js (text-safe DOM, times in the stores' zone, the base map).
"use strict";

// fill: the risk of missing the promise; outline: where the order is in its lifecycle
const RISK_COLOURS = {late: "#b03a2e", at_risk: "#d68910", unassigned: "#7f8c8d", on_track: "#1b9e77", scheduled: "#5b7db1"};
const RISK_ORDER = {late: 0, at_risk: 1, unassigned: 2, on_track: 3, scheduled: 4};
const STATUS_COLOURS = {accepted: "#bbbbbb", preparing: "#3498db", ready: "#8e44ad", picked_up: "#111111"};
const ROUTE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                       "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39"];
const label = (word) => String(word).replace("_", " ");

const mapElement = document.getElementById("map");
const map = baseMap(mapElement, {center: [24.184, 120.603], zoom: 14, attribution: mapElement.dataset.attribution});
const legend = L.control({position: "bottomleft"});
legend.onAdd = () => {
  const swatch = (style, name, extra = "") => element("div", {},
    element("span", {class: `swatch ${extra}`, style}), name);
  return element("div", {class: "legend"},
    swatch("", "store", "store"), swatch("", "courier (route colour)", "courier"),
    swatch("", "planned route", "route"),
    element("b", {}, "Order: fill = risk"),
    ...Object.entries(RISK_COLOURS).map(([risk, colour]) => swatch(`background:${colour}`, label(risk))),
    element("b", {}, "outline = status"),
    ...Object.entries(STATUS_COLOURS).map(([status, colour]) => swatch(`border-color:${colour}`, label(status))),
    swatch("", "several orders at one door (count)", "cluster"));
};
legend.addTo(map);
// stores under the routes and orders (the orders matter more), couriers and counts on top
map.createPane("stores").style.zIndex = 390;
const layers = {stores: L.layerGroup().addTo(map), routes: L.layerGroup().addTo(map),
                orders: L.layerGroup().addTo(map), couriers: L.layerGroup().addTo(map)};
let fitted = false;
let firstBounds = null;
let moved = false;  // once the dispatcher pans, the map stays where they put it
map.on("dragstart", () => { moved = true; });
let view = null;
let skew = 0;  // the server's clock minus ours: minutes left are counted on the server's clock
let token = new URLSearchParams(location.search).get("token") || localStorage.getItem("dispatcherToken") || "";
const serverNow = () => Date.now() + skew;
const clock = (iso) => clockIn(iso, view && view.time_zone);
const minutesLeft = (order) => Math.round((Date.parse(order.promised_by) - serverNow()) / 60000);
const leftText = (order) => {
  const minutes = minutesLeft(order);
  return minutes >= 0 ? `${minutes} min left` : `${-minutes} min late`;
};

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const response = await fetch(path, {method, headers: {"Authorization": `Bearer ${token}`,
    "Content-Type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    localStorage.removeItem("dispatcherToken");
    askForToken("That token was not accepted: it is unknown, revoked or expired. Enter a dispatcher token.");
  } else if (response.status === 403 && method === "GET") {
    askForToken("That token may not open this screen (it is not a dispatcher's or an admin's). Enter a dispatcher token.");
  }
  if (!response.ok) { throw new HttpError(response.status, data.error ? data.error.message : `HTTP ${response.status}`); }
  return data;
}

function render(next) {
  view = next;
  skew = Date.parse(view.at) - Date.now();
  document.getElementById("zone").textContent = `${view.time_zone} (${zoneLabel(view.time_zone, view.at)})`;
  renderKpis(view.kpis, view.plan);
  renderFilters(view);
  renderMap(view);
  renderLists(view);
}

function renderKpis(kpis, plan) {
  const share = kpis.on_time_share_today == null ? "—" : `${Math.round(100 * kpis.on_time_share_today)} %`;
  const mean = kpis.mean_click_to_door_min_today == null ? "—" : `${kpis.mean_click_to_door_min_today.toFixed(0)} min`;
  const cells = [["Open orders", kpis.orders_open], ["On time today", share], ["Click-to-door", mean],
                 ["Busy couriers", kpis.couriers_busy], ["Idle couriers", kpis.couriers_idle],
                 ["Plan", plan.version == null ? "none" : `v${plan.version}`]];
  document.getElementById("kpis").replaceChildren(
    ...cells.map(([name, value]) => element("div", {class: "kpi", "data-kpi": name}, element("b", {}, String(value)), name)));
}

function renderFilters(current) {
  const courierFilter = document.getElementById("filter-courier");
  const chosen = courierFilter.value;
  courierFilter.replaceChildren(element("option", {value: ""}, "all"), element("option", {value: "-"}, "unassigned"),
    ...current.couriers.filter((c) => c.state !== "off").map((c) => element("option", {value: c.id}, c.id)));
  if ([...courierFilter.options].some((option) => option.value === chosen)) { courierFilter.value = chosen; }
}

// the orders the filters let through
function shownOrders(current) {
  const status = document.getElementById("filter-status").value;
  const courier = document.getElementById("filter-courier").value;
  return current.orders.filter((o) => (!status || o.status === status) &&
    (!courier || (courier === "-" ? !o.courier_id : o.courier_id === courier)));
}

const byUrgency = (a, b) => (RISK_ORDER[a.risk] - RISK_ORDER[b.risk]) || (Date.parse(a.promised_by) - Date.parse(b.promised_by));

function orderLines(order) {
  return [element("b", {}, order.id),
          `${label(order.status)} · ${label(order.risk)} · ${leftText(order)}`,
          `promised ${clock(order.promised_by)}, planned ${clock(order.planned_delivery)}`,
          `from ${order.store ? order.store.name : order.store_id}`,
          `to ${order.customer.address || `${order.customer.lat.toFixed(5)}, ${order.customer.lng.toFixed(5)}`}`,
          `${order.item_count} item${order.item_count === 1 ? "" : "s"}${order.courier_id ? ` · ${order.courier_id}` : ""}`,
          ...[order.note].filter((line) => line)];
}

// A live update redraws every marker; the popup a dispatcher has open stays open across it.
let openKey = null;
let redrawing = false;
map.on("popupopen", (event) => { openKey = event.popup._source && event.popup._source.key; });
map.on("popupclose", () => { if (!redrawing) { openKey = null; } });
const keyed = (layer, key) => { layer.key = key; return layer; };

function renderMap(current) {
  redrawing = true;
  try { drawMap(current); } finally { redrawing = false; }
  if (openKey) {
    Object.values(layers).forEach((group) => group.eachLayer((layer) => {
      if (layer.key === openKey && layer.getPopup()) { layer.openPopup(); }
    }));
  }
  // The replaced marker's popup fades out for 200 ms; drop it now so one popup shows, not two.
  const shown = Object.values(layers).flatMap((group) => group.getLayers())
    .map((layer) => layer.getPopup && layer.getPopup()).find((popup) => popup && popup.isOpen());
  document.querySelectorAll(".leaflet-popup").forEach((element) => {
    if (!shown || element !== shown.getElement()) { element.remove(); }
  });
}

function drawMap(current) {
  Object.values(layers).forEach((layer) => layer.clearLayers());
  const storeIcon = L.divIcon({className: "store-marker", iconSize: [12, 12]});
  current.stores.forEach((store) => L.marker([store.lat, store.lng], {icon: storeIcon, pane: "stores", keyboard: false})
    .bindTooltip(lines(store.name, store.address || "")).addTo(layers.stores));
  const bounds = [];
  const courierFilter = document.getElementById("filter-courier").value;
  current.couriers.forEach((courier, i) => {
    const here = [courier.position.lat, courier.position.lng];
    const colour = ROUTE_COLOURS[i % ROUTE_COLOURS.length];
    const dimmed = courierFilter && courierFilter !== courier.id;
    if (courier.stops.length) {
      const line = courier.path && courier.path.length ? courier.path : [here, ...courier.stops.map((s) => [s.lat, s.lng])];
      L.polyline(line, {color: colour, weight: 4, opacity: dimmed ? 0.2 : 0.85, className: "route-line"})
        .bindTooltip(lines(`${courier.id}: ${courier.stops.length} stops`)).addTo(layers.routes);
      bounds.push(...line);
    }
    if (courier.state !== "off") {
      const icon = L.divIcon({className: "courier-marker", html: element("span", {}, courier.id), iconSize: null});
      const marker = keyed(L.marker(here, {icon, title: `courier ${courier.id}`, opacity: dimmed ? 0.4 : 1}), `courier:${courier.id}`)
        .bindPopup(lines(courier.name, `${courier.id} (${courier.vehicle}), ${courier.state}`,
                         `${courier.stops.length} stops planned`))
        .addTo(layers.couriers);
      marker.on("add", () => { const node = marker.getElement(); if (node) { node.style.borderColor = colour; } });
      const node = marker.getElement();
      if (node) { node.style.borderColor = colour; }
    }
  });
  // orders at one door (to about a metre) share one marker that counts them
  const places = new Map();
  shownOrders(current).forEach((order) => {
    const key = `${order.customer.lat.toFixed(5)},${order.customer.lng.toFixed(5)}`;
    places.set(key, [...(places.get(key) || []), order]);
  });
  places.forEach((orders) => {
    orders.sort(byUrgency);
    const worst = orders[0];
    const at = [worst.customer.lat, worst.customer.lng];
    bounds.push(at);
    if (orders.length === 1) {
      keyed(L.circleMarker(at, {radius: 8, color: STATUS_COLOURS[worst.status] || "#555", weight: 3,
                                fillColor: RISK_COLOURS[worst.risk], fillOpacity: 0.9, className: `order-dot ${worst.risk}`}),
            `order:${worst.id}`)
        .bindPopup(lines(...orderLines(worst))).addTo(layers.orders);
      return;
    }
    const size = 22 + Math.min(14, 2 * orders.length);
    const badge = element("span", {}, String(orders.length));
    const icon = L.divIcon({className: `order-cluster ${worst.risk}`, html: badge, iconSize: [size, size]});
    const popup = element("div", {}, element("b", {}, `${orders.length} orders at this address`),
      ...orders.map((order) => element("p", {}, lines(...orderLines(order)))));
    const marker = keyed(L.marker(at, {icon, title: `${orders.length} orders`}), `place:${at}`).bindPopup(popup, {maxHeight: 300})
      .addTo(layers.orders);
    const paint = () => {
      const node = marker.getElement();
      if (node) { node.style.background = RISK_COLOURS[worst.risk]; node.style.borderColor = STATUS_COLOURS[worst.status] || "#333"; }
    };
    marker.on("add", paint);
    paint();
  });
  if (!fitted && bounds.length) {
    map.invalidateSize();  // the layout may have settled since the map was made (a phone's viewport)
    map.fitBounds(bounds, {padding: [30, 30]});
    fitted = true;
    firstBounds = bounds;
  }
}

function renderOrders(current) {
  const shown = shownOrders(current).sort(byUrgency);
  document.getElementById("orders").replaceChildren(...(shown.length ? shown.map((order) =>
    element("li", {class: order.risk, "data-order": order.id, tabindex: "0"},
      element("div", {class: "head"},
        element("span", {}, `${order.risk === "late" || order.risk === "at_risk" ? "⚠ " : ""}${order.id}`),
        element("span", {class: "left"}, leftText(order))),
      element("div", {class: "sub"}, `${label(order.status)} · ${label(order.risk)} · promised ${clock(order.promised_by)} · ${order.item_count} item${order.item_count === 1 ? "" : "s"}`),
      element("div", {class: "sub"}, `${order.store ? order.store.name : order.store_id} → ${order.customer.address || "(no address)"}`),
      element("div", {class: "sub"}, order.courier_id ? `courier ${order.courier_id}, planned ${clock(order.planned_delivery)}` : "no courier yet")))
    : [element("li", {class: "empty"}, "no open orders match")]));
  const late = current.orders.filter((o) => o.risk === "late").length;
  const risky = current.orders.filter((o) => o.risk === "at_risk").length;
  const alarm = document.getElementById("alarm");
  const codeLocks = current.alarms || [];
  const parts = [late ? `${late} late` : "", risky ? `${risky} at risk` : "",
                 codeLocks.length ? `${codeLocks.length} delivery code lock${codeLocks.length === 1 ? "" : "s"}` : ""].filter(Boolean);
  alarm.hidden = parts.length === 0;
  alarm.replaceChildren(text(`⚠ ${parts.join(", ")}`), ...codeLocks.map((lock) => element("div", {class: "sub"}, lock.message)));
}

// "pick up at 7-Eleven 福林店 (ord_…)" or "deliver to 福林路 31 巷 (ord_…)"
function stopText(stop, order) {
  if (stop.kind === "pickup") {
    return `pick up at ${order && order.store ? order.store.name : "the store"} (${stop.order_id})`;
  }
  return `deliver to ${order && order.customer.address ? order.customer.address : "the customer"} (${stop.order_id})`;
}

function renderLists(current) {
  const orders = new Map(current.orders.map((order) => [order.id, order]));
  renderOrders(current);
  const unassigned = Object.entries(current.plan.unassigned || {});
  document.getElementById("unassigned").replaceChildren(...(unassigned.length
    ? unassigned.map(([id, why]) => element("li", {}, element("b", {}, id), `: ${why}`))
    : [element("li", {}, "none")]));
  document.getElementById("timelines").replaceChildren(...current.couriers.filter((c) => c.state !== "off").map((courier) =>
    element("div", {class: "timeline", "data-courier": courier.id},
      element("b", {}, `${courier.id} · ${courier.name} · ${courier.vehicle} · ${courier.state}`),
      element("ol", {}, ...courier.stops.map((stop) => element("li", {class: stop.late_s > 0 ? "late" : ""},
        `${clock(stop.arrive_at)} ${stopText(stop, orders.get(stop.order_id))}`))))));
  fillSelect("reassign-order", current.orders.map((o) => [o.id, `${o.id} (${o.courier_id || "unassigned"})`]));
  fillSelect("reassign-courier", current.couriers.filter((c) => c.state !== "off").map((c) => [c.id, c.id]));
}

function fillSelect(id, options) {
  const select = document.getElementById(id);
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, name]) => element("option", {value}, name)));
  if (options.some(([value]) => value === chosen)) { select.value = chosen; }
}

function say(message) { document.getElementById("action-result").textContent = message; }

["filter-status", "filter-courier"].forEach((id) => document.getElementById(id).addEventListener("change", () => {
  if (view) { renderMap(view); renderOrders(view); }
}));

// a click on a listed order opens its popup on the map
document.getElementById("orders").addEventListener("click", (event) => {
  const item = event.target.closest("li[data-order]");
  if (!item || !view) { return; }
  const order = view.orders.find((o) => o.id === item.dataset.order);
  if (!order) { return; }
  layers.orders.eachLayer((marker) => {
    const at = marker.getLatLng();
    if (Math.abs(at.lat - order.customer.lat) < 1e-5 && Math.abs(at.lng - order.customer.lng) < 1e-5) {
      map.setView(at, Math.max(map.getZoom(), 16));
      marker.openPopup();
    }
  });
});

document.getElementById("toggle-panel").addEventListener("click", () => {
  const hidden = document.body.classList.toggle("panel-hidden");
  const button = document.getElementById("toggle-panel");
  button.setAttribute("aria-expanded", String(!hidden));
  button.textContent = hidden ? "Show panel" : "Hide panel";
  map.invalidateSize();
});
window.addEventListener("resize", () => {
  map.invalidateSize();
  if (firstBounds && !moved) { map.fitBounds(firstBounds, {padding: [30, 30]}); }
});

document.getElementById("reassign").addEventListener("submit", async (event) => {
  event.preventDefault();
  const order = document.getElementById("reassign-order").value;
  const courier = document.getElementById("reassign-courier").value;
  if (!order || !courier) { return; }
  try {
    await api("PUT", `/api/v1/dispatch/pins/${encodeURIComponent(order)}`,
              {courier_id: courier, allow_late: document.getElementById("reassign-late").checked});
    const answer = await api("POST", "/api/v1/dispatch/replan");
    say(`${order} pinned to ${courier}; plan v${answer.plan.version}`);
  } catch (error) { say(`Could not reassign: ${error.message}`); }
});

document.getElementById("replan").addEventListener("click", async () => {
  try { say(`Re-planned: v${(await api("POST", "/api/v1/dispatch/replan")).plan.version}`); }
  catch (error) { say(`Re-plan failed: ${error.message}`); }
});

function askForToken(message) {
  stopFeed();
  const live = document.getElementById("live");
  live.textContent = "signed out";
  live.classList.remove("on");
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("token").focus();
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value.trim();
  document.getElementById("login").hidden = true;
  start();
});

let source = null;
let retry = null;
let retryDelay = 2000;
function stopFeed() {
  if (source) { source.close(); source = null; }
  clearTimeout(retry);
}

function feedProblem(message) {
  const banner = document.getElementById("feed-problem");
  banner.hidden = !message;
  banner.textContent = message || "";
}

// The live feed: the browser's EventSource retries by itself after a dropped connection, but
// gives up on an answer it cannot use (a revoked token, a server away); then this page checks
// the token with a plain request and opens a new feed, waiting longer after each failure.
function openFeed() {
  stopFeed();
  const live = document.getElementById("live");
  source = new EventSource(`/api/v1/dispatch/stream?access_token=${encodeURIComponent(token)}`);
  source.addEventListener("overview", (event) => {
    render(JSON.parse(event.data));
    live.textContent = "live";
    live.classList.add("on");
    feedProblem("");
    retryDelay = 2000;
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
    feedProblem("The live feed was lost; reconnecting… (the map shows the last known state)");
    if (source && source.readyState === EventSource.CLOSED) {
      retry = setTimeout(start, retryDelay);
      retryDelay = Math.min(30000, retryDelay * 2);
    }
  });
}

async function start() {
  if (!token) { askForToken("Enter a dispatcher token to open the screen."); return; }
  try {
    render(await api("GET", "/api/v1/dispatch/overview"));
  } catch (error) {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) { return; }
    feedProblem("The service cannot be reached; retrying…");
    retry = setTimeout(start, retryDelay);
    retryDelay = Math.min(30000, retryDelay * 2);
    return;
  }
  localStorage.setItem("dispatcherToken", token);
  // kept here now: off the address bar, the history and any bookmark or shared link
  if (location.search) { history.replaceState(null, "", location.pathname); }
  openFeed();
}
// minutes left count down between updates
setInterval(() => { if (view) { renderOrders(view); } }, 30000);
start();
