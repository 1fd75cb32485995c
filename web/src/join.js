// The join page of a reception session (phiên tiếp công dân trực tuyến).
//
// The orchestrator renders join.html with a JSON configuration block and serves this file, bundled
// with livekit-client at setup (no CDN). Everything the person sees is Vietnamese. Tests drive the
// page through `document.body.dataset.state` / `.media` and `window.tiepdanRoom`.

import {
  ConnectionError,
  ConnectionErrorReason,
  ConnectionState,
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
} from "livekit-client";
import { setupSpeakRequests } from "./speak.js";

/** Group of participants whose connection point is unknown. */
const OTHER_GROUP = "Khác";

const TEXT = {
  connecting: "Đang kết nối…",
  connected: "Đã kết nối",
  reconnecting: "Mất kết nối, đang kết nối lại…",
  left: "Đã rời phiên",
  failed: "Không kết nối được",
  recording: "● ĐANG GHI",
  notRecording: "KHÔNG GHI",
  observers: (n) => `Ban Tiếp công dân Trung ương đang theo dõi: ${n}`,
  micOff: "Tắt mic",
  micOn: "Bật mic",
  cameraOff: "Tắt camera",
  cameraOn: "Bật camera",
  you: "bạn",
  noCamera: "Không có camera: tham gia bằng âm thanh.",
  noMicrophone:
    "Không truy cập được micrô và camera. Hãy cho phép trình duyệt dùng micrô rồi tải lại trang.",
  cameraFailed: "Không bật được camera.",
  micFailed: "Không bật được micrô.",
  badConfig: "Trang tham gia bị lỗi cấu hình. Hãy mở lại liên kết tham gia.",
  notAllowed:
    "Không được phép vào phiên: liên kết tham gia không hợp lệ, đã hết hạn, hoặc phiên chưa mở.",
  unreachable: "Không kết nối được tới máy chủ hội nghị. Hãy kiểm tra mạng rồi thử lại.",
  connectFailed: "Không thể kết nối vào phiên. Hãy thử lại sau.",
  roomDeleted: "Phiên đã kết thúc.",
  removed: "Bạn đã được mời ra khỏi phiên.",
  duplicate: "Bạn đã vào phiên này từ một cửa sổ hoặc thiết bị khác.",
  serverShutdown: "Máy chủ hội nghị đang khởi động lại. Hãy vào lại sau ít phút.",
  disconnected: "Kết nối tới phiên đã bị ngắt.",
};

const $ = (id) => document.getElementById(id);

/** Reasons a participant is sent away on purpose: anything else is a lost connection (LiveKit
 * restarted and gave up on us, the network dropped for longer than the SDK retries), and the
 * page joins again by itself: the room may be missing until the orchestrator recreates it. */
const SENT_AWAY = new Set([
  DisconnectReason.CLIENT_INITIATED,
  DisconnectReason.DUPLICATE_IDENTITY,
  DisconnectReason.PARTICIPANT_REMOVED,
  DisconnectReason.ROOM_DELETED,
  DisconnectReason.ROOM_CLOSED,
]);
const REJOIN_EVERY_MS = 2000;
/** How long the page keeps trying before it says the connection is lost. */
const REJOIN_FOR_MS = 10 * 60 * 1000;

/** What the page shows in each LiveKit connection state: `body.dataset.state`, and the status. */
const CONNECTION_STATES = new Map([
  [ConnectionState.Connecting, ["connecting", TEXT.connecting]],
  [ConnectionState.Connected, ["connected", TEXT.connected]],
  [ConnectionState.Reconnecting, ["reconnecting", TEXT.reconnecting]],
  [ConnectionState.SignalReconnecting, ["reconnecting", TEXT.reconnecting]],
  [ConnectionState.Disconnected, ["disconnected", TEXT.left]],
]);

