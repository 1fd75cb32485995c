// The central dashboard: follows /central/events (server-sent events) and redraws the table.
// Every value is put in with textContent, never as HTML.

const TEXT = {
  live: "Đang cập nhật trực tiếp",
  reconnecting: "Mất kết nối, đang thử lại…",
  recording: "Đang ghi",
  notRecording: "KHÔNG GHI",
  nobody: "—",
  listen: "Nghe",
  talkBackOn: "nói vào phiên",
  talkBackOff: "chỉ nghe",
  withVideo: ", có hình",
  bridgeState: { waiting: "chờ kết nối", running: "đang chuyển tiếp", ended: "đã kết thúc" },
  observers: (n) => `${n} quan sát viên Trung ương`,
};

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

function list(items) {
  if (items.length === 0) return document.createTextNode(TEXT.nobody);
  const ul = document.createElement("ul");
  for (const text of items) {
    const li = document.createElement("li");
    li.textContent = text;
    ul.append(li);
  }
  return ul;
}

function render(sessions) {
  const table = document.getElementById("sessions");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const s of sessions) {
    const row = document.createElement("tr");
    row.dataset.sessionId = String(s.id);
    cell(row, s.province);
    const agency = cell(row, s.agency);
    const title = document.createElement("div");
    title.className = "muted";
    title.textContent = s.title;
    agency.append(title);
    cell(row, s.chair || TEXT.nobody);
    cell(row, s.started_local);
    const points = s.points.map((p) => `${p.name}: ${p.count}`);
    if (s.observers > 0) points.push(TEXT.observers(s.observers));
    cell(row, list(points)).className = "points";
    const rec = cell(row, s.recording ? TEXT.recording : TEXT.notRecording);
    rec.className = s.recording ? "rec recording" : "recording norec";
    cell(row, list(s.speaking)).className = "speaking";
    const bridges = s.bridges.map(
      (b) =>
        `${b.hub_name} (${TEXT.bridgeState[b.state] || b.state}, ` +
        `${b.talk_back ? TEXT.talkBackOn : TEXT.talkBackOff}${b.video ? TEXT.withVideo : ""})`,
    );
    cell(row, list(bridges)).className = "bridges";
    const listen = document.createElement("a");
    listen.className = "listen";
    listen.href = `/sessions/${encodeURIComponent(s.id)}/join`;
    listen.target = "_blank";
    listen.rel = "noopener";
    listen.textContent = TEXT.listen;
    cell(row, listen);
    body.append(row);
  }
  table.hidden = sessions.length === 0;
  document.getElementById("empty").hidden = sessions.length !== 0;
}

let source = null;

function follow() {
  if (source) source.close();
  const province = document.getElementById("province").value;
  const url = province ? `/central/events?province=${encodeURIComponent(province)}` : "/central/events";
  source = new EventSource(url);
  const status = document.getElementById("status");
  source.onmessage = (event) => {
    const board = JSON.parse(event.data);
    render(board.sessions);
    document.body.dataset.state = "live";
    document.body.dataset.version = String(board.version);
    status.textContent = TEXT.live;
  };
  source.onerror = () => {
    document.body.dataset.state = "error";
    status.textContent = TEXT.reconnecting;
  };
}

document.getElementById("province").addEventListener("change", follow);
follow();
