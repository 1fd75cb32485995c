// Requests to speak on the join page: a central observer listening in asks for the floor; the
// chair or an officer of the session approves, declines or takes the microphone back. The
// orchestrator changes the observer's permissions in the room (RoomService.UpdateParticipant);
// this page follows them: microphone on when publishing is allowed, off when it is taken back.

import { RoomEvent } from "livekit-client";

const TEXT = {
  listening: "Bạn đang nghe phiên (người dự không nhìn thấy bạn).",
  ask: "Xin phát biểu",
  asked: "Đã xin phát biểu, chờ chủ trì…",
  granted: "Chủ trì đã cho phép bạn phát biểu: micrô đã bật.",
  revoked: "Lượt phát biểu đã kết thúc.",
  failed: "Không gửi được yêu cầu. Hãy thử lại.",
  approve: "Cho phát biểu",
  decline: "Từ chối",
  revoke: "Thu hồi",
  states: { pending: "đang chờ", approved: "đang phát biểu" },
};
const STAFF = new Set(["chair", "officer"]);
const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

async function api(method, path) {
  const me = await fetch("/api/v1/me", { credentials: "same-origin" });
  if (!me.ok) throw new Error(`me: ${me.status}`);
  const { csrf_token: csrf } = await me.json();
  const response = await fetch(`/api/v1${path}`, {
    method,
    credentials: "same-origin",
    headers: csrf ? { "X-CSRF-Token": csrf } : {},
  });
  return response;
}

function sessionId(room) {
  try {
    const id = JSON.parse(room.metadata || "{}").session_id;
    return Number.isInteger(id) ? id : null;
  } catch {
    return null;
  }
}

/** The observer's side: the button, and the microphone following the granted permission. */
function observerSide(page, id) {
  const room = page.room;
  const button = $("ask-speak");
  button.textContent = TEXT.ask;
  button.hidden = false;
  page.showNotice(TEXT.listening);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const response = await api("POST", `/sessions/${id}/speak-requests`);
      if (!response.ok && response.status !== 409) throw new Error(String(response.status));
      button.textContent = TEXT.asked;
    } catch (error) {
      console.warn("tiepdan speak:", error);
      button.disabled = false;
      page.showError(TEXT.failed);
    }
  });
  room.on(RoomEvent.ParticipantPermissionsChanged, async (_previous, participant) => {
    if (participant !== room.localParticipant) return;
    if (participant.permissions?.canPublish) {
      await room.localParticipant.setMicrophoneEnabled(true);
      button.hidden = true;
      page.showNotice(TEXT.granted);
    } else {
      button.hidden = false;
      button.disabled = false;
      button.textContent = TEXT.ask;
      page.showNotice(TEXT.revoked);
    }
    page.updateControls();
  });
}

/** The chair's and officers' side: the pending and granted requests, with their decisions. */
function staffSide(id) {
  const panel = $("speak-requests");
  const list = panel.querySelector("ul");
  const decide = async (requestId, action) => {
    await api("POST", `/speak-requests/${requestId}/${action}`);
    await refresh();
  };
  const button = (label, requestId, action) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.action = action;
    b.addEventListener("click", () => decide(requestId, action));
    return b;
  };
  async function refresh() {
    const response = await fetch(`/api/v1/sessions/${id}/speak-requests`, {
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const open = (await response.json()).filter((r) => r.state in TEXT.states);
    list.replaceChildren();
    for (const r of open) {
      const li = document.createElement("li");
      li.dataset.requestId = String(r.id);
      li.append(`${r.display_name} (${TEXT.states[r.state]}) `);
      if (r.state === "pending") {
        li.append(button(TEXT.approve, r.id, "approve"), " ", button(TEXT.decline, r.id, "decline"));
      } else {
        li.append(button(TEXT.revoke, r.id, "revoke"));
      }
      list.append(li);
    }
    panel.hidden = open.length === 0;
  }
  refresh();
  setInterval(refresh, POLL_MS);
}

/** Wire the requests to speak once the page is connected; true for a listening observer. */
export function setupSpeakRequests(page) {
  const id = sessionId(page.room);
  const kind = page.room.localParticipant.attributes?.kind;
  if (id === null) return false;
  if (kind === "central_observer") {
    observerSide(page, id);
    return !page.room.localParticipant.permissions?.canPublish;
  }
  if (STAFF.has(kind)) staffSide(id);
  return false;
}