/** The two devices a button turns on and off, keyed by the button's element name. */
const DEVICES = {
  mic: {
    name: "microphone",
    isOn: (local) => local.isMicrophoneEnabled,
    turn: (local, on) => local.setMicrophoneEnabled(on),
    failed: TEXT.micFailed,
  },
  camera: {
    name: "camera",
    isOn: (local) => local.isCameraEnabled,
    turn: (local, on) => local.setCameraEnabled(on),
    failed: TEXT.cameraFailed,
  },
};

function readConfig() {
  const element = $("join-config");
  if (!element) throw new Error("join-config element missing");
  const config = JSON.parse(element.textContent || "");
  for (const key of ["livekitUrl", "token", "roomName", "leaveUrl"]) {
    if (typeof config[key] !== "string" || !config[key]) throw new Error(`join-config.${key}`);
  }
  return config;
}

function nonEmpty(value) {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    // Metadata that is not JSON carries nothing we read.
    return null;
  }
}

/** The connection point (điểm cầu) a participant joins from: attribute first, then metadata. */
function connectionPointOf(participant) {
  const fromAttributes = nonEmpty(participant.attributes?.connection_point);
  if (fromAttributes) return fromAttributes;
  const metadata = parseJson(participant.metadata);
  return (metadata && nonEmpty(metadata.connection_point)) || null;
}

function isRecording(roomMetadata) {
  const metadata = parseJson(roomMetadata);
  return Boolean(metadata && metadata.recording === true);
}

