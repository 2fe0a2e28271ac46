// The dispatcher's live screen: a Leaflet map and a side panel fed by the overview API and its
// Server-Sent Events stream. Without a tile URL the map draws its data on a plain background.
"use strict";

// fill: the risk of missing the promise; outline: where the order is in its lifecycle
const RISK_COLOURS = {on_track: "#1b9e77", at_risk: "#d68910", late: "#c0392b", unassigned: "#7f8c8d"};
const STATUS_COLOURS = {accepted: "#bbbbbb", preparing: "#3498db", ready: "#8e44ad", picked_up: "#111111"};
const ROUTE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                       "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39"];
// Every text that comes from data goes into the page as text (DOM nodes, never HTML strings):
// Leaflet reads a string given to a popup, a tooltip or a divIcon as HTML, so they get nodes.
const text = (value) => document.createTextNode(value == null ? "—" : String(value));
const clock = (iso) => iso ? new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}) : "—";
function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
  children.forEach((child) => node.append(child instanceof Node ? child : text(child)));
  return node;
}
// a popup or tooltip of several lines of text
const lines = (...texts) => element("div", {}, ...texts.flatMap((line, i) => i ? [element("br"), line] : [line]));

const mapElement = document.getElementById("map");
const map = L.map(mapElement, {preferCanvas: false}).setView([24.184, 120.603], 14);
if (mapElement.dataset.tileUrl) {
  L.tileLayer(mapElement.dataset.tileUrl, {attribution: mapElement.dataset.attribution, maxZoom: 19}).addTo(map);
}
const legend = L.control({position: "bottomleft"});
legend.onAdd = () => {
  const swatch = (colour, label, outline) => element("div", {},
    element("span", {class: "swatch", style: outline ? `border-color:${colour}` : `background:${colour}`}),
    label.replace("_", " "));
  return element("div", {class: "legend"}, element("b", {}, "Order: fill = risk"),
    ...Object.entries(RISK_COLOURS).map(([risk, colour]) => swatch(colour, risk)),
    element("b", {}, "outline = status"),
    ...Object.entries(STATUS_COLOURS).map(([status, colour]) => swatch(colour, status, true)));
};
legend.addTo(map);
const layers = {stores: L.layerGroup().addTo(map), routes: L.layerGroup().addTo(map),
                orders: L.layerGroup().addTo(map), couriers: L.layerGroup().addTo(map)};
let fitted = false;
let token = new URLSearchParams(location.search).get("token") || localStorage.getItem("dispatcherToken") || "";

async function api(method, path, body) {
  const response = await fetch(path, {method, headers: {"Authorization": `Bearer ${token}`,
    "Content-Type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) { askForToken("That token was not accepted."); }
  if (!response.ok) { throw new Error(data.error ? data.error.message : `HTTP ${response.status}`); }
  return data;
}

function render(view) {
  renderKpis(view.kpis, view.plan);
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
    ...cells.map(([label, value]) => element("div", {class: "kpi", "data-kpi": label}, element("b", {}, String(value)), label)));
}

function renderMap(view) {
  Object.values(layers).forEach((layer) => layer.clearLayers());
  view.stores.forEach((store) => L.circleMarker([store.lat, store.lng], {radius: 4, color: "#555", weight: 1,
    fillOpacity: 0.5}).bindTooltip(lines(store.name)).addTo(layers.stores));
  const bounds = [];
  view.couriers.forEach((courier, i) => {
    const here = [courier.position.lat, courier.position.lng];
    const colour = ROUTE_COLOURS[i % ROUTE_COLOURS.length];
    if (courier.stops.length) {
      const line = [here, ...courier.stops.map((stop) => [stop.lat, stop.lng])];
      L.polyline(line, {color: colour, weight: 3, opacity: 0.8, className: "route-line"})
        .bindTooltip(lines(`${courier.id}: ${courier.stops.length} stops`)).addTo(layers.routes);
      bounds.push(...line);
    }
    if (courier.state !== "off") {
      const icon = L.divIcon({className: "courier-marker", html: element("span", {}, courier.id), iconSize: null});
      L.marker(here, {icon, title: courier.id})
        .bindPopup(lines(courier.name, `${courier.id} (${courier.vehicle}), ${courier.state}`))
        .addTo(layers.couriers);
    }
  });
  view.orders.forEach((order) => {
    const at = [order.customer.lat, order.customer.lng];
    L.circleMarker(at, {radius: 7, color: STATUS_COLOURS[order.status] || "#555", weight: 3,
                        fillColor: RISK_COLOURS[order.risk], fillOpacity: 0.85, className: `order-dot ${order.risk}`})
      .bindPopup(lines(order.id, `${order.status}, ${order.risk.replace("_", " ")}`,
                       `promised ${clock(order.promised_by)}`,
                       ...[order.customer.address, order.note].filter((line) => line)))
      .addTo(layers.orders);
    bounds.push(at);
  });
  if (!fitted && bounds.length) { map.fitBounds(bounds, {padding: [30, 30]}); fitted = true; }
}

function renderLists(view) {
  const unassigned = Object.entries(view.plan.unassigned || {});
  document.getElementById("unassigned").replaceChildren(...(unassigned.length
    ? unassigned.map(([id, why]) => element("li", {}, element("b", {}, id), `: ${why}`))
    : [element("li", {}, "none")]));
  document.getElementById("timelines").replaceChildren(...view.couriers.filter((c) => c.state !== "off").map((courier) =>
    element("div", {class: "timeline", "data-courier": courier.id},
      element("b", {}, `${courier.id} · ${courier.name} · ${courier.vehicle} · ${courier.state}`),
      element("ol", {}, ...courier.stops.map((stop) => element("li", {class: stop.late_s > 0 ? "late" : ""},
        `${clock(stop.arrive_at)} ${stop.kind === "pickup" ? "pick up" : "deliver"} ${stop.order_id}`))))));
  fillSelect("reassign-order", view.orders.map((o) => [o.id, `${o.id} (${o.courier_id || "unassigned"})`]));
  fillSelect("reassign-courier", view.couriers.filter((c) => c.state !== "off").map((c) => [c.id, c.id]));
}

function fillSelect(id, options) {
  const select = document.getElementById(id);
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, label]) => element("option", {value}, label)));
  if (options.some(([value]) => value === chosen)) { select.value = chosen; }
}

function say(message) { document.getElementById("action-result").textContent = message; }

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
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value.trim();
  localStorage.setItem("dispatcherToken", token);
  document.getElementById("login").hidden = true;
  start();
});

let source = null;
async function start() {
  if (!token) { askForToken(); return; }
  try { render(await api("GET", "/api/v1/dispatch/overview")); } catch (error) { return; }
  localStorage.setItem("dispatcherToken", token);
  if (source) { source.close(); }
  source = new EventSource(`/api/v1/dispatch/stream?access_token=${encodeURIComponent(token)}`);
  const live = document.getElementById("live");
  source.addEventListener("overview", (event) => { render(JSON.parse(event.data)); live.textContent = "live"; live.classList.add("on"); });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.classList.remove("on"); });
}
start();
