// Progress: by case number and the phone's last four digits, or from the reports this
// browser sent (it keeps their receipts' secrets); withdraw before acceptance, rate after.
import { S, api, myReports } from "./common.js";

const $ = (id) => document.getElementById(id);
let current = null; // { code, proof }

function when(iso) {
  return iso ? new Date(iso).toLocaleString(document.documentElement.lang || "zh-CN") : "";
}

function show(p) {
  $("result").hidden = false;
  $("r-code").textContent = p.code;
  $("r-state").textContent = p.state_label;
  $("r-category").textContent = p.category + " · " + p.receiving_centre;
  $("r-title").textContent = p.title;
  $("r-description").textContent = p.description;
  const steps = $("r-steps");
  steps.replaceChildren();
  for (const s of p.steps) {
    const li = document.createElement("li");
    li.textContent = when(s.at) + " " + (S["step_" + s.step] || s.step);
    steps.append(li);
  }
  $("r-reply-box").hidden = !p.reply;
  $("r-reply").textContent = p.reply;
  // withdrawing needs the receipt's secret: only the browser that sent the report has it
  $("withdraw").hidden = !(p.may_withdraw && current && current.proof.reporter_secret);
  $("rating").hidden = !p.may_rate;
  $("r-rated").hidden = !p.rating;
  $("r-rated").textContent = p.rating ? S.rated + " (" + S["rating_" + p.rating] + ")" : "";
}

async function lookUp(code, proof) {
  $("lookup-error").textContent = "";
  $("r-message").textContent = "";
  try {
    const p = await api("reports/" + encodeURIComponent(code) + "/progress", { method: "POST", body: proof });
    current = { code, proof };
    show(p);
  } catch (e) {
    $("lookup-error").textContent = e.status === 404 ? S.not_found : e.message;
  }
}

$("lookup").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = $("code").value.trim().toUpperCase();
  const mine = myReports().find((r) => r.code === code);
  const last4 = $("last4").value.trim();
  if (!mine && !/^[0-9]{4}$/.test(last4)) {
    $("lookup-error").textContent = S.need_digits;
    return;
  }
  lookUp(code, mine ? { reporter_secret: mine.secret } : { phone_last4: last4 });
});

$("withdraw").addEventListener("click", async () => {
  if (!current || !window.confirm(S.confirm_withdraw)) return;
  try {
    const p = await api("reports/" + encodeURIComponent(current.code) + "/withdraw", { method: "POST", body: current.proof });
    show(p);
    $("r-message").textContent = S.withdrawn;
  } catch (e) {
    $("r-message").textContent = e.message;
  }
});

$("rating").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new FormData($("rating"));
  if (!current || !data.get("rating")) return;
  try {
    const body = { ...current.proof, rating: data.get("rating"), comment: String(data.get("comment") || "") };
    const p = await api("reports/" + encodeURIComponent(current.code) + "/rating", { method: "POST", body });
    show(p);
  } catch (e) {
    $("r-message").textContent = e.message;
  }
});

function drawMine() {
  const list = myReports();
  $("mine").hidden = !list.length;
  const ul = $("mine-list");
  ul.replaceChildren();
  for (const r of list) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "p-link";
    b.textContent = r.code + " · " + when(r.at);
    b.addEventListener("click", () => {
      $("code").value = r.code;
      lookUp(r.code, { reporter_secret: r.secret });
    });
    li.append(b);
    ul.append(li);
  }
}

drawMine();
const wanted = new URLSearchParams(location.search).get("code");
if (wanted) {
  $("code").value = wanted;
  const mine = myReports().find((r) => r.code === wanted);
  if (mine) lookUp(wanted, { reporter_secret: mine.secret });
}