/** Central observers listening in (hidden from the room), as the orchestrator counts them. */
function centralObservers(roomMetadata) {
  const metadata = parseJson(roomMetadata);
  const n = metadata && metadata.central_observers;
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function connectErrorMessage(error) {
  if (error instanceof ConnectionError) {
    switch (error.reason) {
      case ConnectionErrorReason.NotAllowed:
        return TEXT.notAllowed;
      case ConnectionErrorReason.ServerUnreachable:
      case ConnectionErrorReason.WebSocket:
      case ConnectionErrorReason.Timeout:
        return TEXT.unreachable;
      default:
        return TEXT.connectFailed;
    }
  }
  return TEXT.connectFailed;
}

function disconnectMessage(reason) {
  switch (reason) {
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return TEXT.roomDeleted;
    case DisconnectReason.PARTICIPANT_REMOVED:
      return TEXT.removed;
    case DisconnectReason.DUPLICATE_IDENTITY:
      return TEXT.duplicate;
    case DisconnectReason.SERVER_SHUTDOWN:
      return TEXT.serverShutdown;
    default:
      return TEXT.disconnected;
  }
}

class JoinPage {
  constructor(config) {
    this.config = config;
    this.room = new Room({ adaptiveStream: true, dynacast: true });
    /** identity → {root, video, media, label} */
    this.tiles = new Map();
    /** group name → section element */
    this.groups = new Map();
    this.failed = false;
    this.leaving = false;
    this.rejoining = false;
    this.publishes = false;
    this.elements = {
      status: $("status"),
      recording: $("recording"),
      observers: $("observers"),
      notice: $("notice"),
      error: $("error"),
      stage: $("stage"),
      mic: $("toggle-mic"),
      camera: $("toggle-camera"),
      leave: $("leave"),
      startAudio: $("start-audio"),
    };
    window.tiepdanRoom = this.room;
  }

  // --- page state --------------------------------------------------------------------------

  setState(state, text) {
    document.body.dataset.state = state;
    this.elements.status.textContent = text;
  }

  showNotice(text) {
    this.elements.notice.textContent = text;
    this.elements.notice.hidden = false;
  }

  showError(text) {
    this.elements.error.textContent = text;
    this.elements.error.hidden = false;
  }

  fail(text, error) {
    console.error("tiepdan join:", error);
    this.failed = true;
    this.elements.startAudio.hidden = true;
    this.setState("error", TEXT.failed);
    this.showError(text);
    this.setControlsEnabled(false);
  }

  setControlsEnabled(enabled) {
    for (const button of [this.elements.mic, this.elements.camera, this.elements.leave]) {
      button.disabled = !enabled;
    }
  }

  updateRecording() {
    const on = isRecording(this.room.metadata);
    const indicator = this.elements.recording;
    indicator.textContent = on ? TEXT.recording : TEXT.notRecording;
    indicator.classList.toggle("on", on);
    indicator.classList.toggle("off", !on);
    const observers = centralObservers(this.room.metadata);
    this.elements.observers.textContent = observers ? TEXT.observers(observers) : "";
    this.elements.observers.hidden = observers === 0;
  }

  updateControls() {
    const local = this.room.localParticipant;
    const mic = local.isMicrophoneEnabled;
    const camera = local.isCameraEnabled;
    this.elements.mic.textContent = mic ? TEXT.micOff : TEXT.micOn;
    this.elements.mic.setAttribute("aria-pressed", String(!mic));
    this.elements.camera.textContent = camera ? TEXT.cameraOff : TEXT.cameraOn;
    this.elements.camera.setAttribute("aria-pressed", String(!camera));
  }

  updateAudioPlayback() {
    // Offered only in a live call: the browser blocked autoplay and wants a click first.
    const connected = this.room.state === ConnectionState.Connected;
    this.elements.startAudio.hidden = !connected || this.room.canPlaybackAudio;
  }

  // --- participants and groups -------------------------------------------------------------

  groupOf(participant) {
    const point = connectionPointOf(participant);
    if (point) return point;
    if (participant === this.room.localParticipant) {
      return nonEmpty(this.config.connectionPoint) || OTHER_GROUP;
    }
    return OTHER_GROUP;
  }

  tileFor(participant) {
    let tile = this.tiles.get(participant.identity);
    if (tile) return tile;
    const root = document.createElement("figure");
    root.className = "tile";
    root.dataset.identity = participant.identity;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound plays through the separate audio elements
    const label = document.createElement("figcaption");
    const media = document.createElement("div");
    media.hidden = true;
    root.append(video, label, media);
    tile = { root, video, label, media };
    this.tiles.set(participant.identity, tile);
    if (participant === this.room.localParticipant) root.classList.add("local");
    this.updateTile(participant);
    return tile;
  }

  updateTile(participant) {
    const tile = this.tiles.get(participant.identity);
    if (!tile) return;
    const name = nonEmpty(participant.name) || participant.identity;
    const isLocal = participant === this.room.localParticipant;
    tile.label.textContent = isLocal ? `${name} (${TEXT.you})` : name;
    const camera = participant.getTrackPublication(Track.Source.Camera);
    const microphone = participant.getTrackPublication(Track.Source.Microphone);
    tile.root.classList.toggle("no-video", !camera || camera.isMuted || !camera.track);
    tile.root.classList.toggle("mic-muted", !microphone || microphone.isMuted);
  }

  removeTile(participant) {
    const tile = this.tiles.get(participant.identity);
    if (!tile) return;
    tile.root.remove();
    this.tiles.delete(participant.identity);
    this.renderGroups();
  }

  /** Places every tile in the section of its connection point; sections sorted, "Khác" last. */
  renderGroups() {
    const members = new Map();
    const participants = [this.room.localParticipant, ...this.room.remoteParticipants.values()];
    for (const participant of participants) {
      if (!participant.identity) continue;
      const group = this.groupOf(participant);
      if (!members.has(group)) members.set(group, []);
      members.get(group).push(this.tileFor(participant).root);
    }
    const names = [...members.keys()].sort((a, b) => {
      if (a === OTHER_GROUP) return 1;
      if (b === OTHER_GROUP) return -1;
      return a.localeCompare(b, "vi");
    });
    for (const [name, section] of this.groups) {
      if (!members.has(name)) {
        section.remove();
        this.groups.delete(name);
      }
    }
    for (const name of names) {
      let section = this.groups.get(name);
      if (!section) {
        section = document.createElement("section");
        section.className = "group";
        const heading = document.createElement("h2");
        heading.textContent = name;
        const grid = document.createElement("div");
        grid.className = "tiles";
        section.append(heading, grid);
        this.groups.set(name, section);
      }
      // appendChild moves nodes already placed; a media element moved within one task keeps playing.
      this.elements.stage.appendChild(section);
      const grid = section.querySelector(".tiles");
      for (const root of members.get(name)) {
        if (root.parentElement !== grid) grid.appendChild(root);
      }
    }
  }

  attachTrack(track, participant) {
    const tile = this.tileFor(participant);
    if (track.kind === Track.Kind.Video && track.source === Track.Source.Camera) {
      track.attach(tile.video);
    } else if (track.kind === Track.Kind.Audio && participant !== this.room.localParticipant) {
      tile.media.appendChild(track.attach());
    }
    this.updateTile(participant);
  }

  detachTrack(track, participant) {
    for (const element of track.detach()) {
      if (element.tagName === "AUDIO") element.remove();
    }
    this.updateTile(participant);
  }

  // --- wiring ------------------------------------------------------------------------------

  listen() {
    const room = this.room;
    room
      .on(RoomEvent.ConnectionStateChanged, (state) => this.onConnectionState(state))
      .on(RoomEvent.Disconnected, (reason) => this.onDisconnected(reason))
      .on(RoomEvent.RoomMetadataChanged, () => this.updateRecording())
      .on(RoomEvent.ParticipantConnected, () => this.renderGroups())
      .on(RoomEvent.ParticipantDisconnected, (participant) => this.removeTile(participant))
      .on(RoomEvent.ParticipantAttributesChanged, () => this.renderGroups())
      .on(RoomEvent.ParticipantMetadataChanged, () => this.renderGroups())
      .on(RoomEvent.ParticipantNameChanged, (_name, participant) => this.updateTile(participant))
      .on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
        this.attachTrack(track, participant);
        this.renderGroups();
      })
      .on(RoomEvent.TrackUnsubscribed, (track, _pub, participant) => {
        this.detachTrack(track, participant);
      })
      .on(RoomEvent.LocalTrackPublished, (publication, participant) => {
        if (publication.track) this.attachTrack(publication.track, participant);
        this.updateControls();
      })
      .on(RoomEvent.LocalTrackUnpublished, (publication, participant) => {
        if (publication.track) this.detachTrack(publication.track, participant);
        this.updateControls();
      })
      .on(RoomEvent.TrackMuted, (_pub, participant) => this.onMuteChanged(participant))
      .on(RoomEvent.TrackUnmuted, (_pub, participant) => this.onMuteChanged(participant))
      .on(RoomEvent.AudioPlaybackStatusChanged, () => this.updateAudioPlayback());

    for (const device of Object.keys(DEVICES)) {
      this.elements[device].addEventListener("click", () => this.toggle(device));
    }
    this.elements.leave.addEventListener("click", () => this.leave());
    this.elements.startAudio.addEventListener("click", () => {
      room.startAudio().catch((error) => console.warn("tiepdan join: startAudio", error));
    });
  }

  onConnectionState(state) {
    if (this.failed) return; // keep the error on screen after a failed first connection
    const shown = CONNECTION_STATES.get(state);
    if (shown) this.setState(...shown);
    this.updateAudioPlayback();
  }

  onDisconnected(reason) {
    // A failed try of `rejoin` disconnects too: the loop goes on.
    if (this.failed || this.rejoining) return;
    this.setControlsEnabled(false);
    if (!this.leaving && !SENT_AWAY.has(reason)) {
      this.rejoin(reason);
      return;
    }
    this.setState("disconnected", TEXT.left);
    if (!this.leaving && reason !== DisconnectReason.CLIENT_INITIATED) {
      this.showError(disconnectMessage(reason));
    }
  }

  /** Join the room again until in; a token LiveKit no longer takes (expired) is renewed by
   * loading the join page again, which mints a fresh one. */
  async rejoin(reason) {
    this.rejoining = true;
    this.setState("reconnecting", TEXT.reconnecting);
    const until = Date.now() + REJOIN_FOR_MS;
    while (!this.leaving && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, REJOIN_EVERY_MS));
      try {
        await this.room.connect(this.config.livekitUrl, this.config.token);
      } catch (error) {
        if (error instanceof ConnectionError && error.reason === ConnectionErrorReason.NotAllowed) {
          window.location.reload();
          return;
        }
        console.warn("tiepdan join: rejoining", error);
        continue;
      }
      this.rejoining = false;
      this.elements.error.hidden = true;
      this.setControlsEnabled(true);
      this.updateRecording();
      this.renderGroups();
      if (this.publishes) await this.publishLocalMedia();
      return;
    }
    this.rejoining = false;
    this.setState("disconnected", TEXT.left);
    if (!this.leaving) this.showError(disconnectMessage(reason));
  }

  onMuteChanged(participant) {
    this.updateTile(participant);
    if (participant === this.room.localParticipant) this.updateControls();
  }

  /** Turn the microphone or the camera (a key of DEVICES) on or off. */
  async toggle(device) {
    const { name, isOn, turn, failed } = DEVICES[device];
    const local = this.room.localParticipant;
    const button = this.elements[device];
    button.disabled = true;
    try {
      await turn(local, !isOn(local));
    } catch (error) {
      console.warn(`tiepdan join: ${name}`, error);
      this.showNotice(failed);
    } finally {
      button.disabled = this.room.state !== ConnectionState.Connected;
      this.updateControls();
      this.updateTile(local);
    }
  }

  async leave() {
    this.leaving = true;
    this.setControlsEnabled(false);
    try {
      await this.room.disconnect();
    } finally {
      this.setState("disconnected", TEXT.left);
      window.location.assign(this.config.leaveUrl);
    }
  }

  /** Camera and microphone; without a camera, microphone only. Result in `body.dataset.media`. */
  async publishLocalMedia() {
    const local = this.room.localParticipant;
    let media = "camera+microphone";
    try {
      await local.enableCameraAndMicrophone();
    } catch (error) {
      console.warn("tiepdan join: camera and microphone", error);
      try {
        await local.setMicrophoneEnabled(true);
        media = "microphone";
        this.showNotice(TEXT.noCamera);
      } catch (micError) {
        console.warn("tiepdan join: microphone", micError);
        media = "none";
        this.showError(TEXT.noMicrophone);
      }
    }
    document.body.dataset.media = media;
    this.updateControls();
    this.updateTile(local);
  }

  async start() {
    this.listen();
    this.setState("connecting", TEXT.connecting);
    this.setControlsEnabled(false);
    this.updateRecording();
    try {
      await this.room.connect(this.config.livekitUrl, this.config.token);
    } catch (error) {
      this.fail(connectErrorMessage(error), error);
      return;
    }
    this.setControlsEnabled(true);
    this.updateRecording();
    this.updateAudioPlayback();
    this.renderGroups();
    // A central observer listens unseen and publishes nothing until the chair gives the floor.
    this.publishes = !setupSpeakRequests(this);
    if (this.publishes) await this.publishLocalMedia();
  }
}

function main() {
  let config;
  try {
    config = readConfig();
  } catch (error) {
    console.error("tiepdan join: configuration", error);
    document.body.dataset.state = "error";
    const element = $("error");
    element.textContent = TEXT.badConfig;
    element.hidden = false;
    return;
  }
  new JoinPage(config).start().catch((error) => {
    console.error("tiepdan join:", error);
    document.body.dataset.state = "error";
    const element = $("error");
    element.textContent = TEXT.connectFailed;
    element.hidden = false;
  });
}

main();
